// Training in a real browser against web mode: the split view, a short run in the worker,
// a reload mid-run that resyncs, live curves drawn by chart.js, and the result.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openSession } from './harness.mjs';

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

/** Non-transparent pixels on a canvas: chart.js drew something. */
const paintedPixels = (selector) =>
  page.evaluate((sel) => {
    const canvas = document.querySelector(sel);
    if (!canvas) return 0;
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let painted = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
    return painted;
  }, selector);

test('split view, a short run with live curves, and a reload that resyncs mid-run', async () => {
  await page.goto(server.url);
  await page.click('[data-test=open-demo]');
  await page.waitForSelector('.cell');

  await page.click('[data-tab=data]');
  await page.waitForSelector('[data-test=split-table] tr[data-class=OK]');
  const okRow = await page.locator('[data-test=split-table] tr[data-class=OK] td').allInnerTexts();
  assert.deepEqual(okRow, ['OK', '240', '240', '60', '0']);

  // Augmentation preview: each image beside its augmented copies, drawn by the server.
  await page.click('[data-test=preview-augmentation]');
  await page.waitForSelector('[data-test=augment-row] figure:nth-child(5) img');
  // Two images of each class, each row captioned with its class.
  assert.deepEqual(await page.locator('[data-test=augment-row]').evaluateAll((rows) => rows.map((row) => row.dataset.class)), ['NG', 'OK', 'NG', 'OK']);
  const loaded = await page.evaluate(() => [...document.querySelectorAll('[data-test=augment-row] img')].every((img) => img.complete && img.naturalWidth > 0));
  assert.ok(loaded, 'augmented previews decode as images');

  await page.click('[data-tab=train]');
  await page.selectOption('select[name=headFit]', 'converged');
  await page.selectOption('select[name=inputSize]', '96');
  await page.selectOption('select[name=backend]', 'wasm');
  // The engine is named before the run starts; the reasons stay behind a closed toggle.
  await page.waitForSelector('[data-test=engine]:has-text("Training: TensorFlow.js, WebAssembly (CPU)")');
  assert.match(await page.locator('[data-test=engine] span').innerText(), /^Backbone: ONNX Runtime \(CPU, \d+ threads?\) · Training: TensorFlow\.js, WebAssembly \(CPU\)$/);
  await page.click('[data-test=train]');
  await page.waitForSelector('[data-test=run-state]:has-text("running")');
  await page.waitForSelector('.run-progress:has-text("embedding")', { timeout: 60_000 });

  // A reloaded window finds the run still going in main and picks it up.
  await page.reload();
  await page.waitForSelector('.cell');
  await page.click('[data-tab=train]');
  await page.waitForSelector('[data-test=run]');
  await page.waitForSelector('[data-test=run-ended]', { timeout: 240_000 });
  assert.match(await page.locator('[data-test=run-state]').innerText(), /finished|early-stopped/);
  assert.match(await page.locator('[data-test=backend]').innerText(), /^Backbone: ONNX Runtime \(CPU, \d+ threads?\) · Training: TensorFlow\.js, WebAssembly \(CPU\)/);
  // The finish message is for people; the diagnostics wait behind a collapsed Details.
  // The default stage 1 is fitted to convergence; a 120-image val split in a 600-image project is
  // backed by cross-validating the whole recipe, and the message says so with its interval.
  assert.match(
    await page.locator('[data-test=run-ended]').innerText(),
    /^Finished in .+ · accuracy \d+\.\d% \(95% CI \d+\.\d–\d+\.\d%\) on 5-fold cross-validation over all 600 labeled images, each judged by a model that never saw it · head fitted to convergence \(L2 [\d.e-]+ chosen by cross-validation on the train split\)$/,
  );
  assert.match(await page.locator('[data-test=result-estimate]').innerText(), /^Accuracy \d+\.\d% \(95% CI/);
  assert.equal(await page.locator('[data-test=run-details]').getAttribute('open'), null);
  assert.match(await page.locator('[data-test=run-details]').textContent(), /main event loop lag p99/);
  await page.waitForSelector('[data-test=chart-loss]');
  for (const chart of ['chart-loss', 'chart-accuracy']) {
    assert.ok((await paintedPixels(`[data-test=${chart}]`)) > 500, `${chart} is drawn`);
  }
  // A converged fit has no learning rate to draw: no empty chart for it.
  assert.equal(await page.locator('[data-test=chart-lr]').count(), 0);
  const accuracy = await page.locator('[data-test=result] strong').innerText();
  assert.ok(parseFloat(accuracy) >= 80, `validation accuracy ${accuracy}`);
  // The demo faces are in colour: the window says the CNN branch was not tried, and why.
  assert.match(await page.locator('[data-test=cnn-branch]').innerText(), /^CNN branch not in the model: not tried: 0% of the train images are grayscale/);
  await page.screenshot({ path: path.join(server.configDir, 'training.png') });
});

test('evaluate: confusion cells open a gallery, relabel from it, move the threshold, save it, retrain', async () => {
  await page.click('[data-tab=evaluate]');
  await page.waitForSelector('[data-test=eval-confusion]');
  const accuracy = parseFloat(await page.locator('[data-test=eval-accuracy]').innerText());
  assert.ok(accuracy >= 80, `evaluation accuracy ${accuracy}`);

  // The NG row, OK column (or the diagonal when there are no mistakes), opened from the keyboard:
  // Tab walks the cells, Enter opens one; its images appear under a title that is scrolled to and focused.
  const offDiagonal = await page.locator('[data-cell="0-1"]').innerText();
  const cell = parseInt(offDiagonal, 10) > 0 ? '0-1' : '0-0';
  await page.focus('[data-cell="0-0"]');
  await page.keyboard.press('Tab');
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-cell')), '0-1', 'Tab reaches the next cell');
  await page.focus(`[data-cell="${cell}"]`);
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-test=gallery] .gallery-item');
  const title = `NG predicted as ${cell === '0-1' ? 'OK' : 'NG'} · ${parseInt(cell === '0-1' ? offDiagonal : await page.locator('[data-cell="0-0"]').innerText(), 10)}`;
  assert.equal(await page.locator('[data-test=gallery-title]').innerText(), title);
  assert.equal(await page.evaluate(() => document.activeElement?.getAttribute('data-test')), 'gallery-title', 'focus moves to the gallery');
  await page.waitForFunction(() => {
    const box = document.querySelector('[data-test=gallery-title]').getBoundingClientRect();
    return box.top >= 0 && box.bottom <= window.innerHeight;
  });
  const first = page.locator('[data-test=gallery] .gallery-item').first();
  const moved = await first.getAttribute('data-path');
  await first.locator('[data-relabel=OK]').click();
  await first.locator('.badge').waitFor();
  assert.ok(existsSync(path.join(server.configDir, 'demo-project/OK', path.basename(moved))), 'relabeled on disk through the journal');
  // The card shows the image where it now lies, and where it was again after an undo.
  const cardImageAt = (folder) =>
    page.waitForFunction(
      ({ card, where }) => {
        const img = document.querySelector(`[data-test=gallery] .gallery-item[data-path="${card}"] img`);
        return img?.src.includes(`path=${encodeURIComponent(where)}&`) && img.complete && img.naturalWidth > 0;
      },
      { card: moved, where: `${folder}/${path.basename(moved)}` },
    );
  await cardImageAt('OK');
  await page.keyboard.press('Control+z');
  await cardImageAt('NG');
  await page.keyboard.press('Control+Shift+z');
  await cardImageAt('OK');

  // Two classes: the threshold slider changes the confusion live, and the point is saved with the model.
  await page.waitForSelector('[data-test=threshold-panel]');
  assert.ok((await paintedPixels('[data-test="curve-ROC"]')) > 500, 'ROC curve drawn');
  const before = await page.locator('[data-test=eval-confusion] tbody').innerText();
  await page.locator('input[name=threshold]').fill('0.97');
  await page.waitForFunction((text) => document.querySelector('[data-test=eval-confusion] tbody')?.textContent !== text, before);
  await page.click('[data-test=save-operating-point]');
  await page.waitForSelector('.notice:has-text("Operating point saved")');

  await page.click('[data-test=mislabeled]');
  await page.waitForSelector('[data-test=gallery] .gallery-item');
  // The queue says how many images the run flags and where they end.
  const firstRun = await page.locator('select[name=run]').inputValue();
  const firstReport = JSON.parse(await readFile(path.join(server.configDir, 'demo-project/.labelloop/runs', firstRun, 'report.json'), 'utf8'));
  const flagged = firstReport.samples.filter((s) => s.likelyMislabeled).length;
  assert.match(await page.locator('[data-test=gallery-title]').innerText(), new RegExp(`^${flagged} flagged as likely mislabeled`));
  const aboveDivider = await page.evaluate(() => {
    const divider = document.querySelector('[data-test=flagged-end]');
    return divider ? [...document.querySelectorAll('[data-test=gallery] .gallery-item')].filter((card) => card.compareDocumentPosition(divider) & Node.DOCUMENT_POSITION_FOLLOWING).length : null;
  });
  assert.equal(aboveDivider, flagged, 'the divider follows the last flagged image');
  // The grid's keys work in the queue: → moves the highlight, a number relabels it and steps on.
  await page.keyboard.press('ArrowRight');
  const highlighted = page.locator('[data-test=gallery] .gallery-item.cursor');
  const keyed = await highlighted.getAttribute('data-path');
  await page.keyboard.press(keyed.startsWith('NG/') ? '2' : '1');
  await page.locator(`[data-test=gallery] .gallery-item[data-path="${keyed}"] .badge`).waitFor();
  assert.notEqual(await highlighted.getAttribute('data-path'), keyed, 'the highlight stepped on');
  assert.ok(existsSync(path.join(server.configDir, 'demo-project', keyed.startsWith('NG/') ? 'OK' : 'NG', path.basename(keyed))), 'moved on disk by the keyboard');
  // Heatmaps on the gallery's thumbnails: a map laid over each thumbnail of the page, gone when switched off.
  await page.check('input[name=galleryHeatmaps]');
  await page.waitForSelector('[data-test=gallery] .gallery-item canvas[data-test=heatmap]', { timeout: 60_000 });
  assert.ok((await page.locator('[data-test=gallery] .gallery-item canvas[data-test=heatmap]').count()) >= 1);
  await page.screenshot({ path: path.join(process.env.E2E_SHOTS ?? server.configDir, 'gallery-heatmaps.png') });
  await page.uncheck('input[name=galleryHeatmaps]');
  await page.waitForFunction(() => document.querySelectorAll('[data-test=gallery] .gallery-item canvas[data-test=heatmap]').length === 0);
  // The large view shows the class probabilities.
  await page.locator('[data-test=gallery] .gallery-item img').first().click();
  await page.waitForSelector('[data-test=eval-viewer] .probabilities li:nth-child(2)');
  // H shows where the model looked: a heatmap over the image, with a legend naming the method and class.
  await page.keyboard.press('h');
  await page.waitForSelector('[data-test=eval-viewer] canvas[data-test=heatmap]', { timeout: 60_000 });
  const legend = await page.locator('[data-test=heatmap-legend]').innerText();
  const viewed = await page.locator('[data-test=eval-viewer] img').getAttribute('alt');
  assert.match(legend, /class activation map of (NG|OK)/);
  const overlay = await page.evaluate(() => {
    const canvas = document.querySelector('[data-test=eval-viewer] canvas[data-test=heatmap]');
    const image = document.querySelector('[data-test=eval-viewer] img');
    const a = canvas.getBoundingClientRect();
    const b = image.getBoundingClientRect();
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    const alphas = [];
    for (let i = 3; i < pixels.length; i += 4) alphas.push(pixels[i]);
    return { cells: canvas.width * canvas.height, covers: Math.abs(a.width - b.width) < 2 && Math.abs(a.height - b.height) < 2, maxAlpha: Math.max(...alphas) };
  });
  assert.ok(overlay.cells >= 9, `a map of ${overlay.cells} cells`);
  assert.ok(overlay.covers, 'the map covers the image (the run stretches its input)');
  // Opacity 0.5: a third of it where the map is coldest, all of it only on the hottest cell of the images scaled together.
  assert.ok(overlay.maxAlpha >= 42 && overlay.maxAlpha <= 128, `alpha ${overlay.maxAlpha} at opacity 0.5`);
  // The opacity slider redraws it (twice as opaque at 1); the class picker asks for another class's map.
  await page.locator('input[name=heatmapOpacity]').fill('1');
  await page.waitForFunction((before) => {
    const canvas = document.querySelector('[data-test=eval-viewer] canvas[data-test=heatmap]');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let max = 0;
    for (let i = 3; i < pixels.length; i += 4) max = Math.max(max, pixels[i]);
    return Math.abs(max - 2 * before) <= 3;
  }, overlay.maxAlpha);
  const other = legend.includes('of NG') ? 'OK' : 'NG';
  await page.selectOption('select[name=heatmapClass]', other);
  await page.waitForFunction((name) => document.querySelector('[data-test=heatmap-legend]')?.textContent?.includes(`of ${name}`), other, { timeout: 60_000 });
  assert.equal(await page.locator('[data-test=eval-viewer] img').getAttribute('alt'), viewed, 'still the same image');
  // Keys typed into a control stay there: back on the dialog, H hides the map again.
  await page.locator('[data-test=eval-viewer]').focus();
  await page.keyboard.press('h');
  await page.waitForSelector('[data-test=eval-viewer] canvas[data-test=heatmap]', { state: 'detached' });
  await page.click('[data-test=eval-viewer] .close');
  await page.click('[data-test=export]');
  await page.waitForSelector('.notice:has-text("Exported model.json")', { timeout: 60_000 });
  // In a browser the export is also a download: one zip holding the export's files.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=export-download]')]);
  assert.match(download.suggestedFilename(), /^labelloop-\d{8}-\d{6}-[0-9a-f]{4}\.zip$/);
  const zip = await readFile(await download.path());
  assert.equal(zip.subarray(0, 4).toString('latin1'), 'PK\x03\x04');
  for (const file of ['model.json', 'weights.bin', 'model.onnx', 'predict-faces.mjs', 'labels.json', 'preprocessing.json', 'README.md']) assert.ok(zip.includes(file), `the zip holds ${file}`);

  await page.click('[data-test=retrain]');
  await page.waitForSelector('[data-test=run-state]:has-text("running")');
  const retrained = (await page.locator('[data-test=run] h2').innerText()).match(/Run (\S+)/)[1];
  // While it trains, Evaluate says it will show the new run when it finishes.
  await page.click('[data-tab=evaluate]');
  assert.match(await page.locator('[data-test=evaluate-follows]').innerText(), new RegExp(`Run ${retrained} is training`));
  await page.click('[data-tab=train]');
  await page.waitForSelector('[data-test=run-ended]', { timeout: 240_000 });
  assert.match(await page.locator('[data-test=run-state]').innerText(), /finished|early-stopped/);

  // Evaluate follows the retrain: it shows the new run, not the one it was on.
  await page.click('[data-tab=evaluate]');
  await page.waitForSelector('[data-test=eval-confusion]');
  assert.notEqual(retrained, firstRun);
  assert.equal(await page.locator('select[name=run]').inputValue(), retrained, 'the retrained run is the evaluated one');
  // Run history: the new run can be named and compared with the first one on one chart.
  await page.fill('input[name=runName]', 'retrained');
  await page.click('.run-actions button[type=submit]');
  const options = await page.locator('select[name=compareWith] option').count();
  assert.ok(options >= 2, 'another run to compare with');
  await page.selectOption('select[name=compareWith]', { index: 1 });
  await page.waitForSelector('[data-test=compare] canvas');
  assert.ok((await paintedPixels('[data-test=compare] canvas')) > 500, 'comparison chart drawn');
  // …and their figures side by side, with the difference.
  const accuracyRow = await page.locator('[data-test=compare-metrics] tbody tr').first().locator('td').allInnerTexts();
  assert.match(accuracyRow[0], /^accuracy/);
  assert.match(accuracyRow[1], /^\d+\.\d%$/);
  assert.match(accuracyRow[2], /^\d+\.\d%$/);
  assert.match(accuracyRow[3], /^[+−±]\d+\.\d pt$/);
  assert.ok((await page.locator('[data-test=compare-metrics] tbody tr').count()) >= 9, 'accuracy, AUC, P/R/F1 per class, images, time');
  // Evaluating the compared run swaps the two: never a run against itself.
  const comparedRun = await page.locator('select[name=compareWith]').inputValue();
  await page.selectOption('select[name=run]', comparedRun);
  await page.waitForFunction((run) => document.querySelector('[data-test=compare-metrics] thead th:nth-child(2)')?.textContent.trim() === run, comparedRun);
  assert.equal(await page.locator('select[name=compareWith]').inputValue(), retrained);
  assert.equal(await page.locator('[data-test=compare-metrics] thead th:nth-child(3)').innerText(), 'retrained');
  assert.match(await page.locator('[data-test=compare] .hint').innerText(), /retrained/);
});

