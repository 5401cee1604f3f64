#!/usr/bin/env node
// Runs the built CLI, building it first on a fresh checkout.
import { existsSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import path from 'node:path';

const root = path.resolve(import.meta.dirname, '..');
const cli = path.join(root, 'out/main/cli.js');
if (!existsSync(cli)) {
  console.error('labelloop: building the app once (electron-vite build)…');
  execFileSync(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], { cwd: root, stdio: 'inherit' });
}
await import(cli);
