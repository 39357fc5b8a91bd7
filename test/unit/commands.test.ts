/**
 * Commands, admin control and presence in the hub, in memory: no socket, a
 * broker whose timing the test controls, tokens from a table.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Identity, VerifyResult } from '../../src/auth/jwt-verifier';
import type { ClientData } from '../../src/hub/client-socket';
import type { TokenAuthority } from '../../src/hub/commands';
import { Hub } from '../../src/hub/hub';
import { envelopeTopic, holdTopic } from '../../src/hub/topic-names';
import { createLogger } from '../../src/logger';
import { newWorkerStats } from '../../src/metrics/worker-stats';
import { CloseCode } from '../../src/protocol/close-codes';
import type { Command } from '../../src/protocol/wire';
import { encodeControl, CONTROL_TOPIC } from '../../src/protocol/control';
import { MemoryTransport, type MemorySocket } from '../helpers/memory-transport';
import { waitFor } from '../../scripts/harness/ports';
import { ScriptedBroker } from '../helpers/scripted-broker';

const log = createLogger('silent', 'script');
const settle = async (turns = 5) => {
  for (let i = 0; i < turns; i++) await new Promise<void>((resolve) => setImmediate(resolve));
};

/** Tokens are looked up in a table: "<name>" -> what verification says. */
class TableAuth implements TokenAuthority {
  readonly tokens = new Map<string, VerifyResult>();
  /** Per-topic token checks wait until release() while set. */
  hold = false;
  private held: (() => void)[] = [];

  grant(token: string, identity: Identity): void {
    this.tokens.set(token, { ok: true, identity });
  }

  async verify(token: string): Promise<VerifyResult> {
    if (this.hold) await new Promise<void>((resolve) => this.held.push(resolve));
    return this.tokens.get(token) ?? { ok: false, reason: 'token malformed', refusal: 'auth_malformed' };
  }

  release(): void {
    for (const resolve of this.held.splice(0)) resolve();
  }

  refreshed(ws: { getUserData(): ClientData }, identity: Identity): void {
    const data = ws.getUserData();
    data.exp = identity.exp;
    data.claims = identity.topics;
  }
}

function setup(options: { auth?: boolean; maxTopics?: number } = {}) {
  const transport = new MemoryTransport();
  const broker = new ScriptedBroker((t) => t.startsWith('h:'));
  const auth = options.auth === false ? undefined : new TableAuth();
  const hub = new Hub({ sink: transport, stats: newWorkerStats(0), log, openBroker: broker.open, readCacheMs: 60_000, maxTopics: options.maxTopics ?? 4, auth, subscribeConfirmMs: 200 });
  transport.onSubscription = (topic, n, o, socket) => hub.onSubscription(socket, topic, n, o);
  transport.onClose = (socket) => hub.users?.closed(socket);
  /** Opens a connection as the gateway does: envelope (with a session) unless raw. */
  const open = (data: Omit<ClientData, 'session'> = {}, raw = false): MemorySocket => {
    const ws = transport.socket(raw ? { ...data } : { ...data, session: { since: new Map(), closed: false } });
    const topics = data.sub ? [`user:${data.sub}`] : [];
    if (raw) for (const t of ['broadcast', ...topics]) ws.subscribe(t);
    else hub.recovery.open(ws, topics, ws.data.session!);
    hub.users?.opened(ws);
    return ws;
  };
  let nextId = 1;
  /** Runs a command and waits for its reply. */
  const run = async (ws: MemorySocket, command: WithoutId<Command>) => {
    const id = nextId++;
    hub.commands.run(ws, { ...command, id } as Command);
    return waitFor(`reply ${id}`, () => ws.parsed().find((f) => f.type === 'reply' && f.id === id), 2000, 5);
  };
  const control = (message: Parameters<typeof encodeControl>[0]) => broker.handlers!.onMessage({ topic: CONTROL_TOPIC, payload: encodeControl(message) });
  return { transport, broker, hub, auth, open, run, control };
}

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