test('predict: files, a folder and a drop go through the run\'s model into a table with thumbnails and a CSV', async () => {
  const demo = path.join(server.configDir, 'demo-project');
  const inbox = await mkdtemp(path.join(os.tmpdir(), 'labelloop-inbox-'));
  const folder = path.join(inbox, 'line-2');
  await mkdir(folder);
  // The evaluate test moved an image: take files that are where they are now.
  const [ng1, ng2, ng3] = (await readdir(path.join(demo, 'NG'))).filter((n) => n.endsWith('.jpg')).sort();
  const [ok1, ok2] = (await readdir(path.join(demo, 'OK'))).filter((n) => n.startsWith('ok_')).sort();
  for (const name of [ng2, ng3]) await copyFile(path.join(demo, 'NG', name), path.join(folder, name));
  await writeFile(path.join(inbox, 'broken.jpg'), 'not an image at all');

  await page.click('[data-tab=predict]');
  await page.waitForSelector('[data-test=predict-model]', { timeout: 60_000 });
  assert.match(await page.locator('[data-test=predict-model]').innerText(), /NG, OK/);
  // The whole trained model predicts on ONNX Runtime, and the tab says so.
  assert.match(await page.locator('[data-test=predict-engine]').innerText(), /^ONNX Runtime \(CPU, \d+ threads?\)$/);
  await page.setInputFiles('input[name=predictFiles]', [path.join(demo, 'OK', ok1), path.join(demo, 'NG', ng1), path.join(inbox, 'broken.jpg')]);
  await page.waitForSelector('[data-test=predictions] tbody tr:nth-child(3)', { timeout: 60_000 });
  await page.setInputFiles('input[name=predictFolder]', folder);
  await page.waitForSelector(`[data-test=predictions] tr[data-file="line-2/${ng3}"]`, { timeout: 60_000 });

  // A drop, as from a file manager: the same path as the buttons.
  const bytes = (await readFile(path.join(demo, 'OK', ok2))).toString('base64');
  await page.evaluate((b64) => {
    const transfer = new DataTransfer();
    transfer.items.add(new File([Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))], 'dropped.jpg', { type: 'image/jpeg' }));
    document.querySelector('[data-test=predict-drop]').dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
  }, bytes);
  await page.waitForSelector('[data-test=predictions] tr[data-file="dropped.jpg"]', { timeout: 60_000 });
  await page.waitForSelector('[data-test=predict-progress]:has-text("6 / 6")');

  assert.equal(await page.locator('[data-test=predictions] tbody tr').count(), 6);
  assert.match(await page.locator('tr[data-file="broken.jpg"] [data-test=predict-error]').innerText(), /Not an image/);
  // The window predicts what the run itself said about the same image in its report.
  const runId = await page.locator('select[name=predictRun]').inputValue();
  const report = JSON.parse(await readFile(path.join(demo, '.labelloop/runs', runId, 'report.json'), 'utf8'));
  const sample = report.samples.find((s) => s.path === `OK/${ok1}`);
  const shown = await page.locator(`tr[data-file="${ok1}"] td.probability`).allInnerTexts();
  assert.ok(Math.abs(parseFloat(shown[1]) - sample.probabilities.OK * 100) <= 0.051, `p(OK) ${shown[1]} vs ${sample.probabilities.OK}`);
  assert.match(await page.locator(`tr[data-file="line-2/${ng3}"] [data-test=predicted]`).innerText(), /^(NG|OK)$/);
  await page.waitForFunction(() => [...document.querySelectorAll('[data-test=predictions] td.row-thumb img')].every((img) => img.complete && img.naturalWidth > 0));
  // A row's thumbnail opens the large view; H there lays where the model looked over the image, Esc closes.
  await page.click(`tr[data-file="line-2/${ng3}"] [data-test=predict-open]`);
  await page.waitForSelector('[data-test=predict-viewer] .probabilities li:nth-child(2)');
  await page.keyboard.press('h');
  await page.waitForSelector('[data-test=predict-viewer] canvas[data-test=heatmap]', { timeout: 60_000 });
  assert.match(await page.locator('[data-test=predict-viewer] [data-test=heatmap-legend]').innerText(), /class activation map of (NG|OK)/);
  await page.keyboard.press('Escape');
  await page.waitForSelector('[data-test=predict-viewer]', { state: 'detached' });
  assert.equal(await page.locator('[data-test=predictions] td.row-thumb img').count(), 5, 'a thumbnail for every readable image');

  const [download] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=predict-csv]')]);
  const csv = (await readFile(await download.path(), 'utf8')).trim().split('\n');
  assert.equal(csv[0], 'file,predicted,p_NG,p_OK,error');
  assert.equal(csv.length, 7);
  const tableSays = await page.locator(`tr[data-file="line-2/${ng2}"] [data-test=predicted]`).innerText();
  assert.ok(csv.find((l) => l.startsWith(`line-2/${ng2},${tableSays},`)), 'the CSV says what the table says');
  assert.ok(csv.find((l) => l.startsWith('broken.jpg,,,,')), 'unreadable files are in the CSV with their reason');
  await page.screenshot({ path: path.join(server.configDir, 'predict.png') });

  // Detect faces first: a real group photo gives a box per face, coloured by its class, and a row per face.
  await page.click('button:has-text("Clear")');
  await page.check('input[name=detectFaces]');
  await page.setInputFiles('input[name=predictFiles]', [path.join(import.meta.dirname, '../../node_modules/@vladmandic/face-api/demo/sample1.jpg'), path.join(inbox, 'broken.jpg')]);
  await page.waitForSelector('[data-test=predict-progress]:has-text("2 / 2")', { timeout: 60_000 });
  await page.waitForSelector('[data-test=face-photos] figure[data-photo="sample1.jpg"] svg rect');
  assert.equal(await page.locator('[data-test=face-photos] figure[data-photo="sample1.jpg"] svg rect').count(), 3);
  for (const cls of await page.locator('[data-test=face-photos] svg rect').evaluateAll((rects) => rects.map((r) => r.getAttribute('data-class')))) assert.match(cls, /^(NG|OK)$/);
  // Photos are sent several at a time: rows come in the order the answers do.
  assert.deepEqual((await page.locator('[data-test=predictions] tbody tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-file')))).sort(), ['broken.jpg', 'sample1__face1.jpg', 'sample1__face2.jpg', 'sample1__face3.jpg']);
  const [faceDownload] = await Promise.all([page.waitForEvent('download'), page.click('[data-test=predict-csv]')]);
  const faceCsv = (await readFile(await faceDownload.path(), 'utf8')).trim().split('\n');
  assert.equal(faceCsv[0], 'file,face,x,y,width,height,score,predicted,p_NG,p_OK,error');
  assert.match(faceCsv.find((l) => l.startsWith('sample1.jpg,1,')), /^sample1\.jpg,1,\d+,\d+,\d+,\d+,0\.\d{4},(NG|OK),/);
  assert.ok(faceCsv.some((l) => l.startsWith('broken.jpg,,,,,,,,,,')), 'the unreadable photo keeps its row, with its reason');
  await page.screenshot({ path: path.join(server.configDir, 'predict-faces.png') });
  await rm(inbox, { recursive: true, force: true });
});

