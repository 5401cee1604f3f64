// The headless CLI as a user runs it: a short training run with a JSON report, and clear
// non-zero exits on projects that cannot train.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
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
  // Said before the run starts: what runs the backbone and what trains, and why no GPU.
  assert.match(run.stdout.split('\n')[0], /^Backbone: ONNX Runtime \(CPU, \d+ threads?\) · Training: TensorFlow\.js, WebAssembly \(CPU\)$/);
  assert.match(run.stdout, /ONNX Runtime CUDA not used: its CUDA provider is not installed/);
  // The demo faces are in colour: the CNN branch is not tried, and the run says why.
  assert.match(run.stdout, /CNN branch: not tried: 0% of the train images are grayscale/);
  const report = JSON.parse(await readFile(reportFile, 'utf8'));
  for (const key of ['backend', 'classes', 'counts', 'epochs', 'valAccuracy', 'confusion', 'perClass', 'samples', 'timing']) assert.ok(key in report, `report.${key}`);
  assert.deepEqual(report.classes, ['NG', 'OK']);
  assert.deepEqual(Object.keys(report.samples[0]).sort(), ['hash', 'label', 'likelyMislabeled', 'mislabelScore', 'path', 'predicted', 'probabilities', 'split', 'suggestedLabel']);
  for (const key of ['totalSeconds', 'embedSeconds', 'trainSeconds', 'imagesPerSecond']) assert.equal(typeof report.timing[key], 'number');
});

test('check: an exact copy added to the demo is reported in words and in the JSON report', async () => {
  const project = path.join(dir, 'faces');
  const [first] = (await readdir(path.join(project, 'OK'))).filter((n) => n.endsWith('.jpg')).sort();
  await copyFile(path.join(project, 'OK', first), path.join(project, 'NG', `copy-of-${first}`));
  const reportFile = path.join(dir, 'check.json');
  const run = cli('check', project, '--report', reportFile);
  assert.equal(run.status, 0, run.stderr);
  assert.match(run.stdout.split('\n')[0], /^61 image\(s\): 1 group\(s\) of exact duplicates, \d+ of near-duplicates, \d+ across the split \(leaks\), \d+ under different labels \(conflicts\), \d+ quality outlier\(s\), 0 unreadable$/);
  assert.ok(run.stdout.includes(`exact duplicates: NG/copy-of-${first}, OK/${first}`), run.stdout);
  const report = JSON.parse(await readFile(reportFile, 'utf8'));
  assert.deepEqual(Object.keys(report).sort(), ['conflicts', 'duplicates', 'images', 'issues', 'leaks', 'unreadable']);
  assert.deepEqual(report.conflicts.find((c) => c.paths.includes(`OK/${first}`))?.labels.sort(), ['NG', 'OK']);
  await rm(path.join(project, 'NG', `copy-of-${first}`));
});

