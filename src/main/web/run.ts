// Web mode: serve the app to a browser on this machine (or through an SSH tunnel to a GPU box).
import path from 'node:path';
import { LabelLoopApp, defaultConfigDir } from '../app';
import { startWebServer } from './server';
import { appVersion, parseFlags } from '../cli/flags';

/** `mainDir` is out/main: the renderer and the training worker are found from there. */
export async function runWebMode(argv: string[], mainDir: string): Promise<void> {
  const { values: flags } = parseFlags(argv, { port: 'number', project: 'string', token: 'string' });
  const app = new LabelLoopApp({ host: 'web', version: appVersion, configDir: defaultConfigDir(), workerFile: path.join(mainDir, 'worker.js') });
  if (flags.project) {
    const opened = await app.handle('project.open', { path: path.resolve(flags.project) });
    if (!opened.ok) throw new Error(opened.error.message);
  }
  const server = await startWebServer({
    app,
    rendererDir: path.join(mainDir, '../renderer'),
    port: flags.port ?? 0,
    token: flags.token,
  });
  console.log(`LabelLoop web mode is listening on 127.0.0.1 only.\nOpen this URL (it carries this launch's token):\n\n    ${server.url}\n`);
  const stop = async () => {
    await server.close();
    await app.dispose();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