test('map: the project laid out from the run, a box selection relabeled and undone, a lasso opened in the grid', async () => {
  await page.click('[data-tab=map]');
  await page.click('[data-test=map-start]');
  await page.waitForSelector('[data-test=map-method]', { timeout: 180_000 });
  const canvas = page.locator('[data-test=map-canvas]');
  const imageCount = Number(await page.locator('.legend-item[data-class="NG"] .count').innerText()) + Number(await page.locator('.legend-item[data-class="OK"] .count').innerText());
  await page.waitForFunction((n) => Number(document.querySelector('[data-test=map-canvas]')?.dataset.points) >= n, imageCount);
  assert.ok(await paintedPixels('[data-test=map-canvas]'), 'the points are drawn');
  await page.screenshot({ path: path.join(process.env.E2E_SHOTS ?? server.configDir, 'map.png') });
  const box = await canvas.boundingBox();

  // Shift+drag over the whole canvas selects every point.
  const drag = async (corners, shift = false) => {
    if (shift) await page.keyboard.down('Shift');
    await page.mouse.move(box.x + corners[0][0] * box.width, box.y + corners[0][1] * box.height);
    await page.mouse.down();
    for (const [x, y] of corners.slice(1)) await page.mouse.move(box.x + x * box.width, box.y + y * box.height, { steps: 4 });
    await page.mouse.up();
    if (shift) await page.keyboard.up('Shift');
  };
  const selected = async () => Number((await page.locator('[data-test=map-selection-count]').innerText()).split(' ')[0]);
  await drag([[0.005, 0.005], [0.995, 0.995]], true);
  assert.equal(await selected(), Number(await canvas.getAttribute('data-points')));
  await page.keyboard.press('Escape');
  assert.equal(await selected(), 0);

  // The left half in a box, relabeled to unlabeled: the classes lose exactly the selected images; Ctrl+Z brings them back.
  await drag([[0.005, 0.005], [0.5, 0.995]], true);
  const half = await selected();
  assert.ok(half > 0 && half < imageCount, `a half selects some points (${half})`);
  await page.selectOption('[data-test=map-relabel-to]', '');
  await page.click('[data-test=map-relabel]');
  const labeledNow = async () => Number(await page.locator('.legend-item[data-class="NG"] .count').innerText()) + Number(await page.locator('.legend-item[data-class="OK"] .count').innerText());
  await page.waitForFunction(([n, k]) => Number(document.querySelector('.legend-item[data-class="NG"] .count')?.textContent) + Number(document.querySelector('.legend-item[data-class="OK"] .count')?.textContent) === n - k, [imageCount, half]);
  await page.keyboard.press('Control+z');
  await page.waitForFunction((n) => Number(document.querySelector('.legend-item[data-class="NG"] .count')?.textContent) + Number(document.querySelector('.legend-item[data-class="OK"] .count')?.textContent) === n, imageCount);
  assert.equal(await labeledNow(), imageCount);

  // A lasso (a triangle over the right half) opens exactly its points in the grid.
  await page.click('[data-test=map-clear]');
  await drag([[0.5, 0.02], [0.98, 0.5], [0.5, 0.98], [0.5, 0.03]]);
  const lassoed = await selected();
  assert.ok(lassoed > 0, 'the lasso caught points');
  await page.click('[data-test=map-open-grid]');
  await page.waitForSelector(`text=${lassoed} images from the map`);
  await page.waitForSelector('.cell');
});
