// Where the Electron binary is, or why there is none. Electron >= 42 fetches its binary on first use,
// which fails on an offline machine: callers fall back to web mode (or skip) and say why.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

export function findElectronBinary({ timeoutMs = 120_000 } = {}) {
  let packageDir;
  try {
    packageDir = require.resolve('electron/package.json').replace(/package\.json$/, '');
  } catch {
    return { path: null, reason: 'the electron package is not installed (run npm install)' };
  }
  const probe = spawnSync(process.execPath, ['-e', 'process.stdout.write(require(process.argv[1]))', packageDir], {
    encoding: 'utf8',
    timeout: timeoutMs,
  });
  const binary = probe.stdout?.trim();
  if (probe.status === 0 && binary && existsSync(binary)) return { path: binary, reason: null };
  const lines = (probe.stderr || probe.error?.message || '').split('\n').map((l) => l.trim());
  const detail = lines.find((l) => /fetch failed|ENOTFOUND|ECONNREFUSED|ETIMEDOUT/.test(l)) ?? lines.find((l) => l.startsWith('Error:')) ?? 'unknown error';
  return { path: null, reason: `the Electron binary could not be downloaded or found (${detail})` };
}
