import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { describe, it } from 'node:test';
import { makeCertificate, type TestCertificate } from '../../scripts/harness/tls-certs';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { ReconnectingClient } from '../helpers/reconnecting-client';
import { connect } from '../../scripts/harness/ws-clients';

/**
 * With net.ipv4.tcp_migrate_req at 0 (the kernel's default; kernels before 5.14 have no such setting), closing
 * a listen socket resets the connections in its accept queue (TCP handshake done, not accepted yet): SO_REUSEPORT
 * gives each worker its own queue, and the kernel moves them to another worker only when the setting is 1.
 */
function migratesQueuedConnections(): boolean {
  try {
    return fs.readFileSync('/proc/sys/net/ipv4/tcp_migrate_req', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/** tls.connect as ws calls it, noting when the TLS handshake is done: a reset before that came before herald saw any HTTP. */
function tlsNoting(state: { secured: boolean }): typeof net.createConnection {
  return ((options: tls.ConnectionOptions) => {
    const socket = tls.connect({ ...options, path: undefined, servername: options.servername ?? (net.isIP(options.host ?? '') ? '' : options.host) });
    socket.once('secureConnect', () => (state.secured = true));
    return socket;
  }) as unknown as typeof net.createConnection;
}

/** Puts `next`'s files at `current`'s paths, each by an atomic rename, as a certificate renewal should. */
function renew(current: TestCertificate, next: TestCertificate): void {
  for (const [from, to] of [[next.keyFile, current.keyFile], [next.certFile, current.certFile]]) {
    fs.copyFileSync(from, `${to}.new`);
    fs.renameSync(`${to}.new`, to);
  }
}

describe('certificate renewal', () => {
  it('a rolling restart serves the renewed certificate: no connection refused or dropped, moved clients get the new one', async () => {
    const old = makeCertificate();
    const renewed = makeCertificate({ name: 'renewed', cn: 'localhost' });
    const ca = [old.pem, renewed.pem];
    const herald = await new HeraldProcess({
      env: { HERALD_WORKERS: '2', HERALD_RESTART_DRAIN_WINDOW: '2', HERALD_TLS_CERT_FILE: old.certFile, HERALD_TLS_KEY_FILE: old.keyFile },
    }).start();
    const clients = Array.from({ length: 300 }, () => new ReconnectingClient(herald.wssUrl, { ca }));
    // New clients keep arriving throughout the roll, one at a time: each attempt is a fresh client, so one
    // reset by the kernel (see migratesQueuedConnections) is retried by the next.
    const arrivals: { certificate?: string; error?: string; reset?: boolean; at: number }[] = [];
    let arriving = true;
    const arrive = async () => {
      while (arriving) {
        const state = { secured: false };
        try {
          const c = await connect(herald.wssUrl, { ca, createConnection: tlsNoting(state) });
          const socket = (c.ws as unknown as { _socket: tls.TLSSocket })._socket;
          arrivals.push({ certificate: socket.getPeerCertificate().fingerprint256, at: Date.now() });
          c.ws.terminate();
        } catch (err) {
          arrivals.push({ error: (err as Error).message, reset: !state.secured && (err as NodeJS.ErrnoException).code === 'ECONNRESET', at: Date.now() });
        }
        await sleep(25);
      }
    };
    let arriver: Promise<void> | undefined;
    try {
      for (let i = 0; i < clients.length; i += 100) await Promise.all(clients.slice(i, i + 100).map((c) => c.open()));
      await waitFor('300 connected', async () => (await herald.stats()).connections === 300);
      assert.ok(clients.every((c) => c.certificates[0] === old.fingerprint));

      renew(old, renewed);
      arriver = arrive();
      herald.child.kill('SIGHUP');
      await waitFor('roll finished', () => /rolling restart done/.test(herald.output), 40_000, 100);
      const done = Date.now();
      await waitFor('everyone back', async () => clients.every((c) => c.isOpen) && (await herald.stats()).connections >= 300, 15_000, 100);
      await sleep(300);
      arriving = false;
      await arriver;

      assert.deepEqual(clients.flatMap((c) => c.failures), [], 'no reconnect was refused');
      const codes = new Set(clients.flatMap((c) => c.closes.map((x) => x.code)));
      assert.deepEqual([...codes], [4000], 'every close was the rolling restart\'s 4000, none a drop');
      assert.ok(clients.every((c) => c.certificates.length >= 2), 'every client was moved');
      assert.ok(clients.every((c) => c.certificates.at(-1) === renewed.fingerprint), 'moved clients got the renewed certificate');
      // Such a reset comes before herald saw the connection, so it is no refusal: herald answered every upgrade it saw.
      assert.deepEqual(arrivals.filter((a) => a.error && !a.reset).map((a) => a.error), [], 'no new client was refused during the roll');
      const resets = arrivals.flatMap((a, i) => (a.reset ? [i] : []));
      if (migratesQueuedConnections()) assert.deepEqual(resets, [], 'with tcp_migrate_req=1 no queued connection is reset');
      // Only the one arrival in flight can be in an old worker's queue when it stops listening: one per replaced worker at most.
      assert.ok(resets.length <= 2, `${resets.length} arrivals reset`);
      assert.ok(resets.every((i) => arrivals[i + 1]?.certificate !== undefined), 'the attempt after a reset got in');
      const late = arrivals.filter((a) => a.at > done && !a.error);
      assert.ok(late.length > 0 && late.every((a) => a.certificate === renewed.fingerprint), 'after the roll only the renewed certificate is served');
      assert.ok(arrivals.some((a) => a.certificate === old.fingerprint), 'old workers served the old certificate until replaced');

      await herald.publish('broadcast', 'renewed');
      await waitFor('all got the broadcast', () => clients.every((c) => c.current!.messages.some((m) => m.data.toString() === 'renewed')), 10_000);
    } finally {
      arriving = false;
      await arriver;
      clients.forEach((c) => c.stop());
      assert.equal(await herald.stop(), 0);
      fs.rmSync(old.dir, { recursive: true, force: true });
      fs.rmSync(renewed.dir, { recursive: true, force: true });
    }
  });

  it('a renewal with a key that does not match stops the roll before any worker is touched', async () => {
    const cert = makeCertificate();
    const stranger = makeCertificate({ name: 'stranger' });
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_TLS_CERT_FILE: cert.certFile, HERALD_TLS_KEY_FILE: cert.keyFile } }).start();
    try {
      const pid = (await herald.stats()).perWorker[0].pid;
      fs.copyFileSync(stranger.keyFile, cert.keyFile);
      herald.child.kill('SIGHUP');
      await waitFor('refusal logged', () => /rolling restart refused: invalid configuration/.test(herald.output));
      assert.match(herald.output, /tls\.keyFile: .*server\.key is not the key of the certificate/);
      assert.equal((await herald.stats()).perWorker[0].pid, pid, 'the running worker was kept');
      const client = await connect(herald.wssUrl, { ca: cert.pem });
      client.ws.terminate();
    } finally {
      await herald.stop();
      fs.rmSync(cert.dir, { recursive: true, force: true });
      fs.rmSync(stranger.dir, { recursive: true, force: true });
    }
  });
});
