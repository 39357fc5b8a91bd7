import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { chromium } from 'playwright-core';
import { makeCertificate } from '../../scripts/harness/tls-certs';
import { CHROMIUM, findChromium, HEADLESS_ARGS } from '../helpers/chromium';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';

/** Chromium trusts exactly this self-signed certificate: its public key's SHA-256, as --ignore-certificate-errors-spki-list wants it. */
function spkiHash(pem: Buffer): string {
  const der = new crypto.X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' });
  return crypto.createHash('sha256').update(der).digest('base64');
}

describe('wss:// from a browser', () => {
  it('headless Chromium connects to herald over TLS and gets a broadcast', async () => {
    const executablePath = findChromium();
    assert.ok(executablePath, `no chromium at ${CHROMIUM} and it could not be installed (apt-get install chromium; .ci/run installs it)`);
    const cert = makeCertificate();
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-chromium-'));
    const herald = new HeraldProcess({ env: { HERALD_TLS_CERT_FILE: cert.certFile, HERALD_TLS_KEY_FILE: cert.keyFile } });
    const browser = await chromium.launchPersistentContext(profile, {
      timeout: 30_000,
      executablePath,
      headless: true,
      args: [...HEADLESS_ARGS, `--ignore-certificate-errors-spki-list=${spkiHash(cert.pem)}`],
    });
    try {
      await herald.start();
      const page = await browser.newPage();
      // A page from a loopback origin: Chromium blocks pages of no origin (about:blank) from
      // opening loopback sockets (ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS).
      await page.goto(`${herald.adminUrl}/health`);
      // Page code runs in the browser; passed as a string because the tests compile without DOM types.
      await page.evaluate(`new Promise((resolve, reject) => {
        window.received = [];
        const ws = new WebSocket(${JSON.stringify(herald.wssUrl)});
        ws.onmessage = (e) => window.received.push(e.data);
        ws.onopen = () => resolve();
        ws.onerror = () => reject(new Error('wss connection failed'));
      })`);
      await waitFor('herald counts the browser', async () => (await herald.stats()).connections === 1);
      assert.equal((await herald.publish('broadcast', 'hello, browser')).status, 202);
      await page.waitForFunction('window.received.includes("hello, browser")', undefined, { timeout: 10_000 });
    } finally {
      await browser.close();
      if (herald.child) await herald.stop();
      fs.rmSync(profile, { recursive: true, force: true });
      fs.rmSync(cert.dir, { recursive: true, force: true });
    }
  });
});
