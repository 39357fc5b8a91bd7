import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { rawExchange } from '../helpers/raw-http';
import { encodeFrame, RawWs } from '../helpers/raw-ws';
import { closeAll, connect } from '../../scripts/harness/ws-clients';

const upgradeRequest = (target: string, headers: Record<string, string | undefined>, method = 'GET') =>
  `${method} ${target} HTTP/1.1\r\nHost: x\r\n${Object.entries(headers)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;

const GOOD_HEADERS = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' };

describe('bad input from clients', () => {
  let herald: HeraldProcess;

  before(async () => {
    herald = await new HeraldProcess({
      env: { HERALD_WORKERS: '1', HERALD_MAX_CLIENT_FRAME_BYTES: '64', HERALD_MAX_CLIENT_MESSAGES: '5', HERALD_MAX_TOPICS: '3' },
    }).start();
  });
  after(async () => {
    await herald?.stop();
  });

  it('answers 404 on unknown paths, for plain requests and upgrades', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${herald.port}/nope`)).status, 404);
    assert.equal((await rawExchange(herald.port, upgradeRequest('/elsewhere', GOOD_HEADERS), 500)).status, 404);
  });

  it('answers a plain GET on /ws with 426 Upgrade Required', async () => {
    const res = await fetch(`http://127.0.0.1:${herald.port}/ws`);
    assert.equal(res.status, 426);
    assert.equal(res.headers.get('upgrade'), 'websocket');
  });

  it('refuses a malformed Sec-WebSocket-Key with 400', async () => {
    const answer = await rawExchange(herald.port, upgradeRequest('/ws', { ...GOOD_HEADERS, 'Sec-WebSocket-Key': 'short' }));
    assert.equal(answer.status, 400);
    assert.match(answer.text, /Sec-WebSocket-Key/);
  });

  it('refuses an unsupported WebSocket version with 426', async () => {
    const answer = await rawExchange(herald.port, upgradeRequest('/ws', { ...GOOD_HEADERS, 'Sec-WebSocket-Version': '8' }));
    assert.equal(answer.status, 426);
    assert.match(answer.text, /Sec-WebSocket-Version: 13/);
  });

  it('answers 426, never 101, to a request that is not a WebSocket upgrade but carries a key', async () => {
    for (const headers of [
      { ...GOOD_HEADERS, Upgrade: undefined },
      { ...GOOD_HEADERS, Upgrade: 'h2c' },
      { ...GOOD_HEADERS, Connection: undefined },
      { ...GOOD_HEADERS, Connection: 'keep-alive' },
    ]) {
      const answer = await rawExchange(herald.port, upgradeRequest('/ws', headers));
      assert.equal(answer.status, 426, JSON.stringify(headers));
      assert.equal(answer.ended, 'closed');
    }
    // Header values are token lists, in any case.
    const listed = await rawExchange(herald.port, upgradeRequest('/ws', { ...GOOD_HEADERS, Upgrade: 'WebSocket', Connection: 'keep-alive, Upgrade' }), 500);
    assert.equal(listed.status, 101);
  });

  it('answers 400 to a handshake that is not a GET', async () => {
    const answer = await rawExchange(herald.port, upgradeRequest('/ws', GOOD_HEADERS, 'POST'));
    assert.equal(answer.status, 400);
    assert.match(answer.text, /method must be GET/);
  });

  it('refuses query parameters with bad escapes or given twice, instead of dropping them', async () => {
    for (const query of ['topics=x,y%zz', 'topics=x%2', 'topics=%FF', 'topics=a&topics=b', 'format=envelope&since=broadcast:1%', 'format=raw&format=envelope', 'x=%zz']) {
      const answer = await rawExchange(herald.port, upgradeRequest(`/ws?${query}`, GOOD_HEADERS));
      assert.equal(answer.status, 400, `${query}: ${answer.text.slice(0, 60)}`);
    }
    // A well-formed escape is decoded: %2C is a comma.
    const ok = await connect(`${herald.wsUrl}?topics=a%2Cb`);
    await herald.publish('b', 'to b');
    await waitFor('escaped topic delivered', () => ok.messages.some((m) => m.data.toString() === 'to b'));
    closeAll([ok]);
  });

  it('closes a refused connection after its answer, even with another upgrade pipelined behind it', async () => {
    const good = upgradeRequest('/ws', GOOD_HEADERS);
    for (const refused of [upgradeRequest('/ws?topics=bad%20x', GOOD_HEADERS), upgradeRequest('/ws', { ...GOOD_HEADERS, Upgrade: undefined }), 'GET /ws HTTP/1.1\r\nHost: x\r\n\r\n']) {
      const answer = await rawExchange(herald.port, refused + good);
      assert.doesNotMatch(answer.text, /101 Switching Protocols/, refused);
      assert.equal(answer.ended, 'closed');
    }
  });

  it('survives garbage that is not HTTP at all', async () => {
    await rawExchange(herald.port, '\x16\x03\x01\x02\x00garbage\r\n\r\n', 500);
    const c = await connect(herald.wsUrl);
    closeAll([c]);
  });

  it('refuses bad topic names and too many topics with 400 and a reason', async () => {
    await assert.rejects(connect(`${herald.wsUrl}?topics=ok,bad%20name`), (err: Error & { status?: number }) => {
      assert.equal(err.status, 400);
      assert.match(err.message, /invalid topic "bad name"/);
      return true;
    });
    await assert.rejects(connect(`${herald.wsUrl}?topics=${'x'.repeat(129)}`), { status: 400 });
    await assert.rejects(connect(`${herald.wsUrl}?topics=a,,b`), { status: 400 });
    await assert.rejects(connect(`${herald.wsUrl}?topics=a,b,c,d`), (err: Error & { status?: number }) => {
      assert.equal(err.status, 400);
      assert.match(err.message, /too many topics: at most 3/);
      return true;
    });
    const ok = await connect(`${herald.wsUrl}?topics=a,b,c,broadcast`);
    closeAll([ok]);
  });

  it('closes a client that sends an oversized frame with 1009', async () => {
    const c = await connect(herald.wsUrl);
    c.ws.send(Buffer.alloc(65, 1));
    assert.equal(await c.closed, 1009);
  });

  it('drops a client that sends a frame over the 64 KiB hard limit', async () => {
    const c = await connect(herald.wsUrl);
    c.ws.send(Buffer.alloc(70 * 1024, 1));
    assert.equal(await c.closed, 1006);
  });

  it('closes a client that floods messages with 4400', async () => {
    const c = await connect(herald.wsUrl);
    for (let i = 0; i < 6; i++) c.ws.send('hi');
    assert.equal(await c.closed, 4400);
    assert.match(c.closeReason ?? '', /too many client messages/);
  });

  it('counts pings and pongs toward the frame limit: a ping flood or pong flood is closed with 4400', async () => {
    for (const opcode of [0x9, 0xa]) {
      const ws = await RawWs.open(herald.port);
      ws.send(Buffer.concat(Array.from({ length: 5000 }, () => encodeFrame({ opcode }))));
      await ws.ended;
      assert.equal(ws.closeCode, 4400, `opcode ${opcode}`);
      // HERALD_MAX_CLIENT_MESSAGES is 5: uWS answers each ping before herald sees it, so a few pongs go out, not 5000.
      assert.ok(ws.count(0xa) <= 6, `${ws.count(0xa)} pongs for opcode ${opcode}`);
    }
  });

  it('lets a client send a few small messages without harm', async () => {
    const c = await connect(herald.wsUrl);
    for (let i = 0; i < 3; i++) c.ws.send('ping me');
    await herald.publish('broadcast', 'still here');
    await waitFor('delivered', () => c.messages.length === 1);
    assert.equal(c.closeCode, undefined);
    closeAll([c]);
  });

  it('counts the closes in stats', async () => {
    const stats = await herald.stats();
    const w = stats.perWorker[0].stats as Record<string, number>;
    assert.equal(w.clientFloodCloses, 3);
    assert.equal(w.oversizedFrameCloses, 2);
  });
});

describe('capacity', () => {
  it('answers 503 past the per-worker connection cap and accepts again after a close', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_MAX_CONNECTIONS_PER_WORKER: '20' } }).start();
    try {
      const clients = await Promise.all(Array.from({ length: 20 }, () => connect(herald.wsUrl)));
      await assert.rejects(connect(herald.wsUrl), (err: Error & { status?: number }) => {
        assert.equal(err.status, 503);
        assert.match(err.message, /capacity/);
        return true;
      });
      clients[0].ws.close();
      await clients[0].closed;
      await waitFor('a slot is free again', async () => (await herald.stats()).connections === 19);
      const again = await connect(herald.wsUrl);
      closeAll([...clients, again]);
    } finally {
      await herald.stop();
    }
  });
});
