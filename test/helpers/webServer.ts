// One web-mode server over a generated project, as the server tests and the fuzz need it.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LabelLoopApp } from '../../src/main/app';
import { startWebServer, type WebServer } from '../../src/main/web/server';
import { makeProject } from './fixtures';

export interface TestServer {
  app: LabelLoopApp;
  server: WebServer;
  /** The auth cookie a browser would hold for this server. */
  cookie: string;
  close(): Promise<void>;
}

/** A project at `dir/project`, a stand-in renderer at `dir/renderer`, the app with the project open and its server. */
export async function startTestServer(dir: string): Promise<TestServer> {
  await makeProject(path.join(dir, 'project'));
  await mkdir(path.join(dir, 'renderer'));
  await writeFile(path.join(dir, 'renderer/index.html'), '<h1>app</h1>');
  const app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
  await app.handle('project.open', { path: path.join(dir, 'project') });
  const server = await startWebServer({ app, rendererDir: path.join(dir, 'renderer') });
  return {
    app,
    server,
    cookie: `labelloop_token_${server.port}=${server.token}`,
    close: async () => {
      await server.close();
      await app.dispose();
    },
  };
}