const data = (ws: MemorySocket) => ws.parsed().filter((f) => f.type === 'message').map((f) => `${f.topic}=${f.data}`);

describe('commands: subscribe and unsubscribe', () => {
  it('subscribe replies once the broker confirmed; messages flow until unsubscribe', async () => {
    const { broker, open, run } = setup({ auth: false });
    const ws = open();
    assert.deepEqual(await run(ws, { op: 'subscribe', topic: 'room' }), { type: 'reply', id: 1, ok: true });
    assert.ok(broker.subscribed.has('room'));
    assert.ok(ws.isSubscribed(envelopeTopic('room')) && !ws.isSubscribed(holdTopic('room')));
    await broker.publish('room', Buffer.from('one'));
    broker.deliver();
    assert.equal((await run(ws, { op: 'unsubscribe', topic: 'room' })).ok, true);
    assert.ok(!broker.subscribed.has('room'), 'the worker left the topic in the broker');
    await broker.publish('room', Buffer.from('two'));
    broker.deliver();
    assert.deepEqual(data(ws), ['room=one']);
  });

  it('says already_subscribed, not_subscribed, and refuses to leave the implicit topics', async () => {
    const { open, run } = setup();
    const ws = open({ sub: 'ann' });
    await run(ws, { op: 'subscribe', topic: 'room' });
    assert.equal((await run(ws, { op: 'subscribe', topic: 'room' })).error?.code, 'already_subscribed');
    assert.equal((await run(ws, { op: 'subscribe', topic: 'broadcast' })).error?.code, 'already_subscribed');
    assert.equal((await run(ws, { op: 'unsubscribe', topic: 'nope' })).error?.code, 'not_subscribed');
    assert.equal((await run(ws, { op: 'unsubscribe', topic: 'broadcast' })).error?.code, 'forbidden');
    assert.equal((await run(ws, { op: 'unsubscribe', topic: 'user:ann' })).error?.code, 'forbidden');
  });

  it('counts topics toward maxTopics without broadcast and the own user topic', async () => {
    const { open, run } = setup({ maxTopics: 2 });
    const ws = open({ sub: 'ann' });
    assert.ok((await run(ws, { op: 'subscribe', topic: 'a' })).ok);
    assert.ok((await run(ws, { op: 'subscribe', topic: 'b' })).ok);
    const refused = await run(ws, { op: 'subscribe', topic: 'c' });
    assert.equal(refused.error?.code, 'too_many_topics');
    assert.match(refused.error!.message, /at most 2/);
    await run(ws, { op: 'unsubscribe', topic: 'a' });
    assert.ok((await run(ws, { op: 'subscribe', topic: 'c' })).ok);
  });

  it('answers unavailable when the broker does not confirm in time, and leaves nothing held', async () => {
    const { broker, open, run } = setup({ auth: false });
    broker.holdSubscribe = true;
    const ws = open();
    assert.equal((await run(ws, { op: 'subscribe', topic: 'room' })).error?.code, 'unavailable');
    assert.deepEqual(ws.getTopics().filter((t) => t.includes('room')), []);
  });
});

