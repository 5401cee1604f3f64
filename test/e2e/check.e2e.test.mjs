// The Check view in a real browser against web mode: the check runs in the server's worker, finds
// an injected copy, keep-one moves the other copy into the trash on disk and Ctrl+Z brings it back,
// excluding from training writes the exclusion list that the Data tab counts, and a reload shows
// the findings again.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { copyFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { openSession } from './harness.mjs';

let session;
let server;
let page;

before(async () => {
  session = await openSession({ width: 1280, height: 900 });
  ({ server, page } = session);
});

after(async () => {
  await session?.close();
});

const summary = (kind) => page.locator(`[data-test=check-summary] [data-count=${kind}]`).innerText();

test('runs the data check, keeps one of a pair of copies (trash, undo), excludes a pair from training, and shows the findings after a reload', async () => {
  await page.goto(server.url);
  await page.click('[data-test=open-demo]');
  await page.waitForSelector('.cell');
  const demo = path.join(server.configDir, 'demo-project');
  await copyFile(path.join(demo, 'OK/ok_0001.jpg'), path.join(demo, 'OK/ok_copy.jpg'));
  await page.click('button[title="Rescan the folder"]');
  await page.waitForFunction(() => document.querySelector('.legend-item[data-class="OK"] .count')?.textContent === '301');

  await page.click('[data-tab=check]');
  await page.waitForSelector('[data-test=check-empty]');
  await page.click('[data-test=check-run]');
  await page.waitForSelector('[data-test=check-summary]', { timeout: 120_000 });
  assert.equal(await summary('exact'), '1 group of exact duplicates');
  const pair = page.locator('[data-test=check-duplicates] [data-test=check-group][data-kind=exact]');
  assert.equal(await pair.count(), 1);
  assert.deepEqual(await pair.locator('figure').evaluateAll((figures) => figures.map((f) => f.dataset.path)), ['OK/ok_0001.jpg', 'OK/ok_copy.jpg']);
  await page.screenshot({ path: path.join(process.env.E2E_SHOTS ?? server.configDir, 'check-view.png'), fullPage: true });

  // Keep the original: the copy goes to the trash inside .labelloop, and the group is gone.
  await pair.locator('figure[data-path="OK/ok_0001.jpg"] [data-test=keep-one]').click();
  await page.waitForFunction(() => document.querySelectorAll('[data-test=check-duplicates] [data-test=check-group]').length === 0);
  assert.ok(!existsSync(path.join(demo, 'OK/ok_copy.jpg')), 'the copy left its class folder');
  assert.ok(existsSync(path.join(demo, '.labelloop/trash/OK/ok_copy.jpg')), 'the copy is in the trash');
  assert.ok(existsSync(path.join(demo, 'OK/ok_0001.jpg')), 'the kept image stayed');
  assert.equal(await page.locator('.legend-item[data-class="OK"] .count').innerText(), '300');

  // One undo brings the copy back, on disk and in the view.
  await page.keyboard.press('Control+z');
  await page.waitForFunction(() => document.querySelectorAll('[data-test=check-duplicates] [data-test=check-group]').length === 1);
  assert.ok(existsSync(path.join(demo, 'OK/ok_copy.jpg')), 'undo put the copy back');
  assert.ok(!existsSync(path.join(demo, '.labelloop/trash/OK/ok_copy.jpg')));

  // Exclude the pair from training: the list on disk holds their one content, the Data tab counts both images.
  await pair.locator('[data-test=exclude-group]').click();
  await page.waitForSelector('[data-test=check-duplicates] [data-test=include-group]');
  const list = JSON.parse(await readFile(path.join(demo, '.labelloop/excluded.json'), 'utf8'));
  assert.equal(Object.keys(list.excluded).length, 1);
  assert.match(Object.values(list.excluded)[0].path, /^OK\/ok_(0001|copy)\.jpg$/);
  assert.equal(await summary('excluded'), '2 excluded from training');
  await page.click('[data-tab=data]');
  await page.waitForSelector('text=2 labeled image(s) are left out by the exclusion list');

  // A reloaded window finds the last check and the exclusion list again.
  await page.reload();
  await page.waitForSelector('.cell');
  await page.click('[data-tab=check]');
  await page.waitForSelector('[data-test=check-summary]');
  assert.equal(await summary('exact'), '1 group of exact duplicates');
  assert.equal(await summary('excluded'), '2 excluded from training');
});
