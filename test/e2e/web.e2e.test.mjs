// The labeling loop in a real browser against web mode: open the demo, relabel with the keyboard,
// undo, reload, and check the screen and the disk agree.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { openSession, waitForPaintedThumbnails } from './harness.mjs';

let session;
let server;
let browser;
let page;

before(async () => {
  session = await openSession({ width: 1280, height: 800 });
  ({ server, browser, page } = session);
});

after(async () => {
  await session?.close();
});

const count = async (name) => Number(await page.locator(`.legend-item[data-class="${name}"] .count`).innerText());

test('opens the demo project, relabels three images by keyboard, undoes one, and survives a reload', async () => {
  await page.goto(server.url);
  await page.click('[data-test=open-demo]');
  await page.waitForSelector('.cell');
  assert.equal(await count('NG'), 300);
  assert.equal(await count('OK'), 300);

  await waitForPaintedThumbnails(page);
  const shot = await page.screenshot({ path: path.join(server.configDir, 'grid.png') });
  // A painted grid of faces is far from flat: the pixel spread over the grid area must be large.
  const grid = await page.locator('[data-test=grid]').boundingBox();
  const { channels } = await sharp(shot)
    .extract({ left: Math.round(grid.x), top: Math.round(grid.y), width: Math.round(grid.width), height: Math.round(Math.min(grid.height, 400)) })
    .stats();
  assert.ok(channels[0].stdev > 25, `grid looks blank (stdev ${channels[0].stdev})`);

  // NG is class 1, OK class 2. The first three NG images go to OK, one key each (the cursor steps on).
  await page.locator('.cell[data-path="NG/ng_0001.jpg"]').click();
  for (let i = 0; i < 3; i++) {
    await page.keyboard.press('2');
    await page.waitForFunction((n) => document.querySelector('.legend-item[data-class="OK"] .count')?.textContent === String(n), 301 + i);
  }
  assert.equal(await count('NG'), 297);
  assert.equal(await count('OK'), 303);
  const demo = path.join(server.configDir, 'demo-project');
  for (const n of ['0001', '0002', '0003']) {
    assert.ok(existsSync(path.join(demo, `OK/ng_${n}.jpg`)), `ng_${n} moved to OK on disk`);
    assert.ok(!existsSync(path.join(demo, `NG/ng_${n}.jpg`)), `ng_${n} left NG on disk`);
  }

  await page.keyboard.press('Control+z');
  await page.waitForFunction(() => document.querySelector('.legend-item[data-class="OK"] .count')?.textContent === '302');
  assert.ok(existsSync(path.join(demo, 'NG/ng_0003.jpg')), 'undo moved ng_0003 back on disk');
  assert.ok(!existsSync(path.join(demo, 'OK/ng_0003.jpg')));

  await page.reload();
  await page.waitForSelector('.cell');
  assert.equal(await count('NG'), 298);
  assert.equal(await count('OK'), 302);
  // Grid order is by file name, so relabeled images keep their place in the "all" view.
  const first = page.locator('.cell').first();
  assert.equal(await first.getAttribute('data-path'), 'OK/ng_0001.jpg');
  assert.equal(await first.getAttribute('data-label'), 'OK');
  await page.click('[data-filter="class:NG"]');
  await page.waitForSelector('.cell[data-path="NG/ng_0003.jpg"]');
  assert.equal(await page.locator('[data-test=undo]').isEnabled(), true, 'undo history survives the reload');
  await page.screenshot({ path: path.join(server.configDir, 'after-reload.png') });
});

test('refuses a browser that lacks the token', async () => {
  const stranger = await browser.newContext();
  const strangerPage = await stranger.newPage();
  const denied = await strangerPage.goto(server.url.replace(/\?token=.*/, ''));
  assert.equal(denied.status(), 401);
  assert.equal(await strangerPage.locator('.cell').count(), 0);
  await stranger.close();
});

