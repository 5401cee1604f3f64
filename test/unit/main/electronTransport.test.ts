// The Electron transports cannot run here (no Electron binary), so their logic is checked against
// a stand-in for the electron module: sender validation, input checks and the frozen window.api.
import { beforeEach, describe, expect, it, vi } from 'vitest';

const handlers = new Map<string, (...args: unknown[]) => unknown>();
const exposed: Record<string, unknown> = {};
const invoke = vi.fn();
const sent: unknown[][] = [];

vi.mock('electron', () => ({
  ipcMain: {
    handle: (channel: string, fn: (...args: unknown[]) => unknown) => handlers.set(channel, fn),
    removeHandler: (channel: string) => handlers.delete(channel),
  },
  BrowserWindow: { getAllWindows: () => [{ webContents: { send: (...args: unknown[]) => sent.push(args) } }] },
  contextBridge: { exposeInMainWorld: (key: string, value: unknown) => (exposed[key] = value) },
  ipcRenderer: { invoke, on: vi.fn() },
}));

const appUrl = 'file:///app/out/renderer/index.html';
const frame = (url: string, parent: unknown = null) => ({ senderFrame: { url, parent } });

describe('Electron main-side transport', () => {
  beforeEach(() => handlers.clear());

  it('forwards calls from the app window only, and validates uploads', async () => {
    const { registerIpc } = await import('../../../src/main/electron/ipc');
    const { EventBus } = await import('../../../src/main/common/events');
    const events = new EventBus();
    const core = {
      events,
      handle: vi.fn(async () => ({ ok: true, result: 'handled' })),
      importFile: vi.fn(async () => ({ imported: ['NG/x.jpg'], duplicates: [], rejected: [] })),
      predictFile: vi.fn(async () => {
        throw new Error('This prediction session is closed');
      }),
    };
    const unregister = registerIpc(core as never, (url) => url === appUrl);
    const call = handlers.get('labelloop:call');
    const importFile = handlers.get('labelloop:import');
    if (!call || !importFile) throw new Error('handlers not registered');

    expect(await call(frame(appUrl), 'dataset.scan', {})).toEqual({ ok: true, result: 'handled' });
    expect(await call(frame('https://evil.example/'), 'dataset.scan', {})).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await call(frame(appUrl, { url: appUrl }), 'dataset.scan', {})).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await call({ senderFrame: null }, 'dataset.scan', {})).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(core.handle).toHaveBeenCalledTimes(1);

    expect(await importFile(frame(appUrl), 'NG', 'x.jpg', 'not bytes')).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await importFile(frame(appUrl), 'NG', 'x.jpg', new Uint8Array([1]))).toMatchObject({ ok: true });

    const predictFile = handlers.get('labelloop:predict');
    expect(await predictFile?.(frame('https://evil.example/'), 's1', 'x.jpg', new Uint8Array([1]))).toMatchObject({ ok: false, error: { code: 'forbidden' } });
    expect(await predictFile?.(frame(appUrl), null, 'x.jpg', new Uint8Array([1]))).toMatchObject({ ok: false, error: { code: 'invalid-input' } });
    expect(await predictFile?.(frame(appUrl), 's1', 'x.jpg', new Uint8Array([1]))).toMatchObject({ ok: false, error: { code: 'predict-failed', message: /session is closed/ } });
    expect(core.predictFile).toHaveBeenCalledWith('s1', 'x.jpg', new Uint8Array([1]));

    events.emit('thumbnails.progress', { done: 1, total: 2, unreadable: 0 });
    expect(sent.at(-1)).toEqual(['labelloop:event', 'thumbnails.progress', { done: 1, total: 2, unreadable: 0 }]);
    unregister();
    expect(handlers.size).toBe(0);
  });
});

describe('Electron preload', () => {
  it('exposes one frozen window.api that checks route names and unwraps envelopes', async () => {
    await import('../../../src/preload/index');
    const api = exposed.api as import('../../../src/shared/contract').LabelLoopApi;
    expect(Object.isFrozen(api)).toBe(true);
    expect(api.host).toBe('electron');
    await expect(api.call('fs.readFile' as never, {} as never)).rejects.toThrow(/Unknown route/);
    invoke.mockResolvedValueOnce({ ok: false, error: { code: 'no-project', message: 'No project is open' } });
    await expect(api.call('dataset.scan', {})).rejects.toThrow('No project is open');
    invoke.mockResolvedValueOnce({ ok: true, result: { closed: true } });
    expect(await api.call('project.close', {})).toEqual({ closed: true });
    expect(api.imageUrl('OK/a b.jpg', 'v1', 'thumb')).toBe('labelloop://image/?path=OK%2Fa%20b.jpg&size=thumb&v=v1');
    expect(() => api.on('fs.changed' as never, () => undefined)).toThrow(/Unknown event/);
    invoke.mockResolvedValueOnce({ ok: true, result: { name: 'a.jpg', predicted: 'OK' } });
    expect(await api.predictFile('s1', 'a.jpg', new Uint8Array([7]).buffer)).toEqual({ name: 'a.jpg', predicted: 'OK' });
    expect(invoke).toHaveBeenLastCalledWith('labelloop:predict', 's1', 'a.jpg', new Uint8Array([7]));
  });
});
