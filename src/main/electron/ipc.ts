// Electron transport, main side: the only file that touches ipcMain. Every call is checked to come
// from our own window's top frame before it reaches LabelLoopApp, which validates the input itself.
import { BrowserWindow, ipcMain, type IpcMainInvokeEvent } from 'electron';
import type { Envelope } from '../../shared/contract';
import type { LabelLoopApp } from '../app';

export const CHANNELS = { call: 'labelloop:call', importFile: 'labelloop:import', event: 'labelloop:event' } as const;

export function registerIpc(core: LabelLoopApp, isTrustedUrl: (url: string) => boolean): () => void {
  const trusted = (event: IpcMainInvokeEvent) => {
    const frame = event.senderFrame;
    return frame !== null && frame.parent === null && isTrustedUrl(frame.url);
  };
  const refused: Envelope<never> = { ok: false, error: { code: 'forbidden', message: 'Call refused: it did not come from the LabelLoop window' } };

  ipcMain.handle(CHANNELS.call, (event, route: unknown, input: unknown) => (trusted(event) ? core.handle(route, input) : refused));
  ipcMain.handle(CHANNELS.importFile, async (event, className: unknown, name: unknown, data: unknown): Promise<Envelope<unknown>> => {
    if (!trusted(event)) return refused;
    if ((className !== null && typeof className !== 'string') || typeof name !== 'string' || !(data instanceof Uint8Array)) {
      return { ok: false, error: { code: 'invalid-input', message: 'Import needs a class, a file name and the file bytes' } };
    }
    try {
      return { ok: true, result: await core.importFile(className, name, data) };
    } catch (error) {
      return { ok: false, error: { code: 'import-failed', message: error instanceof Error ? error.message : String(error) } };
    }
  });
  const unsubscribe = core.events.subscribe((name, payload) => {
    for (const window of BrowserWindow.getAllWindows()) window.webContents.send(CHANNELS.event, name, payload);
  });
  return () => {
    unsubscribe();
    ipcMain.removeHandler(CHANNELS.call);
    ipcMain.removeHandler(CHANNELS.importFile);
  };
}
