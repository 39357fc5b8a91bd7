import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { makeCertificate } from '../../scripts/harness/tls-certs';
import { trackChild } from '../../scripts/harness/children';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { freePort, waitFor } from '../../scripts/harness/ports';
import { closeAll, connect, type Client } from '../../scripts/harness/ws-clients';

const FRAGMENT = path.join(__dirname, '..', '..', '..', 'scripts', 'proxy', 'haproxy-herald.cfg');

/** The README's HAProxy fragment with this test's ports and certificate; every replaced text must be there. */
function templated(ports: { xff: number; proxyV2: number; herald: number; admin: number }, pemFile: string): string {
  let text = fs.readFileSync(FRAGMENT, 'utf8');
  const replace = (from: string, to: string) => {
    assert.ok(text.includes(from), `${FRAGMENT} no longer holds "${from}": update this test with it`);
    text = text.split(from).join(to);
  };
  replace('bind :443 ', `bind 127.0.0.1:${ports.xff} `);
  replace('bind :8443 ', `bind 127.0.0.1:${ports.proxyV2} `);
  replace('/etc/haproxy/certs/push.example.com.pem', pemFile);
  replace('127.0.0.1:8080', `127.0.0.1:${ports.herald}`);
  replace('port 9090', `port ${ports.admin}`);
  return text;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => (s.destroy(), resolve(true)));
    s.on('error', () => resolve(false));
  });
}

/** HAProxy in the foreground as this user, with its own config in a temp folder; herald runs with `env`. */
async function behindHaproxy(env: Record<string, string>) {
  const cert = makeCertificate();
  const pem = path.join(cert.dir, 'haproxy.pem');
  fs.writeFileSync(pem, Buffer.concat([fs.readFileSync(cert.certFile), fs.readFileSync(cert.keyFile)]));
    // One worker: per-IP limits hold per worker, and the kernel spreads connections over workers.
  const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_LOG_LEVEL: 'debug', HERALD_PER_IP_MAX_CONNECTIONS: '2', ...env } }).start();
  const ports = { xff: await freePort(), proxyV2: await freePort(), herald: herald.port, admin: herald.adminPort };
  const config = path.join(cert.dir, 'haproxy.cfg');
  fs.writeFileSync(config, templated(ports, pem));
  let output = '';
  const haproxy: ChildProcess = trackChild(spawn('haproxy', ['-db', '-f', config], { stdio: ['ignore', 'pipe', 'pipe'] }));
  haproxy.stdout!.on('data', (d: Buffer) => (output += d));
  haproxy.stderr!.on('data', (d: Buffer) => (output += d));
  const stop = async () => {
    if (haproxy.exitCode === null) {
      haproxy.kill('SIGTERM');
      await new Promise((r) => haproxy.once('exit', r));
    }
    await herald.stop();
    fs.rmSync(cert.dir, { recursive: true, force: true });
  };
  try {
    await waitFor('haproxy listening', async () => {
      if (haproxy.exitCode !== null) throw new Error(`haproxy exited with ${haproxy.exitCode}: ${output}`);
      return (await listening(ports.xff)) && (await listening(ports.proxyV2));
    });
  } catch (err) {
    await stop();
    throw err;
  }
  return { herald, ports, ca: cert.pem, stop };
}

const events = (output: string, event: string) =>
  output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.event === event);

describe('herald behind HAProxy (scripts/proxy/haproxy-herald.cfg)', () => {
  before(() => {
    const r = spawnSync('haproxy', ['-v'], { encoding: 'utf8' });
    assert.ok(!r.error, `haproxy is missing (.ci/run installs Debian's haproxy): ${r.error?.message}`);
  });

  for (const mode of ['xff', 'proxyV2'] as const) {
    const title = mode === 'xff' ? 'HTTP mode, X-Forwarded-For' : 'TCP mode, PROXY protocol v2';
    describe(title, () => {
      let setup: Awaited<ReturnType<typeof behindHaproxy>>;
      const clients: Client[] = [];
      before(async () => {
        setup = await behindHaproxy({ HERALD_TRUSTED_PROXIES: '127.0.0.1', ...(mode === 'proxyV2' ? { HERALD_PROXY_PROTOCOL: 'true' } : {}) });
      });
      after(async () => {
        closeAll(clients);
        await setup?.stop();
      });
      const through = (localAddress: string, headers: Record<string, string> = {}) =>
        connect(`wss://localhost:${setup.ports[mode]}/ws`, { ca: setup.ca, localAddress, headers });

      it('a wss:// client gets a broadcast through HAProxy, and herald sees the client\'s own address', async () => {
        clients.push(await through('127.0.0.5'));
        assert.equal((await setup.herald.publish('broadcast', 'through the proxy')).status, 202);
        await waitFor('broadcast received', () => clients[0].messages.some((m) => m.data.toString() === 'through the proxy'));
        await waitFor('connect line', () => events(setup.herald.output, 'connect').some((l) => l.ip === '127.0.0.5'));
      });

      it('the per-IP limit counts each client behind the proxy, and a spoofed X-Forwarded-For changes nothing', async () => {
        clients.push(await through('127.0.0.5', { 'X-Forwarded-For': '198.51.100.1' }));
        const third = await through('127.0.0.5', { 'X-Forwarded-For': '198.51.100.2' }).catch((e: Error & { status?: number }) => e);
        assert.equal((third as { status?: number }).status, 429, 'the third from 127.0.0.5');
        clients.push(await through('127.0.0.6', { 'X-Forwarded-For': '127.0.0.5' }));
        await waitFor('connect line', () => events(setup.herald.output, 'connect').some((l) => l.ip === '127.0.0.6'));
        assert.ok(!events(setup.herald.output, 'connect').some((l) => String(l.ip).startsWith('198.51.100.')));
      });
    });
  }
});
