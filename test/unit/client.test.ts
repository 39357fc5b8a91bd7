/**
 * herald/client in memory, against a scripted WebSocket: the command
 * protocol it speaks, its seq bookkeeping (once, in order, holes resynced),
 * close codes, reconnect with backoff and resume, token refresh.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../src/client/backoff';
import { HeraldClient } from '../../src/client/herald-client';
import type { WebSocketLike } from '../../src/client/types';
import { waitFor } from '../../scripts/harness/ports';

/** A WebSocket whose server side the test plays. */
class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  onopen: ((event: unknown) => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: ((event: unknown) => void) | null = null;
  readonly sent: Record<string, unknown>[] = [];

  constructor(readonly url: string, readonly protocols?: string | string[]) {
    FakeSocket.all.push(this);
  }

  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }

  close(): void {
    this.readyState = 3;
  }

  // The server's side:
  accept(): void {
    this.readyState = 1;
    this.onopen?.({});
  }

  push(frame: object): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }

  drop(code: number, reason = ''): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** Answers every command not answered yet with ok. */
  okAll(): void {
    for (const c of this.sent.splice(0)) this.push({ type: 'reply', id: c.id, ok: true });
  }
}

/** A JWT-shaped token with these claims (the client reads, never verifies). */
const jwt = (claims: object) => `h.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.s`;

function client(options: Partial<ConstructorParameters<typeof HeraldClient>[0]> = {}) {
  FakeSocket.all = [];
  const c = new HeraldClient({ url: 'ws://herald/ws', WebSocket: FakeSocket, minDelayMs: 5, maxDelayMs: 20, ...options });
  const socket = async (n: number) => {
    const s = await waitFor(`socket ${n}`, () => FakeSocket.all[n]);
    return s;
  };
  return { c, socket };
}

const message = (topic: string, seq: number | undefined, data: string) => ({ type: 'message', topic, ...(seq === undefined ? {} : { seq }), data });

