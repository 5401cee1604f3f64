// Electron transport, main side: the only file that touches ipcMain. Every call is checked to come
// from our own window's top frame before it reaches LabelLoopApp, which validates the input itself.
import { BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron';
import type { Envelope } from '../../shared/contract';
import type { LabelLoopApp } from '../app';

export const CHANNELS = { call: 'labelloop:call', importFile: 'labelloop:import', importFaces: 'labelloop:importFaces', predictFile: 'labelloop:predict', predictFaces: 'labelloop:predictFaces', event: 'labelloop:event' } as const;

export function registerIpc(core: LabelLoopApp, isTrustedUrl: (url: string) => boolean): () => void {
  const trusted = (event: IpcMainInvokeEvent) => {
    const frame = event.senderFrame;
    return frame !== null && frame.parent === null && isTrustedUrl(frame.url);
  };
  const refused: Envelope<never> = { ok: false, error: { code: 'forbidden', message: 'Call refused: it did not come from the LabelLoop window' } };

  ipcMain.handle(CHANNELS.call, (event, route: unknown, input: unknown) => (trusted(event) ? core.handle(route, input) : refused));
  /** File bytes sent with a target (a class, or a prediction session) and the file's name. */
  const upload = (channel: string, target: 'class' | 'session', use: (target: string | null, name: string, data: Uint8Array) => Promise<unknown>) =>
    ipcMain.handle(channel, async (event, to: unknown, name: unknown, data: unknown): Promise<Envelope<unknown>> => {
      if (!trusted(event)) return refused;
      const validTarget = target === 'class' ? to === null || typeof to === 'string' : typeof to === 'string';
      if (!validTarget || typeof name !== 'string' || !(data instanceof Uint8Array)) {
        return { ok: false, error: { code: 'invalid-input', message: `Uploads need a ${target}, a file name and the file bytes` } };
      }
      try {
        return { ok: true, result: await use(to as string | null, name, data) };
      } catch (error) {
        return { ok: false, error: { code: `${target === 'class' ? 'import' : 'predict'}-failed`, message: error instanceof Error ? error.message : String(error) } };
      }
    });
  upload(CHANNELS.importFile, 'class', (className, name, data) => core.importFile(className, name, data));
  upload(CHANNELS.predictFile, 'session', (sessionId, name, data) => core.predictFile(sessionId as string, name, data));
  /** A photo to cut into faces: its target (a class or none; a session) and settings first (the app validates the settings). */
  const facesUpload = (channel: string, target: 'class' | 'session', use: (target: string | null, settings: unknown, name: string, data: Uint8Array) => Promise<unknown>) =>
    ipcMain.handle(channel, async (event, to: unknown, settings: unknown, name: unknown, data: unknown): Promise<Envelope<unknown>> => {
      if (!trusted(event)) return refused;
      const validTarget = target === 'class' ? to === null || typeof to === 'string' : typeof to === 'string';
      if (!validTarget || typeof name !== 'string' || !(data instanceof Uint8Array)) {
        return { ok: false, error: { code: 'invalid-input', message: `Photos for faces need a ${target}, settings, a file name and the file bytes` } };
      }
      try {
        return { ok: true, result: await use(to as string | null, settings, name, data) };
      } catch (error) {
        return { ok: false, error: { code: `${target === 'class' ? 'import' : 'predict'}-failed`, message: error instanceof Error ? error.message : String(error) } };
      }
    });
  facesUpload(CHANNELS.importFaces, 'class', (className, settings, name, data) => core.importFaces(className, settings, name, data));
  facesUpload(CHANNELS.predictFaces, 'session', (sessionId, settings, name, data) => core.predictFaces(sessionId as string, settings, name, data));
  const unsubscribe = core.events.subscribe((name, payload) => {
    for (const window of BrowserWindow.getAllWindows()) window.webContents.send(CHANNELS.event, name, payload);
  });
  return () => {
    unsubscribe();
    ipcMain.removeHandler(CHANNELS.call);
    ipcMain.removeHandler(CHANNELS.importFile);
    ipcMain.removeHandler(CHANNELS.importFaces);
    ipcMain.removeHandler(CHANNELS.predictFaces);
    ipcMain.removeHandler(CHANNELS.predictFile);
  };
}
