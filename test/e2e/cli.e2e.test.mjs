// The headless CLI as a user runs it: a short training run with a JSON report, and clear
// non-zero exits on projects that cannot train.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { requireBuild, root } from './harness.mjs';

const cli = (...args) => spawnSync(process.execPath, [path.join(root, 'out/main/cli.js'), ...args], { encoding: 'utf8', timeout: 240_000 });
let dir;

before(async () => {
  requireBuild();
  dir = await mkdtemp(path.join(os.tmpdir(), 'labelloop-cli-'));
});
after(() => rm(dir, { recursive: true, force: true }));

test('demo + train write a report with every field the README names', async () => {
  const project = path.join(dir, 'faces');
  assert.equal(cli('demo', project, '--per-class', '30', '--size', '96').status, 0);
  const reportFile = path.join(dir, 'report.json');
  const run = cli('train', project, '--epochs', '3', '--input-size', '96', '--backend', 'wasm', '--report', reportFile);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout, /epoch 3: loss/);
  assert.match(run.stdout, /backend: wasm/);
  const report = JSON.parse(await readFile(reportFile, 'utf8'));
  for (const key of ['backend', 'classes', 'counts', 'epochs', 'valAccuracy', 'confusion', 'perClass', 'samples', 'timing']) assert.ok(key in report, `report.${key}`);
  assert.deepEqual(report.classes, ['NG', 'OK']);
  assert.deepEqual(Object.keys(report.samples[0]).sort(), ['label', 'likelyMislabeled', 'mislabelScore', 'path', 'predicted', 'probabilities', 'split', 'suggestedLabel']);
  for (const key of ['totalSeconds', 'embedSeconds', 'trainSeconds', 'imagesPerSecond']) assert.equal(typeof report.timing[key], 'number');
});

test('bad projects exit non-zero with a clear message', async () => {
  const missing = cli('train', path.join(dir, 'nope'));
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /the folder does not exist/);
  const single = path.join(dir, 'single');
  await mkdir(path.join(single, 'OK'), { recursive: true });
  await writeFile(path.join(single, 'OK', 'a.jpg'), await readFile(path.join(dir, 'faces/OK/ok_0001.jpg')));
  assert.match(cli('train', single).stderr, /Only one class/);
  await mkdir(path.join(single, 'NG'));
  const empty = cli('train', single);
  assert.equal(empty.status, 1);
  assert.match(empty.stderr, /Class "NG" has no readable images/);
  assert.match(cli('train', single, '--optimizer', 'adagrad').stderr, /Invalid option optimizer/);
});
