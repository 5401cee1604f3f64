// Web mode: the same LabelLoopApi over a WebSocket to the main-process services, plus two plain
// HTTP routes for image bytes (thumbnails) and uploads. The auth cookie rides along same-origin.
import type { Envelope, EventName, FaceImportSettings, FaceImportSummary, FacePredictSettings, ImportResult, LabelLoopApi, PredictionRow, RouteName, ThumbnailSize } from '../../../shared/contract';
import { ApiError, unwrap } from '../../../shared/envelope';
import { createListenerRegistry } from '../../../shared/listeners';

type Pending = { resolve: (value: unknown) => void; reject: (error: Error) => void };

export function createWebClient(origin: string = location.origin): LabelLoopApi {
  const wsUrl = `${origin.replace(/^http/, 'ws')}/ws`;
  const pending = new Map<number, Pending>();
  const listeners = createListenerRegistry();
  let nextId = 1;
  let socket: Promise<WebSocket> | null = null;

  const connect = (): Promise<WebSocket> => {
    socket ??= new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(wsUrl);
      ws.onopen = () => resolve(ws);
      ws.onerror = () => reject(new ApiError('disconnected', 'Cannot reach the LabelLoop server: is `npm run web` still running?'));
      ws.onclose = () => {
        socket = null;
        for (const call of pending.values()) call.reject(new ApiError('disconnected', 'The connection to the LabelLoop server was lost'));
        pending.clear();
      };
      ws.onmessage = (message) => {
        const data = JSON.parse(String(message.data)) as { id?: number; event?: string; payload?: unknown } & Envelope<unknown>;
        if (data.event) {
          listeners.dispatch(data.event, data.payload);
          return;
        }
        const call = data.id !== undefined ? pending.get(data.id) : undefined;
        if (!call || data.id === undefined) return;
        pending.delete(data.id);
        try {
          call.resolve(unwrap(data));
        } catch (error) {
          call.reject(error as Error);
        }
      };
    });
    socket.catch(() => {
      socket = null;
    });
    return socket;
  };

  const upload = async <T>(route: string, query: Record<string, string>, data: ArrayBuffer): Promise<T> => {
    const response = await fetch(`${origin}${route}?${new URLSearchParams(query)}`, { method: 'POST', body: data, credentials: 'same-origin' });
    return unwrap((await response.json()) as Envelope<T>);
  };

  return {
    host: 'web',
    async call(route: RouteName, input: unknown) {
      const ws = await connect();
      const id = nextId++;
      return new Promise<unknown>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, route, input }));
      });
    },
    on(event: EventName, listener: (payload: never) => void) {
      void connect().catch(() => undefined);
      return listeners.add(event, listener);
    },
    imageUrl(path: string, version: string, size: ThumbnailSize) {
      return `${origin}/image?path=${encodeURIComponent(path)}&size=${size}&v=${encodeURIComponent(version)}`;
    },
    async importFile(className: string | null, name: string, data: ArrayBuffer) {
      return upload<ImportResult>('/import', { name, ...(className ? { class: className } : {}) }, data);
    },
    async importFaces(className: string | null, settings: FaceImportSettings, name: string, data: ArrayBuffer) {
      return upload<FaceImportSummary>('/import-faces', { name, settings: JSON.stringify(settings), ...(className ? { class: className } : {}) }, data);
    },
    async predictFaces(sessionId: string, settings: FacePredictSettings, name: string, data: ArrayBuffer) {
      return upload<PredictionRow[]>('/predict-faces', { name, session: sessionId, settings: JSON.stringify(settings) }, data);
    },
    async predictFile(sessionId: string, name: string, data: ArrayBuffer) {
      return upload<PredictionRow>('/predict', { name, session: sessionId }, data);
    },
    exportDownloadUrl(runId: string) {
      return `${origin}/export.zip?${new URLSearchParams({ run: runId })}`;
    },
  } as LabelLoopApi;
}
