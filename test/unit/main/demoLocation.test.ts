import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LabelLoopApp } from '../../../src/main/app';
import { tempDir } from '../../helpers/fixtures';

describe('where the demo project lives', () => {
  let dir: string;
  let cleanup: () => Promise<void>;
  let app: LabelLoopApp;

  beforeEach(async () => {
    ({ dir, cleanup } = await tempDir());
    app = new LabelLoopApp({ host: 'web', version: 'test', configDir: path.join(dir, 'config'), projectOptions: { watchIntervalMs: 0, backgroundValidation: false } });
  });
  afterEach(async () => {
    await app.dispose();
    await cleanup();
  });

  it('app.info names the folder that Open demo project makes and opens', async () => {
    const info = await app.handle('app.info', {});
    expect(info).toMatchObject({ ok: true, result: { demoProject: path.join(dir, 'config', 'demo-project') } });
    const opened = await app.handle('project.openDemo', {});
    expect(opened).toMatchObject({ ok: true, result: { root: path.join(dir, 'config', 'demo-project') } });
  });
});