test('imports by upload into a class, skips a duplicate, and badges a corrupt file', async () => {
  await page.goto(server.url);
  await page.waitForSelector('.cell');
  const demo = path.join(server.configDir, 'demo-project');
  const before = await count('NG');
  const fresh = await sharp({ create: { width: 90, height: 90, channels: 3, background: '#3a7' } }).jpeg().toBuffer();
  const duplicate = await readFile(path.join(demo, 'NG/ng_0010.jpg'));

  const ngRow = page.locator('.class-row', { hasText: 'NG' });
  await ngRow.hover();
  const chooser = page.waitForEvent('filechooser');
  await ngRow.locator('button[title^="Import"]').click();
  await (await chooser).setFiles([
    { name: 'fresh.jpg', mimeType: 'image/jpeg', buffer: fresh },
    { name: 'again.jpg', mimeType: 'image/jpeg', buffer: duplicate },
  ]);
  await page.waitForFunction((n) => document.querySelector('.legend-item[data-class="NG"] .count')?.textContent === String(n), before + 1);
  assert.ok(existsSync(path.join(demo, 'NG/fresh.jpg')), 'the new image was copied in');
  assert.ok(!existsSync(path.join(demo, 'NG/again.jpg')), 'the duplicate was not');
  await page.waitForSelector('.notice:has-text("duplicate")');

  // A damaged file appears on disk: after a rescan it is listed, badged and explained, not fatal.
  await writeFile(path.join(demo, 'NG/broken.jpg'), fresh.subarray(0, fresh.length >> 1));
  await page.click('button[title="Rescan the folder"]');
  await page.click('[data-filter="unreadable"]');
  await page.waitForSelector('[data-test=unreadable-badge]', { timeout: 60_000 });
  assert.equal(await page.locator('.cell').count(), 1);
  assert.match(await page.locator('.cell').first().getAttribute('title'), /Truncated file \(JPEG\)/);
  // The filter button just clicked has focus and would take Enter itself: Enter on the grid opens the image.
  await page.focus('[data-test=grid]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.viewer-problem');
  assert.match(await page.locator('.viewer-problem').innerText(), /Truncated file \(JPEG\)/);
});

