// The photo pipeline in one go, in a real browser against web mode: photos in as face crops
// (Unlabeled), two crops labelled by keyboard, a run that trains on them (and suggests a label
// for the crop left unlabeled), and a new photo predicted per face with a box on each face.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openSession } from './harness.mjs';

const samples = path.join(import.meta.dirname, '../../node_modules/@vladmandic/face-api/demo');
let session;
let server;
let page;

before(async () => {
  session = await openSession({ width: 1360, height: 900 });
  ({ server, page } = session);
});

after(async () => {
  await session?.close();
});

test('import photos as faces into Unlabeled, label two crops, train, and predict a new photo with a box per face', async () => {
  await page.goto(server.url);
  await page.click('[data-test=open-demo]');
  await page.waitForSelector('.cell');
  const demo = path.join(server.configDir, 'demo-project');

  // 1. Faces of a real group photo (three people) into Unlabeled.
  await page.click('[data-test=face-import] summary');
  const chooser = page.waitForEvent('filechooser');
  await page.click('[data-test=face-import] button:has-text("Choose photos")');
  await (await chooser).setFiles([path.join(samples, 'sample1.jpg')]);
  await page.waitForSelector('[data-test=face-summary] li:has-text("1 photo(s): 3 face(s) found, 3 crop(s) saved")', { timeout: 60_000 });
  await page.waitForFunction(() => document.querySelector('[data-filter="unlabeled"] .count')?.textContent?.trim() === '3');

  // 2. Two crops labelled by keyboard (NG is class 1, OK class 2): each key moves the file on disk.
  await page.click('[data-filter="unlabeled"]');
  await page.locator('.cell[data-path="sample1__face1.jpg"]').click();
  await page.keyboard.press('2');
  await page.waitForFunction(() => document.querySelector('[data-filter="unlabeled"] .count')?.textContent?.trim() === '2');
  await page.locator('.cell[data-path="sample1__face2.jpg"]').click();
  await page.keyboard.press('1');
  await page.waitForFunction(() => document.querySelector('[data-filter="unlabeled"] .count')?.textContent?.trim() === '1');
  assert.ok(existsSync(path.join(demo, 'OK/sample1__face1.jpg')), 'face 1 labelled OK on disk');
  assert.ok(existsSync(path.join(demo, 'NG/sample1__face2.jpg')), 'face 2 labelled NG on disk');
  assert.ok(existsSync(path.join(demo, 'sample1__face3.jpg')), 'face 3 still unlabeled');

  // 3. A run that trains on them.
  await page.click('[data-tab=train]');
  await page.selectOption('select[name=inputSize]', '96');
  await page.selectOption('select[name=backend]', 'wasm');
  await page.click('[data-test=train]');
  await page.waitForSelector('[data-test=run-ended]', { timeout: 300_000 });
  assert.match(await page.locator('[data-test=run-state]').innerText(), /finished|early-stopped/);
  const runsDir = path.join(demo, '.labelloop/runs');
  const [runId] = (await readdir(runsDir)).filter((name) => existsSync(path.join(runsDir, name, 'report.json')));
  const report = JSON.parse(await readFile(path.join(runsDir, runId, 'report.json'), 'utf8'));
  const labelled = report.samples.filter((s) => s.path.includes('sample1__face'));
  assert.deepEqual(labelled.map((s) => [s.path, s.label]).sort(), [['NG/sample1__face2.jpg', 'NG'], ['OK/sample1__face1.jpg', 'OK']]);

  // The crop left unlabeled got the run's suggestion: the Suggested filter shows it, and A accepts it.
  const suggestion = report.unlabeled.find((u) => u.path === 'sample1__face3.jpg');
  assert.ok(suggestion, 'the unlabeled crop is in report.unlabeled');
  await page.click('[data-tab=label]');
  await page.waitForSelector('[data-filter="suggested"]:has-text("Suggested")');
  await page.click('[data-filter="suggested"]');
  await page.waitForSelector('.cell[data-path="sample1__face3.jpg"] [data-test=suggestion]');
  assert.match(await page.locator('.cell[data-path="sample1__face3.jpg"] [data-test=suggestion]').innerText(), new RegExp(`^${suggestion.suggested} \\d+%$`));
  await page.locator('.cell[data-path="sample1__face3.jpg"]').click();
  await page.keyboard.press('a');
  await page.waitForFunction(() => document.querySelector('[data-filter="unlabeled"] .count')?.textContent?.trim() === '0');
  assert.ok(existsSync(path.join(demo, suggestion.suggested, 'sample1__face3.jpg')), 'accepted into its suggested class on disk');
  await page.keyboard.press('Control+z');
  await page.waitForFunction(() => document.querySelector('[data-filter="unlabeled"] .count')?.textContent?.trim() === '1');

  // 4. A photo the run never saw, faces detected first: a box per face in its class's colour, a row per face.
  await page.click('[data-tab=predict]');
  await page.waitForSelector('[data-test=predict-model]', { timeout: 60_000 });
  await page.check('input[name=detectFaces]');
  await page.setInputFiles('input[name=predictFiles]', [path.join(samples, 'sample4.jpg')]);
  await page.waitForSelector('[data-test=face-photos] figure[data-photo="sample4.jpg"] svg rect', { timeout: 60_000 });
  const boxes = page.locator('[data-test=face-photos] figure[data-photo="sample4.jpg"] svg rect');
  assert.equal(await boxes.count(), 4);
  for (const cls of await boxes.evaluateAll((rects) => rects.map((r) => r.getAttribute('data-class')))) assert.match(cls, /^(NG|OK)$/);
  // Each box is where the app's row says its face is, in the photo's pixels.
  const rows = await page.locator('[data-test=predictions] tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-file')));
  assert.deepEqual(rows.sort(), [1, 2, 3, 4].map((n) => `sample4__face${n}.jpg`));
  const widths = await boxes.evaluateAll((rects) => rects.map((r) => Number(r.getAttribute('width'))));
  assert.ok(widths.every((w) => w > 50 && w < 1000), `face boxes in the photo's pixels: ${widths}`);
  await page.screenshot({ path: path.join(server.configDir, 'faces-chain.png') });
});