describe('herald/client', () => {
  it('connects with format=envelope and the token as a subprotocol, subscribes, delivers each seq once and in order', async () => {
    const token = jwt({ sub: '42' });
    const { c, socket } = client({ token });
    const room = c.subscribe('room');
    const got: (number | undefined)[] = [];
    room.on('message', (m) => got.push(m.seq));
    c.connect();
    const s = await socket(0);
    assert.equal(s.url, 'ws://herald/ws?format=envelope');
    assert.deepEqual(s.protocols, ['herald', token]);
    s.accept();
    await waitFor('subscribe sent', () => s.sent.length === 1);
    assert.deepEqual(s.sent[0], { id: 1, op: 'subscribe', topic: 'room' });
    s.okAll();
    await waitFor('subscribed', () => room.state === 'subscribed');
    for (const seq of [1, 2, 2, 3, 1]) s.push(message('room', seq, `m${seq}`));
    assert.deepEqual(got, [1, 2, 3]);
    assert.equal(room.lastSeq, 3);
  });

  it('resyncs a topic whose live stream skipped seqs: drops what comes until the replay fills the hole', async () => {
    const { c, socket } = client();
    const room = c.subscribe('room');
    const got: number[] = [];
    room.on('message', (m) => got.push(m.seq!));
    c.connect();
    const s = await socket(0);
    s.accept();
    await waitFor('subscribe', () => s.sent.length === 1);
    s.okAll();
    s.push(message('room', 1, 'a'));
    s.push(message('room', 4, 'd')); // 2 and 3 never came
    await waitFor('resync sent', () => s.sent.length === 2);
    assert.deepEqual(s.sent, [{ id: 2, op: 'unsubscribe', topic: 'room' }, { id: 3, op: 'subscribe', topic: 'room', since: 1 }]);
    s.push(message('room', 5, 'e')); // live, still ahead: dropped
    s.okAll();
    for (const seq of [2, 3, 4, 5]) s.push(message('room', seq, 'x'));
    s.push({ type: 'recovered', topic: 'room', seq: 5, count: 4 });
    s.push(message('room', 6, 'f'));
    assert.deepEqual(got, [1, 2, 3, 4, 5, 6]);
  });

  it('reconnects with backoff and resumes: subscribed topics with since, implicit ones in the query', async () => {
    const { c, socket } = client({ token: jwt({ sub: '42' }) });
    const room = c.subscribe('room');
    const plain = c.subscribe('plain');
    const states: string[] = [];
    c.on('state', (st) => states.push(st));
    c.connect();
    const first = await socket(0);
    first.accept();
    await waitFor('subscribes', () => first.sent.length === 2);
    first.okAll();
    first.push(message('room', 7, 'r'));
    first.push(message('plain', undefined, 'p'));
    first.push(message('broadcast', 12, 'b'));
    first.push(message('user:42', 3, 'u'));
    first.drop(1006);
    const second = await socket(1);
    assert.equal(second.url, `ws://herald/ws?format=envelope&topics=user%3A42&since=${encodeURIComponent('broadcast:12,user:42:3')}`);
    second.accept();
    await waitFor('resubscribed', () => second.sent.length === 2);
    assert.deepEqual(second.sent, [{ id: 3, op: 'subscribe', topic: 'room', since: 7 }, { id: 4, op: 'subscribe', topic: 'plain' }]);
    assert.deepEqual(states, ['connecting', 'connected', 'reconnecting', 'connecting', 'connected']);
    assert.equal(room.state, 'pending');
    second.okAll();
    await waitFor('both subscribed', () => room.state === 'subscribed' && plain.state === 'subscribed');
  });

  it('honours close codes: stops at 4400, 4502 and 1009, and at 4501 without a token source; reconnects with a fresh token at 4501 otherwise', async () => {
    for (const code of [4400, 4502, 1009, 4501, 4599]) {
      const { c, socket } = client({ token: jwt({ sub: '1' }) });
      const closed = new Promise<number>((resolve) => c.on('closed', (info) => resolve(info.code)));
      c.connect();
      const s = await socket(0);
      s.accept();
      s.drop(code);
      assert.equal(await closed, code);
      assert.equal(c.state, 'closed');
      await new Promise((resolve) => setTimeout(resolve, 40));
      assert.equal(FakeSocket.all.length, 1, `no reconnect after ${code}`);
    }
    let fetched = 0;
    const { c, socket } = client({ token: () => jwt({ sub: '1', n: ++fetched }) });
    c.connect();
    (await socket(0)).accept();
    (await socket(0)).drop(4501);
    const second = await socket(1);
    assert.equal(fetched, 2, 'a fresh token for the new connection');
    assert.match(String((second.protocols as string[])[1]), /^h\./);
    for (const code of [1001, 1006, 1011, 4000, 4002, 4003]) {
      const next = FakeSocket.all.length;
      FakeSocket.all.at(-1)!.accept();
      FakeSocket.all.at(-1)!.drop(code);
      await socket(next);
    }
    c.close();
  });

  it('refreshes a token source\'s token before exp with the refresh command', async () => {
    const exp = () => Math.floor(Date.now() / 1000) + 4;
    const { c, socket } = client({ token: () => jwt({ sub: '1', exp: exp() }), refreshBeforeMs: 60_000 });
    c.connect();
    const s = await socket(0);
    s.accept();
    const refresh = await waitFor('refresh sent', () => s.sent.find((m) => m.op === 'refresh'), 5000);
    assert.match(String(refresh.token), /^h\./);
    s.okAll();
    c.close();
  });

  it('surfaces gaps, server subscriptions, presence, and refusals', async () => {
    const { c, socket } = client({ token: jwt({ sub: '1' }) });
    const room = c.subscribe('room', { since: 5 });
    const denied = c.subscribe('secret');
    const events: string[] = [];
    room.on('gap', (g) => events.push(`gap ${g.reason} ${g.first}`));
    room.on('presence', (p) => events.push(`presence ${p.connections}/${p.users}`));
    denied.on('error', (e) => events.push(`error ${e.code}`));
    c.on('subscribed', (topic) => events.push(`server subscribed ${topic}`));
    c.connect();
    const s = await socket(0);
    s.accept();
    await waitFor('two subscribes', () => s.sent.length === 2);
    assert.deepEqual(s.sent[0], { id: 1, op: 'subscribe', topic: 'room', since: 5 });
    s.push({ type: 'reply', id: 1, ok: true });
    s.push({ type: 'reply', id: 2, ok: false, error: { code: 'forbidden', message: 'topic not allowed by token: secret' } });
    s.push({ type: 'gap', topic: 'room', since: 5, first: 40, current: 90, reason: 'expired' });
    s.push(message('room', 40, 'first kept'));
    s.push({ type: 'presence', topic: 'room', connections: 3, users: 2 });
    s.push({ type: 'subscribed', topic: 'news' });
    s.push(message('news', undefined, 'hello'));
    await waitFor('refusal handled', () => denied.state === 'failed');
    assert.equal(room.lastSeq, 40);
    assert.equal(c.subscription('secret'), undefined);
    assert.equal(c.subscription('news')?.byServer, true);
    assert.deepEqual(events.sort(), ['error forbidden', 'gap expired 40', 'presence 3/2', 'server subscribed news']);
  });

  it('retries a rate-limited subscribe after retryAfterMs', async () => {
    const { c, socket } = client();
    c.subscribe('room');
    c.connect();
    const s = await socket(0);
    s.accept();
    await waitFor('subscribe', () => s.sent.length === 1);
    s.push({ type: 'reply', id: 1, ok: false, error: { code: 'rate_limited', message: 'slow down', retryAfterMs: 20 } });
    await waitFor('retried', () => s.sent.length === 2);
    assert.equal(s.sent[1].op, 'subscribe');
    c.close();
  });
});

describe('backoff', () => {
  it('full jitter under a doubling cap', () => {
    const b = new Backoff({ minDelayMs: 100, maxDelayMs: 1000 }, () => 0.999);
    assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next()], [99, 199, 399, 799, 999]);
    b.reset();
    assert.equal(b.next(), 99);
    assert.equal(new Backoff({ minDelayMs: 100, maxDelayMs: 1000 }, () => 0).next(), 0);
  });
});
