// The load client over wss:// against a herald serving TLS with a self-signed certificate.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { parseLoadArgs, parseTarget } from '../../scripts/loadtest/options';
import type { LoadResult } from '../../scripts/loadtest/result';
import { makeCertificate } from '../../scripts/harness/tls-certs';
import { HeraldProcess } from '../../scripts/harness/herald-process';

const CLI = path.join(__dirname, '..', '..', 'scripts', 'loadtest.js');

function loadtest(args: string[]): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) =>
    execFile(process.execPath, [CLI, ...args], { timeout: 60_000 }, (err, _stdout, stderr) => resolve({ code: err ? Number(err.code ?? -1) : 0, stderr })),
  );
}

describe('load client over wss://', () => {
  it('reads wss:// targets (port 443 by default) and --ca', () => {
    assert.deepEqual(parseTarget('wss://push.example.com/ws?topics=a'), { url: 'wss://push.example.com/ws?topics=a', host: 'push.example.com', port: 443, hostHeader: 'push.example.com', path: '/ws?topics=a', tls: true });
    assert.equal(parseTarget('ws://127.0.0.1:8080/ws').tls, false);
    assert.throws(() => parseLoadArgs(['--ca', '/nonexistent.pem', 'wss://localhost:1/ws']), /--ca: no such file/);
    assert.throws(() => parseTarget('https://localhost/ws'), /only ws:\/\/ and wss:\/\//);
  });

  it('holds wss connections in 2 client processes and receives every broadcast', async () => {
    const cert = makeCertificate();
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'loadtest-wss-'));
    const herald = await new HeraldProcess({ env: { HERALD_TLS_CERT_FILE: cert.certFile, HERALD_TLS_KEY_FILE: cert.keyFile } }).start();
    try {
      const out = path.join(dir, 'r.json');
      const run = await loadtest(['-c', '400', '--per-process', '200', '--ca', cert.certFile, '--publish-via', herald.adminUrl, '--publish-count', '3',
        '--publish-interval', '0.3', '--settle', '1', '--quiet', '--out', out, herald.wssUrl]);
      assert.equal(run.code, 0, run.stderr);
      const r = JSON.parse(fs.readFileSync(out, 'utf8')) as LoadResult;
      assert.equal(r.processes, 2);
      assert.equal(r.connections.connected, 400);
      assert.deepEqual(r.broadcasts.map((b) => b.received), [400, 400, 400]);
      assert.equal(r.messages.lost, 0);

      // Without --ca the self-signed certificate is not trusted: every attempt fails at the handshake.
      const untrusted = path.join(dir, 'u.json');
      await loadtest(['-c', '5', '--retries', '0', '--duration', '1', '--quiet', '--out', untrusted, herald.wssUrl]);
      const u = JSON.parse(fs.readFileSync(untrusted, 'utf8')) as LoadResult;
      assert.equal(u.connections.connected, 0);
    } finally {
      await herald.stop();
      fs.rmSync(dir, { recursive: true, force: true });
      fs.rmSync(cert.dir, { recursive: true, force: true });
    }
  });
});
