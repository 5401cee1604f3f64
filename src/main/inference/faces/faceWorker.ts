// The window's face import detects and crops in the compute worker (out/main/worker.js), started
// on the first photo and kept for the process, so the window's process never waits on the
// detector; tests without a built worker crop in this thread.
import { Worker } from 'node:worker_threads';
import { UndecodableImage } from '../../project/imageDecode';
import { loadFaceDetector } from './detector';
import { type CropSettings, facesOfPhoto, type PhotoFaces } from './importFaces';

export interface FaceCropper {
  /** A photo's faces, cut out; rejects with UndecodableImage (its reason) for what is no photo. */
  crop(bytes: Uint8Array, settings: CropSettings): Promise<PhotoFaces>;
  dispose(): Promise<void>;
}

type Reply = { type: 'ready' } | { type: 'cropped'; id: number; faces: PhotoFaces } | { type: 'failed'; id: number; message: string; undecodable: boolean };

export function faceCropper(workerFile?: string): FaceCropper {
  if (!workerFile) {
    return { crop: async (bytes, settings) => facesOfPhoto(await loadFaceDetector(), bytes, settings), dispose: async () => undefined };
  }
  // Requests wait for the worker's "ready": a message sent before it listens would be lost.
  // Each worker keeps its own waiting requests, so the end of a dead one fails only its own.
  type Running = { thread: Worker; ready: Promise<void>; waiting: Map<number, { resolve: (faces: PhotoFaces) => void; reject: (error: Error) => void }> };
  let worker: Running | null = null;
  let nextId = 1;
  const start = (): Running => {
    const started = new Worker(workerFile, { workerData: { kind: 'faces' } });
    const waiting: Running['waiting'] = new Map();
    let markReady: () => void = () => undefined;
    let markFailed: (error: Error) => void = () => undefined;
    const ready = new Promise<void>((resolve, reject) => {
      markReady = resolve;
      markFailed = reject;
    });
    ready.catch(() => undefined); // a worker that dies before it is ready fails the waiting crop instead
    started.on('message', (reply: Reply) => {
      if (reply.type === 'ready') return markReady();
      const call = waiting.get(reply.id);
      waiting.delete(reply.id);
      if (reply.type === 'cropped') call?.resolve(reply.faces);
      else call?.reject(reply.undecodable ? new UndecodableImage(reply.message) : new Error(reply.message));
    });
    // 'error' is followed by 'exit': by then a newer worker may serve, and it must be kept.
    const fail = (error: Error) => {
      if (worker?.thread === started) worker = null;
      markFailed(error);
      for (const call of waiting.values()) call.reject(error);
      waiting.clear();
    };
    started.on('error', fail);
    started.on('exit', (code) => fail(new Error(`The face detector's worker stopped (exit code ${code})`)));
    return { thread: started, ready, waiting };
  };
  return {
    async crop(bytes, settings) {
      worker ??= start();
      const running = worker;
      await running.ready;
      const id = nextId++;
      return new Promise((resolve, reject) => {
        running.waiting.set(id, { resolve, reject });
        running.thread.postMessage({ type: 'crop', id, bytes, settings });
      });
    },
    async dispose() {
      const stopping = worker;
      worker = null;
      await stopping?.thread.terminate();
    },
  };
}

/** The worker's side: one detector, requests answered one after another. */
export function serveFaceCrops(port: { on(event: 'message', listener: (message: unknown) => void): void; postMessage(message: Reply): void }): void {
  let queue = Promise.resolve();
  port.on('message', (message) => {
    const request = message as { type?: string; id: number; bytes: Uint8Array; settings: CropSettings };
    if (request.type !== 'crop') return;
    queue = queue.then(async () => {
      try {
        port.postMessage({ type: 'cropped', id: request.id, faces: await facesOfPhoto(await loadFaceDetector(), request.bytes, request.settings) });
      } catch (error) {
        port.postMessage({ type: 'failed', id: request.id, message: error instanceof Error ? error.message : String(error), undecodable: error instanceof UndecodableImage });
      }
    });
  });
  port.postMessage({ type: 'ready' });
}
