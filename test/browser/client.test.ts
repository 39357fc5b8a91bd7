/**
 * herald/client in headless Chromium: a page served locally loads the
 * package's ES module build (nothing from a CDN), subscribes to a topic with
 * history, and sees every message once, in order, through the kill of the
 * worker it is connected to.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { describe, it } from 'node:test';
import { CHROMIUM, findChromium, launchChromium } from '../helpers/chromium';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { makeTestKeys } from '../helpers/tokens';

const ESM = path.join(__dirname, '..', '..', 'pkg', 'esm');
const API_KEY = 'browser-key';

function page(wsUrl: string): string {
  return `<!doctype html><meta charset="utf-8"><title>herald/client</title>
<script type="module">
import { HeraldClient } from '/pkg/client/index.js';
window.seqs = []; window.gaps = []; window.codes = [];
const client = new HeraldClient({ url: ${JSON.stringify(wsUrl)}, token: () => fetch('/token').then((r) => r.text()), minDelayMs: 100, maxDelayMs: 1000 });
const feed = client.subscribe('feed');
feed.on('message', (m) => window.seqs.push(m.seq));
feed.on('subscribed', () => { document.body.dataset.subscribed = String(Number(document.body.dataset.subscribed || 0) + 1); });
client.on('gap', (g) => window.gaps.push(g));
client.on('disconnected', (d) => window.codes.push(d.code));
client.connect();
</script>`;
}

/** Serves the page, the package's ES modules under /pkg/, and fresh tokens at /token. */
function serve(wsUrl: string, token: () => Promise<string>): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const url = req.url ?? '/';
    if (url === '/') return void res.writeHead(200, { 'Content-Type': 'text/html' }).end(page(wsUrl));
    if (url === '/token') return void token().then((t) => res.writeHead(200, { 'Content-Type': 'text/plain' }).end(t));
    const file = path.join(ESM, path.normalize(url.replace(/^\/pkg\//, '/')));
    if (!url.startsWith('/pkg/') || !file.startsWith(ESM) || !fs.existsSync(file)) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('herald/client in a browser', () => {
  it('recovers every message once, in order, when its worker is killed', async () => {
    const executablePath = findChromium();
    assert.ok(executablePath, `no chromium at ${CHROMIUM} and it could not be installed (apt-get install chromium; .ci/run installs it)`);
    const keys = await makeTestKeys();
    const herald = await new HeraldProcess({ env: { HERALD_AUTH: 'true', HERALD_AUTH_HMAC_SECRET: keys.secret, HERALD_API_KEY: API_KEY, HERALD_HISTORY: 'feed=10000/600' } }).start();
    const site = await serve(herald.wsUrl, () => keys.hs256({ sub: 'browser' }));
    const origin = `http://127.0.0.1:${(site.address() as { port: number }).port}`;
    const { browser, close } = await launchChromium(executablePath);
    try {
      const tab = await browser.newPage();
      const elsewhere: string[] = [];
      tab.on('request', (req) => {
        if (!req.url().startsWith(origin) && !req.url().startsWith(herald.wsUrl)) elsewhere.push(req.url());
      });
      await tab.goto(`${origin}/`);
      // Page code runs in the browser; it is passed as a string because the tests compile without DOM types.
      await tab.waitForFunction('Number(document.body.dataset.subscribed) >= 1', undefined, { timeout: 15_000 });

      const worker = await waitFor('the page\'s worker', async () => (await herald.stats()).perWorker.find((w) => w.connections === 1));
      let last = 0;
      for (let i = 1; i <= 300; i++) {
        last = await herald.publishSeq('feed', `m${i}`, API_KEY);
        if (i === 100) process.kill(worker.pid, 'SIGKILL');
      }
      await tab.waitForFunction(`window.seqs.length >= ${last}`, undefined, { timeout: 30_000 });
      const seqs = (await tab.evaluate('window.seqs')) as number[];
      assert.deepEqual(seqs, Array.from({ length: last }, (_, i) => i + 1));
      assert.deepEqual(await tab.evaluate('window.gaps'), []);
      assert.ok(((await tab.evaluate('window.codes')) as number[]).includes(1006), 'the page lost its worker');
      assert.ok(Number(await tab.evaluate('document.body.dataset.subscribed')) >= 2, 'it subscribed again after reconnecting');
      assert.deepEqual(elsewhere, [], 'the page loads nothing from elsewhere');
    } finally {
      await close();
      site.close();
      await herald.stop();
      keys.cleanup();
    }
  });
});
