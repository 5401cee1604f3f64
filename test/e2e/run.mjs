// Runs the browser and Electron end-to-end tests with node's test runner, one file at a time.
import { spawnSync } from 'node:child_process';
import path from 'node:path';

const here = import.meta.dirname;
const files = ['web.e2e.test.mjs', 'check.e2e.test.mjs', 'training.e2e.test.mjs', 'faces.e2e.test.mjs', 'cli.e2e.test.mjs', 'killServer.e2e.test.mjs', 'electron.e2e.test.mjs'].map((f) => path.join(here, f));
const result = spawnSync(process.execPath, ['--test', '--test-concurrency=1', ...files], { stdio: 'inherit' });
process.exit(result.status ?? 1);