describe('commands: authorization', () => {
  it('applies the topics claim and keeps other users private, as at upgrade', async () => {
    const { open, run } = setup();
    const limited = open({ sub: 'ann', claims: ['room:1:*'] });
    assert.ok((await run(limited, { op: 'subscribe', topic: 'room:1:chat' })).ok);
    const denied = await run(limited, { op: 'subscribe', topic: 'room:2:chat' });
    assert.equal(denied.error?.code, 'forbidden');
    assert.equal(denied.error?.message, 'topic not allowed by token: room:2:chat');
    const open_ = open({ sub: 'bob' });
    assert.ok((await run(open_, { op: 'subscribe', topic: 'anything' })).ok);
    assert.equal((await run(open_, { op: 'subscribe', topic: 'user:ann' })).error?.code, 'forbidden');
  });

  it('takes a per-topic token of the same user that allows the topic', async () => {
    const { open, run, auth } = setup();
    auth!.grant('room2', { sub: 'ann', topics: ['room:2:*'] });
    auth!.grant('bob-room2', { sub: 'bob', topics: ['room:2:*'] });
    auth!.grant('room3', { sub: 'ann', topics: ['room:3:*'] });
    auth!.tokens.set('old', { ok: false, reason: 'token expired', refusal: 'auth_expired' });
    const ws = open({ sub: 'ann', claims: ['room:1:*'] });
    assert.equal((await run(ws, { op: 'subscribe', topic: 'room:2:chat', token: 'bob-room2' })).error?.code, 'wrong_user');
    assert.equal((await run(ws, { op: 'subscribe', topic: 'room:2:chat', token: 'room3' })).error?.code, 'forbidden');
    assert.equal((await run(ws, { op: 'subscribe', topic: 'room:2:chat', token: 'old' })).error?.code, 'token_expired');
    assert.equal((await run(ws, { op: 'subscribe', topic: 'room:2:chat', token: 'junk' })).error?.code, 'token_invalid');
    assert.ok((await run(ws, { op: 'subscribe', topic: 'room:2:chat', token: 'room2' })).ok);
  });

  it('an unsubscribe while a per-topic token is checked wins: both answer ok, nothing is held', async () => {
    const { open, run, auth, hub } = setup();
    auth!.grant('room2', { sub: 'ann', topics: ['room:2'] });
    const ws = open({ sub: 'ann', claims: [] });
    auth!.hold = true;
    hub.commands.run(ws, { id: 'sub', op: 'subscribe', topic: 'room:2', token: 'room2' });
    await settle();
    assert.equal((await run(ws, { op: 'subscribe', topic: 'room:2', token: 'room2' })).error?.code, 'already_subscribed');
    assert.ok((await run(ws, { op: 'unsubscribe', topic: 'room:2' })).ok);
    auth!.hold = false;
    auth!.release();
    await waitFor('subscribe answered', () => ws.parsed().find((f) => f.id === 'sub'));
    assert.equal(ws.parsed().find((f) => f.id === 'sub')?.ok, true);
    assert.ok(!ws.getTopics().some((t) => t.includes('room:2')));
  });

  it('refresh: the same user moves exp and claims; another user or a bad token changes nothing', async () => {
    const { open, run, auth } = setup();
    auth!.grant('later', { sub: 'ann', exp: 2_000_000_000, topics: ['room:*'] });
    auth!.grant('bob', { sub: 'bob', exp: 2_000_000_000 });
    const ws = open({ sub: 'ann', exp: 1_900_000_000, claims: [] });
    assert.equal((await run(ws, { op: 'subscribe', topic: 'room:1' })).error?.code, 'forbidden');
    assert.equal((await run(ws, { op: 'refresh', token: 'bob' })).error?.code, 'wrong_user');
    assert.equal((await run(ws, { op: 'refresh', token: 'junk' })).error?.code, 'token_invalid');
    assert.equal(ws.data.exp, 1_900_000_000);
    assert.ok((await run(ws, { op: 'refresh', token: 'later' })).ok);
    assert.equal(ws.data.exp, 2_000_000_000);
    assert.ok((await run(ws, { op: 'subscribe', topic: 'room:1' })).ok, 'the new claim applies to later subscribes');
    const anon = setup({ auth: false });
    assert.equal((await anon.run(anon.open(), { op: 'refresh', token: 'x' })).error?.code, 'auth_disabled');
  });
});

