// Regenerates docs/screenshot.png for the README: the demo project in web mode, some images selected.
import path from 'node:path';
import { rm } from 'node:fs/promises';
import { launchBrowser, requireBuild, root, startServer, waitForPaintedThumbnails } from '../test/e2e/harness.mjs';

requireBuild();
const server = await startServer();
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1360, height: 820 } });
  await page.goto(server.url);
  await page.click('[data-test=open-demo]');
  await waitForPaintedThumbnails(page, 24);
  await page.locator('.cell').nth(8).click();
  await page.locator('.cell').nth(10).click({ modifiers: ['Shift'] });
  await page.locator('.cell').nth(14).click({ modifiers: ['Control'] });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(root, 'docs/screenshot.png') });
} finally {
  await browser.close();
  await server.stop();
  await rm(server.configDir, { recursive: true, force: true });
}
