import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CHROMIUM, findChromium, launchChromium } from '../helpers/chromium';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { closeAll, connectMany } from '../../scripts/harness/ws-clients';

// The README's picture is refreshed only on request, so a test run leaves the work tree clean.
const SCREENSHOT = process.env.HERALD_UPDATE_SCREENSHOT
  ? path.join(__dirname, '..', '..', '..', 'docs', 'dashboard.png')
  : path.join(os.tmpdir(), `herald-dashboard-${process.pid}.png`);

describe('dashboard', () => {
  it('renders live charts and the worker table in headless Chromium', async () => {
    const executablePath = findChromium();
    assert.ok(executablePath, `no chromium at ${CHROMIUM} and it could not be installed (apt-get install chromium; .ci/run installs it)`);

    const { browser, close } = await launchChromium(executablePath);
    const herald = new HeraldProcess({ env: { HERALD_WORKERS: '2' } });
    let clients: Awaited<ReturnType<typeof connectMany>> = [];
    let publisher: NodeJS.Timeout | undefined;
    try {
      await herald.start();
      clients = await connectMany(herald.wsUrl, 300);
      publisher = setInterval(() => void herald.publish('broadcast', `tick ${Date.now()}`).catch(() => {}), 100);
      const page = await browser.newPage();
      const external: string[] = [];
      page.on('request', (req) => {
        if (!req.url().startsWith(herald.adminUrl)) external.push(req.url());
      });
      const response = await page.goto(`${herald.adminUrl}/?interval=300`);
      assert.equal(response?.status(), 200);
      // Page code runs in the browser; it is passed as a string because the tests compile without DOM types.
      await page.waitForFunction('Number(document.body.dataset.points) >= 8', undefined, { timeout: 15_000 });

      assert.equal(await page.locator('#workers tbody tr').count(), 2);
      const rows = await page.locator('#workers tbody tr').allInnerTexts();
      const connections = rows.map((r) => Number(r.split('\t')[3]));
      assert.equal(connections.reduce((a, b) => a + b, 0), 300, rows.join(' | '));
      assert.equal(await page.locator('#v-connections').innerText(), '300');
      assert.match(await page.locator('#health').innerText(), /healthy/);

      // Each chart drew a line: count coloured pixels (the plotted series) in its canvas.
      const inked = (await page.evaluate(`['c-connections', 'c-messages', 'c-memory'].map((id) => {
        const canvas = document.getElementById(id);
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let coloured = 0;
        for (let i = 0; i < data.length; i += 4) {
          const r = data[i], g = data[i + 1], b = data[i + 2], a = data[i + 3];
          if (a > 200 && Math.max(r, g, b) - Math.min(r, g, b) > 60) coloured++;
        }
        return coloured;
      })`)) as number[];
      assert.ok(inked.every((n) => n > 200), `coloured pixels per chart: ${inked}`);
      assert.ok(Number((await page.locator('#v-messages').innerText()).split(' ')[0]) > 0, 'messages/s above zero');

      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      const png = await page.screenshot({ path: SCREENSHOT, fullPage: true });
      assert.ok(png.length > 20_000, `screenshot of ${png.length} bytes`);
      assert.deepEqual(external, [], 'the page loads nothing from elsewhere');
    } finally {
      clearInterval(publisher);
      closeAll(clients);
      await close();
      if (herald.child) await herald.stop();
    }
  });
});
