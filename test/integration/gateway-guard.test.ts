import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ConnectionAuth } from '../../src/auth/connection-auth';
import { HistoryRules } from '../../src/broker/history-rules';
import { LocalBrokerClient } from '../../src/broker/local-broker';
import { loadConfig } from '../../src/config';
import { Hub } from '../../src/hub/hub';
import { createLogger } from '../../src/logger';
import { newWorkerStats } from '../../src/metrics/worker-stats';
import { loadNativeUws } from '../../src/native-uws';
import { ConnectionRegistry } from '../../src/transport/connection-registry';
import { createGateway, type Gateway } from '../../src/transport/gateway-app';
import { rawExchange } from '../helpers/raw-http';

const handshake = 'GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';

describe('a bug in a gateway request handler', () => {
  let gateway: Gateway;
  let port: number;
  const stats = newWorkerStats(0);

  before(async () => {
    const config = loadConfig({ NODE_ENV: 'test', HERALD_HOST: '127.0.0.1', HERALD_PORT: '0' });
    // A real uWS app whose auth step throws, standing in for any bug on the upgrade path.
    const auth = { upgrade: () => { throw new Error('bug on the upgrade path'); } } as unknown as ConnectionAuth;
    const uws = loadNativeUws();
    const app = uws.App();
    const log = createLogger('silent', 'worker', 0);
    const hub = new Hub({ sink: app, stats, log, readCacheMs: 1000, openBroker: (handlers) => new LocalBrokerClient(new HistoryRules([]), () => {}, handlers) });
    const registry = new ConnectionRegistry();
    gateway = createGateway({ uws, app, config, log, stats, hub, registry, capacity: 100, auth, observers: [registry] });
    port = await gateway.listen();
  });
  after(() => gateway?.stopAccepting());

  it('answers 500 and keeps serving', async () => {
    for (let i = 0; i < 3; i++) {
      const answer = await rawExchange(port, handshake);
      assert.equal(answer.status, 500, answer.text);
      assert.equal(answer.ended, 'closed');
    }
    assert.equal(stats.upgradesRefused.internal_error, 3);
    assert.equal((await rawExchange(port, 'GET /nope HTTP/1.1\r\nHost: x\r\n\r\n', 500)).status, 404);
  });
});
