// The desktop app: a thin, hardened Electron shell around LabelLoopApp.
import { app, BrowserWindow, dialog, net, protocol, session } from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { LabelLoopApp } from '../app';
import { appVersion } from '../cli/flags';
import { UserError } from '../common/errors';
import { registerIpc } from './ipc';

// Images reach the renderer through labelloop://image/?path=…, answered only for the open project.
protocol.registerSchemesAsPrivileged([{ scheme: 'labelloop', privileges: { standard: true, secure: true, supportFetchAPI: true } }]);

const rendererFile = path.join(import.meta.dirname, '../renderer/index.html');
const devUrl = process.env.ELECTRON_RENDERER_URL;
const appUrl = devUrl ?? pathToFileURL(rendererFile).href;
const isTrustedUrl = (url: string) => url.split(/[?#]/)[0] === appUrl.split(/[?#]/)[0] || (devUrl !== undefined && url.startsWith(devUrl));

async function start(): Promise<void> {
  await app.whenReady();
  let window: BrowserWindow | null = null;
  const core = new LabelLoopApp({
    host: 'electron',
    version: appVersion,
    configDir: app.getPath('userData'),
    workerFile: path.join(import.meta.dirname, 'worker.js'),
    pickFolder: async () => {
      const options = { title: 'Open a project folder', properties: ['openDirectory', 'createDirectory'] as ('openDirectory' | 'createDirectory')[] };
      const result = window ? await dialog.showOpenDialog(window, options) : await dialog.showOpenDialog(options);
      return result.canceled ? null : (result.filePaths[0] ?? null);
    },
  });

  protocol.handle('labelloop', async (request) => {
    const url = new URL(request.url);
    try {
      const probe = await core.image(url.searchParams.get('path') ?? '', url.searchParams.get('size') === 'large' ? 'large' : 'thumb');
      if (!probe.ok) return new Response(probe.problem, { status: 422 });
      if ('webp' in probe) return new Response(new Uint8Array(probe.webp), { headers: { 'Content-Type': 'image/webp' } });
      return net.fetch(pathToFileURL(probe.file).href);
    } catch (error) {
      const status = error instanceof UserError && error.code === 'outside-project' ? 403 : 404;
      return new Response(error instanceof Error ? error.message : 'Not found', { status });
    }
  });
  // No page of ours asks for the camera, notifications or anything else.
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  const unregister = registerIpc(core, isTrustedUrl);

  window = new BrowserWindow({
    width: 1320,
    height: 880,
    title: 'LabelLoop',
    backgroundColor: '#15171c',
    icon: path.join(import.meta.dirname, '../../resources/icon.png'),
    webPreferences: {
      preload: path.join(import.meta.dirname, '../preload/index.cjs'),
      contextIsolation: true,
      nodeIntegration: false,
      sandbox: true,
      webSecurity: true,
    },
  });
  window.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  window.webContents.on('will-navigate', (event, url) => {
    if (!isTrustedUrl(url)) event.preventDefault();
  });
  if (devUrl) await window.loadURL(devUrl);
  else await window.loadFile(rendererFile);

  app.on('window-all-closed', () => {
    unregister();
    void core.dispose().finally(() => app.quit());
  });
}

start().catch((error: unknown) => {
  console.error('LabelLoop failed to start:', error);
  app.exit(1);
});