describe('commands: subscribe with since', () => {
  it('replies first, then replays what was missed and goes live, each seq once', async () => {
    const { broker, open, run, transport } = setup({ auth: false });
    transport.socket().subscribe('h:t'); // another client keeps the topic live here
    for (let i = 1; i <= 5; i++) await broker.publish('h:t', Buffer.from(`m${i}`));
    broker.deliver();
    const ws = open();
    await run(ws, { op: 'subscribe', topic: 'h:t', since: 2 });
    await waitFor('recovered', () => ws.parsed().some((f) => f.type === 'recovered'));
    await broker.publish('h:t', Buffer.from('m6'));
    broker.deliver();
    const frames = ws.parsed();
    assert.equal(frames[0].type, 'reply');
    assert.deepEqual(ws.seqs('h:t'), [3, 4, 5, 6]);
    assert.deepEqual(frames.find((f) => f.type === 'recovered'), { type: 'recovered', topic: 'h:t', seq: 5, count: 3 });
  });

  it('an unsubscribe during the history read stops the recovery: nothing more is sent', async () => {
    const { broker, open, run } = setup({ auth: false });
    for (let i = 1; i <= 5; i++) await broker.publish('h:t', Buffer.from(`m${i}`));
    broker.deliver();
    broker.holdHistory = true;
    const ws = open();
    await run(ws, { op: 'subscribe', topic: 'h:t', since: 0 });
    await waitFor('read dispatched', () => broker.historyReads === 1);
    assert.ok((await run(ws, { op: 'unsubscribe', topic: 'h:t' })).ok);
    broker.releaseHistory();
    await settle();
    assert.deepEqual(ws.seqs('h:t'), []);
    assert.ok(!broker.subscribed.has('h:t'));
  });
});

describe('admin control', () => {
  it('subscribes and unsubscribes every connection of the user, raw and envelope, and tells envelope ones', async () => {
    const { broker, open, control } = setup();
    const env = open({ sub: 'ann' });
    const raw = open({ sub: 'ann' }, true);
    const other = open({ sub: 'bob' });
    control({ op: 'subscribe', user: 'ann', topic: 'news' });
    await waitFor('joined', () => env.parsed().some((f) => f.type === 'subscribed'));
    assert.deepEqual(env.parsed()[0], { type: 'subscribed', topic: 'news' });
    await broker.publish('news', Buffer.from('hi'));
    broker.deliver();
    assert.deepEqual(data(env), ['news=hi']);
    assert.deepEqual(raw.frames, ['hi']);
    assert.deepEqual(other.frames, []);
    control({ op: 'unsubscribe', user: 'ann', topic: 'news' });
    assert.deepEqual(env.parsed().at(-1), { type: 'unsubscribed', topic: 'news' });
    await broker.publish('news', Buffer.from('again'));
    broker.deliver();
    assert.deepEqual(raw.frames, ['hi']);
  });

  it('disconnects every connection of the user with 4502 and forgets them', async () => {
    const { open, control, hub } = setup();
    const a = open({ sub: 'ann' });
    const b = open({ sub: 'ann' }, true);
    const c = open({ sub: 'bob' });
    control({ op: 'disconnect', user: 'ann' });
    assert.equal(a.closedWith, CloseCode.DISCONNECTED);
    assert.equal(b.closedWith, CloseCode.DISCONNECTED);
    assert.equal(c.closedWith, undefined);
    assert.equal(hub.users!.size, 1);
  });

  it('drops malformed control messages and pushes presence counts to envelope subscribers only', async () => {
    const { open, run, broker, transport } = setup({ auth: false });
    broker.handlers!.onMessage({ topic: CONTROL_TOPIC, payload: Buffer.from('garbage') });
    const env = open();
    const raw = transport.socket();
    raw.subscribe('room');
    await run(env, { op: 'subscribe', topic: 'room' });
    broker.handlers!.onMessage({ topic: CONTROL_TOPIC, payload: encodeControl({ op: 'presence', topic: 'room', connections: 2, users: 0 }) });
    assert.deepEqual(env.parsed().at(-1), { type: 'presence', topic: 'room', connections: 2, users: 0 });
    assert.deepEqual(raw.frames, []);
  });
});
