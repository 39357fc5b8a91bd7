import assert from 'node:assert/strict';
import type net from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { proxyV2Header, rawUpgrade } from '../helpers/proxy-protocol';

/**
 * The per-IP limit (2 connections per address here) counts the address herald
 * believes: the PROXY header's or X-Forwarded-For's only when the socket's peer
 * is a trusted proxy (127.0.0.2); any other peer (127.0.0.3) is counted as
 * itself, whatever it claims. Loopback aliases are distinct source addresses.
 */
const TRUSTED = '127.0.0.2';
const UNTRUSTED = '127.0.0.3';

describe('client address behind trusted proxies', () => {
  const sockets: net.Socket[] = [];
  const hold = async (upgrade: Promise<{ status: number; socket: net.Socket }>) => {
    const { status, socket } = await upgrade;
    sockets.push(socket);
    return status;
  };
  after(() => sockets.forEach((s) => s.destroy()));

  describe('PROXY protocol v2', () => {
    let herald: HeraldProcess;
    before(async () => {
      herald = await new HeraldProcess({
        env: { HERALD_WORKERS: '1', HERALD_PER_IP_MAX_CONNECTIONS: '2', HERALD_PROXY_PROTOCOL: 'true', HERALD_TRUSTED_PROXIES: `${TRUSTED},10.0.0.0/8`, HERALD_LOG_LEVEL: 'debug' },
      }).start();
    });
    after(() => herald.stop());
    const via = (peer: string, claimed?: string) => rawUpgrade(herald.port, { localAddress: peer, prefix: claimed ? proxyV2Header(claimed, '127.0.0.1') : undefined });

    it('counts connections from a trusted proxy under the address in its PROXY header', async () => {
      assert.equal(await hold(via(TRUSTED, '203.0.113.7')), 101);
      assert.equal(await hold(via(TRUSTED, '203.0.113.7')), 101);
      assert.equal(await hold(via(TRUSTED, '203.0.113.7')), 429, 'the third from 203.0.113.7');
      assert.equal(await hold(via(TRUSTED, '203.0.113.8')), 101, 'another client behind the same proxy');
      assert.equal(await hold(via(TRUSTED, '2001:db8::42')), 101);
      await waitFor('connect lines with the client addresses', () => /"event":"connect","ip":"203\.0\.113\.7"/.test(herald.output) && /"event":"connect","ip":"2001:db8::42"/.test(herald.output));
    });

    it('ignores the PROXY header of an untrusted peer, and counts the peer', async () => {
      assert.equal(await hold(via(UNTRUSTED, '198.51.100.1')), 101);
      assert.equal(await hold(via(UNTRUSTED, '198.51.100.2')), 101);
      assert.equal(await hold(via(UNTRUSTED, '198.51.100.3')), 429, `the third from ${UNTRUSTED}, whatever it claims`);
      assert.equal(await hold(via(UNTRUSTED)), 429);
    });

    it('refuses an upgrade from a trusted proxy that sent no PROXY header', async () => {
      assert.equal(await hold(via(TRUSTED)), 400);
      const refused = (await herald.stats()).perWorker[0].stats!.upgradesRefused as Record<string, number>;
      assert.equal(refused.proxy_header_missing, 1);
      assert.equal(refused.ip_connections, 3);
      await waitFor('refuse line', () => /"event":"refuse","ip":"127\.0\.0\.2","status":400,"reason":"proxy_header_missing"/.test(herald.output));
    });
  });

  describe('X-Forwarded-For', () => {
    let herald: HeraldProcess;
    before(async () => {
      herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_PER_IP_MAX_CONNECTIONS: '2', HERALD_TRUSTED_PROXIES: TRUSTED, HERALD_LOG_LEVEL: 'debug' } }).start();
    });
    after(() => herald.stop());
    const via = (peer: string, ...forwarded: string[]) => rawUpgrade(herald.port, { localAddress: peer, headers: forwarded.map((f) => `X-Forwarded-For: ${f}`) });

    it('from a trusted proxy: the address the proxy appended, not what the client wrote before it', async () => {
      assert.equal(await hold(via(TRUSTED, '6.6.6.6, 198.51.100.1')), 101);
      assert.equal(await hold(via(TRUSTED, '7.7.7.7, 198.51.100.1')), 101);
      assert.equal(await hold(via(TRUSTED, '198.51.100.1')), 429, 'the third from 198.51.100.1');
      // A client's own header, and then the proxy's own line appended as a second header.
      assert.equal(await hold(via(TRUSTED, '198.51.100.1', '198.51.100.9')), 101, 'every X-Forwarded-For header is read, the last one last');
      assert.equal(await hold(via(TRUSTED)), 101, 'no header: the proxy itself');
      await waitFor('connect line with the client address', () => /"event":"connect","ip":"198\.51\.100\.9"/.test(herald.output));
    });

    it('from anyone else: ignored, spoofed or not', async () => {
      assert.equal(await hold(via(UNTRUSTED, '198.51.100.50')), 101);
      assert.equal(await hold(via(UNTRUSTED, '198.51.100.51')), 101);
      assert.equal(await hold(via(UNTRUSTED, '198.51.100.52')), 429, `counted as ${UNTRUSTED}`);
      assert.doesNotMatch(herald.output, /"ip":"198\.51\.100\.5\d"/);
    });

    it('frees the client address\'s slot when its connection closes', async () => {
      const first = await rawUpgrade(herald.port, { localAddress: TRUSTED, headers: ['X-Forwarded-For: 192.0.2.77'] });
      const second = await rawUpgrade(herald.port, { localAddress: TRUSTED, headers: ['X-Forwarded-For: 192.0.2.77'] });
      sockets.push(second.socket);
      assert.deepEqual([first.status, second.status], [101, 101]);
      const before = (await herald.stats()).connections;
      first.socket.destroy();
      await waitFor('closed', async () => (await herald.stats()).connections === before - 1);
      assert.equal(await hold(via(TRUSTED, '192.0.2.77')), 101);
    });
  });
});