test('export a run, then predict a folder to CSV with it (and from the run folder or its id directly)', async () => {
  const runsDir = path.join(dir, 'faces/.labelloop/runs');
  const [runId] = await readdir(runsDir);
  const out = path.join(dir, 'export');
  const exported = cli('export', path.join(runsDir, runId), out);
  assert.equal(exported.status, 0, exported.stderr);
  for (const file of ['model.json', 'weights.bin', 'model.onnx', 'predict-faces.mjs', 'labels.json', 'preprocessing.json', 'README.md']) assert.ok(existsSync(path.join(out, file)), file);
  const inbox = path.join(dir, 'inbox');
  await mkdir(inbox);
  for (const name of ['ok_0001.jpg', 'ok_0002.jpg']) await copyFile(path.join(dir, 'faces/OK', name), path.join(inbox, name));
  await writeFile(path.join(inbox, 'broken.jpg'), 'not an image');
  const csvFile = path.join(dir, 'predictions.csv');
  const run = cli('predict', out, inbox, '--csv', csvFile);
  assert.equal(run.status, 2, 'a file that cannot be read makes the exit code 2');
  const lines = (await readFile(csvFile, 'utf8')).trim().split('\n');
  assert.equal(lines[0], 'file,predicted,p_NG,p_OK,error');
  assert.equal(lines.length, 4);
  assert.match(lines.find((l) => l.includes('broken.jpg')), /Not an image|unsupported|damaged/i);
  assert.match(run.stderr, /^Model: ONNX Runtime \(CPU, \d+ threads?\)$/m, 'the export predicts on ONNX Runtime (its model.onnx)');
  const fromRun = cli('predict', path.join(runsDir, runId), path.join(inbox, 'ok_0001.jpg'));
  assert.equal(fromRun.status, 0, fromRun.stderr);
  assert.match(fromRun.stderr, /^Model: ONNX Runtime/m);
  const exportedRow = lines.find((l) => l.includes('ok_0001.jpg')).split(',').slice(1, 4);
  assert.deepEqual(fromRun.stdout.trim().split('\n')[1].split(',').slice(1, 4), exportedRow, 'same predictions from the export and from the run');
  // The TF.js model in the export gives the same probabilities (the CSV has 4 decimals).
  const onTfjs = cli('predict', out, path.join(inbox, 'ok_0001.jpg'), '--engine', 'tfjs');
  assert.equal(onTfjs.status, 0, onTfjs.stderr);
  assert.match(onTfjs.stderr, /^Model: TensorFlow\.js \(wasm\)$/m);
  const tfjsRow = onTfjs.stdout.trim().split('\n')[1].split(',');
  assert.equal(tfjsRow[1], exportedRow[0]);
  for (const k of [2, 3]) assert.ok(Math.abs(Number(tfjsRow[k]) - Number(exportedRow[k - 1])) <= 1.5e-4, `p column ${k}: ${tfjsRow[k]} vs ${exportedRow[k - 1]}`);
  assert.match(cli('predict', out, inbox, '--engine', 'gpu').stderr, /Invalid option engine: expected one of auto, onnx, onnx-cuda, onnx-webgpu, tfjs/);
  // A run id names a run of the project (--project, or the current folder).
  const byId = cli('predict', runId, path.join(inbox, 'ok_0001.jpg'), '--project', path.join(dir, 'faces'));
  assert.equal(byId.status, 0, byId.stderr);
  assert.deepEqual(byId.stdout.trim().split('\n')[1].split(',').slice(1, 4), exportedRow, 'same predictions by run id');
  const unknown = cli('predict', '20990101-000000-abcd', inbox, '--project', path.join(dir, 'faces'));
  assert.equal(unknown.status, 1);
  assert.match(unknown.stderr, /No trained run 20990101-000000-abcd/);
});

test('explain: an overlay PNG per image and heatmaps.json, for the predicted class or the one asked for', async () => {
  const runsDir = path.join(dir, 'faces/.labelloop/runs');
  const [runId] = await readdir(runsDir);
  const out = path.join(dir, 'heatmaps');
  const run = cli('explain', path.join(runsDir, runId), path.join(dir, 'inbox'), '--out', out);
  assert.equal(run.status, 2, 'the broken file makes the exit code 2');
  assert.match(run.stdout, /^2 heatmap\(s\) of class activation maps \(the head on the last feature maps\), scaled across the images, written to /m);
  assert.match(run.stderr, /^unreadable: .*broken\.jpg: /m);
  const entries = JSON.parse(await readFile(path.join(out, 'heatmaps.json'), 'utf8'));
  assert.equal(entries.length, 2);
  for (const entry of entries) {
    assert.deepEqual(Object.keys(entry).sort(), ['class', 'file', 'grid', 'height', 'predicted', 'width']);
    assert.equal(entry.class, entry.predicted);
    assert.ok(entry.grid.length >= 3 && entry.grid.every((row) => row.length === entry.grid[0].length && row.every((v) => v >= 0 && v <= 1)));
    const png = await readFile(path.join(out, `${path.basename(entry.file, '.jpg')}.heatmap.png`));
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
  }
  // Scaled across the images: the hottest cell of all is 1, and only there.
  assert.equal(Math.max(...entries.flatMap((e) => e.grid.flat())), 1);
  const asked = cli('explain', path.join(runsDir, runId), path.join(dir, 'inbox/ok_0001.jpg'), '--out', out, '--class', 'NG', '--per-image-scale');
  assert.equal(asked.status, 0, asked.stderr);
  assert.equal(JSON.parse(await readFile(path.join(out, 'heatmaps.json'), 'utf8'))[0].class, 'NG');
  const wrong = cli('explain', path.join(runsDir, runId), path.join(dir, 'inbox/ok_0001.jpg'), '--out', out, '--class', 'cat');
  assert.equal(wrong.status, 1);
  assert.match(wrong.stderr, /The model has no class "cat" \(its classes: NG, OK\)/);
  assert.match(cli('explain', path.join(runsDir, runId), path.join(dir, 'inbox')).stderr, /explain needs --out DIR/);
});

