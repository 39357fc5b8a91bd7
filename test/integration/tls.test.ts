import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCertificate } from '../../scripts/harness/tls-certs';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { connect, type Client } from '../../scripts/harness/ws-clients';

describe('native TLS (wss://)', () => {
  const cert = makeCertificate();
  let herald: HeraldProcess;
  before(async () => {
    herald = await new HeraldProcess({ env: { HERALD_TLS_CERT_FILE: cert.certFile, HERALD_TLS_KEY_FILE: cert.keyFile } }).start();
  });
  after(async () => {
    await herald.stop();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  });

  it('serves wss:// with the configured certificate and delivers broadcasts over it', async () => {
    const clients: Client[] = [];
    try {
      for (let i = 0; i < 4; i++) clients.push(await connect(`${herald.wssUrl}?topics=news`, { ca: cert.pem }));
      const socket = (clients[0].ws as unknown as { _socket: import('node:tls').TLSSocket })._socket;
      assert.equal(socket.getPeerCertificate().fingerprint256, cert.fingerprint);
      assert.equal((await herald.publish('news', 'over TLS')).status, 202);
      await waitFor('every client got it', () => clients.every((c) => c.messages.some((m) => m.data.toString() === 'over TLS')));
      assert.match(herald.output, /"msg":"TLS certificate"/);
      assert.match(herald.output, /"url":"wss:\/\/127\.0\.0\.1:\d+\/ws"/);
    } finally {
      clients.forEach((c) => c.ws.terminate());
    }
  });

  it('is refused by a client that does not trust the certificate, and answers no plain ws://', async () => {
    await assert.rejects(connect(herald.wssUrl), /self-signed certificate/);
    await assert.rejects(connect(herald.wsUrl));
  });
});

describe('TLS files at start', () => {
  it('a missing or mismatched file stops herald with exit 78, naming the key', async () => {
    const cert = makeCertificate();
    const other = makeCertificate({ dir: cert.dir, name: 'other' });
    try {
      const missing = new HeraldProcess({ waitHealthy: false, env: { HERALD_TLS_CERT_FILE: path.join(cert.dir, 'gone.pem'), HERALD_TLS_KEY_FILE: cert.keyFile } });
      await missing.start();
      assert.equal(await missing.waitExit(), 78);
      assert.match(missing.output, /herald: invalid configuration: tls\.certFile: cannot read the file \(ENOENT\): value was ".*gone\.pem"/);

      const mismatched = new HeraldProcess({ waitHealthy: false, env: { HERALD_TLS_CERT_FILE: cert.certFile, HERALD_TLS_KEY_FILE: other.keyFile } });
      await mismatched.start();
      assert.equal(await mismatched.waitExit(), 78);
      assert.match(mismatched.output, /tls\.keyFile: .*other\.key is not the key of the certificate/);
    } finally {
      fs.rmSync(cert.dir, { recursive: true, force: true });
    }
  });
});
