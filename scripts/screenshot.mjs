// Regenerates docs/screenshot.png for the README: the demo project in web mode, some images selected.
import path from 'node:path';
import { openSession, root, waitForPaintedThumbnails } from '../test/e2e/harness.mjs';

const { server, page, close } = await openSession({ width: 1360, height: 820 });
try {
  await page.goto(server.url);
  await page.click('[data-test=open-demo]');
  await waitForPaintedThumbnails(page, 24);
  await page.locator('.cell').nth(8).click();
  await page.locator('.cell').nth(10).click({ modifiers: ['Shift'] });
  await page.locator('.cell').nth(14).click({ modifiers: ['Control'] });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(root, 'docs/screenshot.png') });
} finally {
  await close();
}