test('faces: crop every face of real photos into the project, then predict per face to CSV and annotated copies', async () => {
  const demo = path.join(root, 'node_modules/@vladmandic/face-api/demo');
  const project = path.join(dir, 'faces');
  const imported = cli('faces', path.join(demo, 'sample1.jpg'), path.join(demo, 'sample4.jpg'), '--into', project);
  assert.equal(imported.status, 0, imported.stderr);
  assert.match(imported.stdout, /^2 photo\(s\): 7 face\(s\) found, 7 crop\(s\) saved, 0 duplicate\(s\) skipped, 0 too small, 0 photo\(s\) without a face, 0 unreadable$/m);
  assert.ok(existsSync(path.join(project, 'sample4__face4.jpg')), 'crops land in the project root: unlabeled');
  assert.equal((await readFile(path.join(project, '.labelloop/faces.jsonl'), 'utf8')).trim().split('\n').length, 7);
  const noClass = cli('faces', path.join(demo, 'sample1.jpg'), '--into', project, '--class', 'Masked');
  assert.equal(noClass.status, 1);
  assert.match(noClass.stderr, /There is no class "Masked"/);
  assert.match(cli('faces', path.join(demo, 'sample1.jpg'), '--into', project, '--margin', '-1').stderr, /--margin must lie between 0 and 2/);

  const out = path.join(dir, 'export');
  const csvFile = path.join(dir, 'faces.csv');
  const annotated = path.join(dir, 'annotated');
  const run = cli('predict', out, path.join(demo, 'sample4.jpg'), path.join(demo, 'sample1.jpg'), '--faces', '--csv', csvFile, '--annotate', annotated);
  assert.equal(run.status, 0, run.stderr);
  const lines = (await readFile(csvFile, 'utf8')).trim().split('\n');
  assert.equal(lines[0], 'file,face,x,y,width,height,score,predicted,p_NG,p_OK,error');
  assert.equal(lines.length, 1 + 3 + 4);
  assert.match(run.stderr, /2 photo\(s\), 7 face\(s\)/);
  for (const line of lines.slice(1)) assert.match(line, /,\d+,\d+,\d+,\d+,\d+,0\.\d{4},(NG|OK),[\d.]+,[\d.]+,$/);
  assert.deepEqual((await readdir(annotated)).sort(), ['sample1.jpg', 'sample4.jpg']);
  assert.match(cli('predict', out, path.join(demo, 'sample4.jpg'), '--annotate', annotated).stderr, /--annotate, --margin, --min-confidence and --align go with --faces/);
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
  const help = cli('train', '--help');
  assert.equal(help.status, 0);
  assert.match(help.stdout, /--engine auto\|onnx\|onnx-cuda\|onnx-webgpu\|tfjs/);
});

test('scan prints each unreadable file on one line, whatever its name holds', async () => {
  const project = path.join(dir, 'odd-names');
  await mkdir(path.join(project, 'OK'), { recursive: true });
  // A name that would print a second, forged "unreadable:" line, and one that would rewrite the terminal line.
  await writeFile(path.join(project, 'OK', 'a\nunreadable: forged.jpg: Not an image\nb.jpg'), 'notes');
  await writeFile(path.join(project, 'OK', 'c\r\u001b[2K\td.jpg'), 'notes');
  const run = cli('scan', project);
  assert.equal(run.status, 2, run.stderr);
  assert.deepEqual(
    run.stdout.split('\n').filter((line) => line.startsWith('unreadable:')).sort(),
    ['unreadable: OK/a\\nunreadable: forged.jpg: Not an image\\nb.jpg: Not an image (text)', 'unreadable: OK/c\\r\\x1b[2K\\td.jpg: Not an image (text)'],
  );
  assert.doesNotMatch(run.stdout, /[\r\u001b]/);
});

test('scan on a read-only disk lists the images and says plainly what cannot be done', async (t) => {
  const source = path.join(dir, 'ro-source');
  const mounted = path.join(dir, 'ro-mounted');
  await mkdir(path.join(source, 'OK'), { recursive: true });
  await mkdir(mounted);
  await copyFile(path.join(dir, 'faces/OK/ok_0001.jpg'), path.join(source, 'OK', 'a.jpg'));
  // A read-only bind mount is a real EROFS disk; it needs root (CI and these machines run as root).
  const bind = spawnSync('mount', ['--bind', source, mounted], { encoding: 'utf8' });
  if (bind.status !== 0) return t.skip(`needs a read-only bind mount, which this user may not make: ${(bind.stderr || bind.error?.message || '').trim()}`);
  try {
    assert.equal(spawnSync('mount', ['-o', 'remount,bind,ro', mounted]).status, 0);
    const run = cli('scan', mounted);
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^read-only: The project is on a read-only disk: nothing was saved in \.labelloop; relabeling, import and training need a writable disk$/m);
    assert.match(run.stdout, /OK\s+1/);
    assert.doesNotMatch(run.stdout + run.stderr, /EROFS/);
  } finally {
    spawnSync('umount', [mounted]);
  }
});