test('imports a real group photo as faces into Unlabeled, one crop per face, with the summary shown', async () => {
  await page.goto(server.url);
  await page.waitForSelector('.cell');
  const demo = path.join(server.configDir, 'demo-project');
  const unlabeled = async () => Number(await page.locator('[data-filter="unlabeled"] .count').innerText());
  const before = await unlabeled();
  await page.click('[data-test=face-import] summary');
  await page.fill('input[name=faceMargin]', '0.3');
  const chooser = page.waitForEvent('filechooser');
  await page.click('[data-test=face-import] button:has-text("Choose photos")');
  const photo = await readFile(path.join(import.meta.dirname, '../../node_modules/@vladmandic/face-api/demo/sample1.jpg'));
  await (await chooser).setFiles([
    { name: 'party.jpg', mimeType: 'image/jpeg', buffer: photo },
    { name: 'notes.jpg', mimeType: 'image/jpeg', buffer: Buffer.from('not a photo') },
  ]);
  await page.waitForSelector('[data-test=face-summary] li:has-text("2 photo(s): 3 face(s) found, 3 crop(s) saved")', { timeout: 60_000 });
  assert.match(await page.locator('[data-test=face-summary]').innerText(), /unreadable: notes\.jpg: /);
  await page.waitForFunction((n) => document.querySelector('[data-filter="unlabeled"] .count')?.textContent?.trim() === String(n), before + 3);
  for (const n of [1, 2, 3]) assert.ok(existsSync(path.join(demo, `party__face${n}.jpg`)), `face ${n} cropped into the project root`);
  const records = (await readFile(path.join(demo, '.labelloop/faces.jsonl'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(records.map((r) => [r.crop, r.source, r.margin]), [1, 2, 3].map((n) => [`party__face${n}.jpg`, 'party.jpg', 0.3]));
  assert.equal(await unlabeled(), before + 3);

  // Review in context: a crop's large view shows its source photo with every face boxed, this one marked.
  await page.click('[data-filter="unlabeled"]');
  await page.locator('.cell[title*="party__face2.jpg"]').first().dblclick();
  await page.waitForSelector('[data-test=face-context]:has-text("face 2 of 3 in party.jpg")');
  await page.click('[data-test=toggle-source]');
  await page.waitForSelector('[data-test=source-photo] svg rect');
  assert.equal(await page.locator('[data-test=source-photo] svg rect').count(), 3);
  assert.deepEqual(await page.locator('[data-test=source-photo] svg rect').evaluateAll((rects) => rects.map((r) => r.getAttribute('data-current'))), ['false', 'true', 'false']);
  // …and the grid filters to that photo's crops.
  await page.click('[data-test=photo-faces]');
  await page.waitForSelector('[data-filter="photo"]:has-text("Faces of party.jpg")');
  assert.equal(await page.locator('.cell').count(), 3);
  await page.click('[data-filter="photo"]');
});

/** Opens the demo in `on`, unless the tests before already left it open. */
async function showDemo(on) {
  await on.goto(server.url);
  await on.waitForSelector('.cell, [data-test=open-demo]');
  if (await on.locator('[data-test=open-demo]').count()) await on.click('[data-test=open-demo]');
  await on.waitForSelector('.cell');
}

const insideViewer = () => page.evaluate(() => Boolean(document.activeElement?.closest('[data-test=viewer]')));

test('keyboard: Enter presses a focused button, and the large view keeps Tab inside until it closes', async () => {
  await showDemo(page);
  await page.focus('[data-filter="class:OK"]');
  await page.keyboard.press('Enter');
  await page.waitForFunction(() => document.querySelector('[data-filter="class:OK"]')?.classList.contains('active') || document.querySelector('[data-test=viewer]'));
  assert.equal(await page.locator('[data-test=viewer]').count(), 0, 'Enter on a button opened the large view');
  assert.ok(await page.locator('[data-filter="class:OK"]').evaluate((button) => button.classList.contains('active')), 'Enter did not press the button');

  await page.focus('[data-test=grid]');
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-test=viewer]');
  assert.ok(await insideViewer(), 'focus moves into the large view when it opens');
  for (const key of ['Tab', 'Tab', 'Tab', 'Tab', 'Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab', 'Shift+Tab']) {
    await page.keyboard.press(key);
    assert.ok(await insideViewer(), `${key} moved focus behind the large view`);
  }
  await page.focus('[data-test=viewer] button[aria-label=Close]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('[data-test=viewer]', { state: 'detached' });
  assert.equal(await page.evaluate(() => document.activeElement?.dataset.test), 'grid', 'focus goes back to the grid');
});

test('at 1024×700 the header is one line, headings have room and nothing is cut off', async () => {
  const small = await browser.newPage({ viewport: { width: 1024, height: 700 } });
  try {
    await showDemo(small);
    const header = await small.locator('.topbar').boundingBox();
    const parts = await small.locator('.topbar button, .topbar h1').evaluateAll((elements) =>
      elements.map((el) => ({ text: el.textContent.trim(), ...el.getBoundingClientRect().toJSON(), lineHeight: parseFloat(getComputedStyle(el).lineHeight) || 20 })),
    );
    for (const part of parts) {
      assert.ok(part.height < part.lineHeight * 2, `"${part.text}" wraps onto two lines`);
      assert.ok(part.right <= 1024 && part.bottom <= header.y + header.height, `"${part.text}" falls outside the header`);
    }
    assert.ok(header.height <= 60, `header is ${header.height}px tall`);
    await small.screenshot({ path: path.join(server.configDir, 'label-1024.png') });

    await small.click('[data-tab=data]');
    await small.waitForSelector('[data-test=split-table]');
    // Every choice's text fits its box (a select's options measured in its own font, less its arrow).
    const clipped = await small.locator('[data-test=data-view] select, [data-test=data-view] label').evaluateAll((elements) =>
      elements.flatMap((el) => {
        if (!(el instanceof HTMLSelectElement)) return el.scrollWidth > el.clientWidth + 1 ? [el.textContent.trim()] : [];
        const context = document.createElement('canvas').getContext('2d');
        context.font = getComputedStyle(el).font;
        return [...el.options].filter((option) => context.measureText(option.text).width > el.clientWidth - 28).map((option) => option.text);
      }),
    );
    assert.deepEqual(clipped, [], 'text cut off in the Data tab');

    await small.click('[data-tab=train]');
    const train = small.locator('[data-test=train]');
    await train.waitFor();
    const box = await train.boundingBox();
    assert.ok(box.y + box.height <= 700, `the Train button is below the fold (bottom at ${box.y + box.height}px)`);
    assert.ok(await train.evaluate((button) => {
      const r = button.getBoundingClientRect();
      return document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2)?.closest('[data-test=train]') === button;
    }), 'the Train button is covered');
    const gaps = await small.locator('.panel > h2:not(:first-child)').evaluateAll((headings) =>
      headings.map((h) => ({ text: h.textContent.trim(), gap: h.getBoundingClientRect().top - h.previousElementSibling.getBoundingClientRect().bottom })),
    );
    assert.ok(gaps.length >= 2, 'the Train tab has its section headings');
    for (const { text, gap } of gaps) assert.ok(gap >= 12, `"${text}" sits ${gap}px under the fields above it`);
    await small.screenshot({ path: path.join(server.configDir, 'train-1024.png') });
  } finally {
    await small.close();
  }
});
