// Electron smoke test: where an Electron binary exists, launch the built app and check its window.
// Here (no binary can be downloaded) it is skipped, and says why.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { _electron as electron } from 'playwright-core';
import { findElectronBinary } from '../../scripts/electron-binary.mjs';
import { root } from './harness.mjs';

const headless = process.platform === 'linux' && !process.env.DISPLAY && !process.env.WAYLAND_DISPLAY;
const found = findElectronBinary({ timeoutMs: 60_000 });
const binary = found.path && headless ? { path: null, reason: 'there is no display (DISPLAY/WAYLAND_DISPLAY unset; try xvfb-run)' } : found;

test('Electron app opens a hardened window with the start screen', { skip: binary.path ? false : `Electron smoke test skipped: ${binary.reason}` }, async () => {
  const userData = await mkdtemp(path.join(os.tmpdir(), 'labelloop-electron-'));
  const app = await electron.launch({
    executablePath: binary.path,
    args: [path.join(root, 'out/main/electron.js'), `--user-data-dir=${userData}`],
    env: { ...process.env, LABELLOOP_CONFIG_DIR: userData },
  });
  try {
    const window = await app.firstWindow();
    await window.waitForSelector('[data-test=open-demo]');
    assert.equal(await window.title(), 'LabelLoop');
    // The sandboxed renderer sees only the frozen API, never Node.
    assert.equal(await window.evaluate(() => typeof window.require), 'undefined');
    assert.equal(await window.evaluate(() => Object.isFrozen(window.api)), true);
    assert.equal(await window.evaluate(() => window.api.host), 'electron');
  } finally {
    await app.close();
    await rm(userData, { recursive: true, force: true });
  }
});
