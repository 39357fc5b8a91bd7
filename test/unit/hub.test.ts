/**
 * The hub in memory: fan-out, topic interest and the history/live seam of
 * recovery, driven through a broker whose timing the test controls. No socket.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import { HistoryReader } from '../../src/hub/history-reader';
import { Hub } from '../../src/hub/hub';
import { RecoveryManager } from '../../src/hub/recovery';
import { envelopeTopic } from '../../src/hub/topic-names';
import { newWorkerStats } from '../../src/metrics/worker-stats';
import { CloseCode } from '../../src/protocol/close-codes';
import type { EnvelopeSession } from '../../src/protocol/recovery-query';
import { MemoryTransport, type MemorySocket } from '../helpers/memory-transport';
import { waitFor } from '../../scripts/harness/ports';
import { ScriptedBroker } from '../helpers/scripted-broker';

/** A logger that keeps the messages of its warn and error lines. */
function warnLog() {
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push((JSON.parse(line) as { msg: string }).msg) });
  return { log, warnings };
}

function setup(historyTopics: (topic: string) => boolean = (t) => t.startsWith('h:')) {
  const { log, warnings } = warnLog();
  const transport = new MemoryTransport();
  const broker = new ScriptedBroker(historyTopics);
  const stats = newWorkerStats(0);
  const hub = new Hub({ sink: transport, stats, log, openBroker: broker.open, readCacheMs: 60_000 });
  transport.onSubscription = (topic, n, o) => hub.interest.onSubscription(topic, n, o);
  /** Connects an envelope socket recovering `topic` from `since` (as the gateway's open handler does). */
  const recovering = (topic: string, since: number): { ws: MemorySocket; session: EnvelopeSession } => {
    const ws = transport.socket();
    const session: EnvelopeSession = { since: new Map([[topic, since]]), closed: false };
    hub.recovery.open(ws, [topic], session);
    return { ws, session };
  };
  const publish = async (topic: string, n: number) => {
    for (let i = 0; i < n; i++) await broker.publish(topic, Buffer.from(`${topic}#${i}`));
  };
  return { transport, broker, stats, hub, recovering, publish, warnings };
}

const settle = () => new Promise<void>((resolve) => setImmediate(resolve));
const recovered = (ws: MemorySocket) => ws.parsed().some((f) => f.type === 'recovered');

describe('hub: fan-out', () => {
  it('makes one publish per topic and format, and none for topics nobody here holds', async () => {
    const { transport, broker, stats } = setup();
    const raw = transport.socket();
    const env = transport.socket();
    raw.subscribe('h:t');
    env.subscribe(envelopeTopic('h:t'));
    await broker.publish('h:t', Buffer.from('x'));
    await broker.publish('nobody', Buffer.from('y'));
    broker.deliver();
    assert.deepEqual(transport.publishes.map((p) => p.topic), ['h:t', envelopeTopic('h:t')]);
    assert.deepEqual(raw.frames, ['x']);
    assert.deepEqual(env.parsed(), [{ type: 'message', topic: 'h:t', seq: 1, data: 'x' }]);
    assert.equal(stats.messagesReceived, 2);
    assert.equal(stats.messagesDelivered, 2);
  });

  it('subscribes the broker to a topic while any of its uWS topics has a socket', async () => {
    const { transport, broker } = setup();
    const a = transport.socket();
    const b = transport.socket();
    a.subscribe('room');
    b.subscribe(envelopeTopic('room'));
    assert.ok(broker.subscribed.has('room'));
    a.end();
    assert.ok(broker.subscribed.has('room'), 'still held through the envelope topic');
    b.end();
    assert.ok(!broker.subscribed.has('room'));
  });
});

describe('hub: recovery seam', () => {
  it('history then live with publishes during the read: every seq once, in order, marker at the seam', async () => {
    const { broker, recovering, publish } = setup();
    await publish('h:t', 3);
    broker.deliver();
    await publish('h:t', 7); // 4..10 missed while the client was away
    broker.holdHistory = true;
    const { ws } = recovering('h:t', 3);
    await waitFor('read dispatched', () => broker.historyReads === 1);
    broker.deliver(); // 4..10 arrive live while the read is out
    await publish('h:t', 2); // 11, 12 published during the read...
    broker.deliver(1); // ...only 11 arrives live before the read returns
    broker.releaseHistory(); // the read sees 4..12
    await waitFor('history sent', () => ws.seqs('h:t').length === 9);
    broker.deliver(); // 12 arrives live after the read: already sent from history
    await waitFor('recovered', () => ws.parsed().some((f) => f.type === 'recovered'));
    await publish('h:t', 1);
    broker.deliver();
    assert.deepEqual(ws.seqs('h:t'), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    const frames = ws.parsed();
    assert.equal(frames.findIndex((f) => f.type === 'recovered'), 9);
    assert.equal(frames[9].seq, 12);
  });

  it('waits at the seam until the live stream reaches what history returned, then goes live without a duplicate', async () => {
    const { broker, recovering, publish } = setup();
    await publish('h:t', 5); // nothing delivered live yet: history is ahead of the live stream
    const { ws } = recovering('h:t', 0);
    await waitFor('history sent', () => ws.seqs('h:t').length === 5);
    assert.ok(!ws.parsed().some((f) => f.type === 'recovered'), 'not live before the live stream caught up');
    await publish('h:t', 2);
    broker.deliver(); // 1..7 arrive live: 1..5 are duplicates of history, 6 and 7 are new
    await waitFor('recovered', () => ws.parsed().some((f) => f.type === 'recovered'));
    await publish('h:t', 1);
    broker.deliver();
    assert.deepEqual(ws.seqs('h:t'), [1, 2, 3, 4, 5, 6, 7, 8]);
  });

  it('goes live at once on a quiet topic whose last seq this worker already received live', async () => {
    const { broker, recovering, publish, transport } = setup();
    transport.socket().subscribe('h:quiet'); // another client holds the topic here
    await publish('h:quiet', 4);
    broker.deliver();
    const { ws } = recovering('h:quiet', 1);
    for (let i = 0; i < 5; i++) await settle(); // a few turns of the event loop, no timer
    assert.deepEqual(ws.seqs('h:quiet'), [2, 3, 4]);
    assert.deepEqual(ws.parsed()[3], { type: 'recovered', topic: 'h:quiet', seq: 4, count: 3 });
  });

  it('goes live when the fence answers, for history seqs published before this worker subscribed (they never arrive live)', async () => {
    const { broker, recovering, publish, warnings } = setup();
    await publish('h:t', 3);
    broker.drop(); // published before this worker held the topic: never sent here
    const { ws } = recovering('h:t', 0);
    for (let i = 0; i < 5; i++) await settle(); // a few turns of the event loop, no timer
    assert.deepEqual(ws.parsed()[3], { type: 'recovered', topic: 'h:t', seq: 3, count: 3 });
    await publish('h:t', 1);
    broker.deliver();
    assert.deepEqual(ws.seqs('h:t'), [1, 2, 3, 4]);
    assert.equal(broker.fences, 1);
    assert.deepEqual(warnings, []);
  });

  it('live messages that arrive after history but before the fence answers are not sent twice', async () => {
    const { broker, recovering, publish, warnings } = setup();
    await publish('h:t', 2);
    broker.drop(); // 1, 2: before this worker held the topic
    broker.holdHistory = true;
    const { ws } = recovering('h:t', 0);
    await waitFor('read dispatched', () => broker.historyReads === 1);
    await publish('h:t', 2); // 3, 4: on their way live when the read is served
    broker.releaseHistory(); // the read sees 1..4
    await waitFor('history sent', () => ws.seqs('h:t').length === 4);
    assert.equal(broker.fences, 1);
    broker.deliver(1); // 3 arrives live: already sent from history
    await settle();
    assert.ok(!recovered(ws), 'the fence is still behind 4');
    broker.deliver(); // 4 arrives, then the fence's answer
    await waitFor('recovered', () => recovered(ws));
    await publish('h:t', 1);
    broker.deliver();
    assert.deepEqual(ws.seqs('h:t'), [1, 2, 3, 4, 5]);
    assert.deepEqual(warnings, []);
  });

  it('goes live with a warning when the fence fails', async () => {
    const { broker, recovering, publish, warnings } = setup();
    broker.failFence = true;
    await publish('h:t', 3);
    broker.drop();
    const { ws } = recovering('h:t', 0);
    await waitFor('recovered', () => recovered(ws));
    await publish('h:t', 1);
    broker.deliver();
    assert.deepEqual(ws.seqs('h:t'), [1, 2, 3, 4]);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /no fence from the broker/);
  });

  it('asks one fence for a storm of recoveries that read the same history', async () => {
    const { broker, recovering, publish, warnings } = setup();
    await publish('h:t', 3);
    broker.drop();
    broker.holdHistory = true;
    const sockets = Array.from({ length: 100 }, () => recovering('h:t', 0).ws);
    await waitFor('read dispatched', () => broker.historyReads === 1);
    await broker.publish('other', Buffer.from('x')); // in flight: the fence waits behind it
    broker.releaseHistory();
    await waitFor('history sent', () => sockets.every((ws) => ws.seqs('h:t').length === 3));
    assert.equal(broker.fences, 1);
    assert.ok(!sockets.some(recovered));
    broker.deliver();
    await waitFor('all recovered', () => sockets.every(recovered));
    assert.deepEqual(warnings, []);
  });

  it('goes live with a warning when the fence does not answer in time, and a stopped worker warns of nothing', async () => {
    const recover = (recovery: RecoveryManager) => {
      const ws = new MemoryTransport().socket();
      recovery.open(ws, ['h:t'], { since: new Map([['h:t', 0]]), closed: false });
      return ws;
    };
    const broker = new ScriptedBroker(() => true);
    broker.holdFence = true;
    await broker.publish('h:t', Buffer.from('a'));
    broker.drop();
    const { log, warnings } = warnLog();
    const deps = { broker, reader: new HistoryReader(broker, 100, 0), log, fenceTimeoutMs: 50 };
    const ws = recover(new RecoveryManager(deps));
    await settle();
    assert.ok(!recovered(ws));
    await waitFor('recovered', () => recovered(ws));
    assert.match(warnings.join(), /no fence from the broker/);

    const stopping = new RecoveryManager(deps);
    const stopped = recover(stopping);
    await settle();
    stopping.stop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    assert.ok(!recovered(stopped));
    assert.equal(warnings.length, 1, 'no warning after stop');
  });

  it('tells the client of a gap when history no longer reaches back, then sends what is retained', async () => {
    const { broker, recovering, publish } = setup();
    await publish('h:t', 20);
    broker.deliver();
    broker.trim('h:t', 15);
    const { ws } = recovering('h:t', 5);
    await waitFor('recovered', () => ws.parsed().some((f) => f.type === 'recovered'));
    const [gap] = ws.parsed();
    assert.deepEqual(gap, { type: 'gap', topic: 'h:t', since: 5, first: 15, current: 20, reason: 'expired' });
    assert.deepEqual(ws.seqs('h:t'), [15, 16, 17, 18, 19, 20]);
  });

  it('says "ahead" when the client is past the topic (the broker lost its history)', async () => {
    const { broker, recovering, publish } = setup();
    await publish('h:t', 2);
    broker.deliver();
    const { ws } = recovering('h:t', 50);
    await waitFor('gap', () => ws.parsed().some((f) => f.type === 'gap'));
    assert.equal(ws.parsed()[0].reason, 'ahead');
  });

  it('says "no-history" for a topic without history and goes live at once', async () => {
    const { broker, recovering } = setup();
    const { ws } = recovering('plain', 7);
    await settle();
    assert.equal(ws.parsed()[0].reason, 'no-history');
    await broker.publish('plain', Buffer.from('live'));
    broker.deliver();
    assert.deepEqual(ws.parsed()[1], { type: 'message', topic: 'plain', data: 'live' });
  });

  it('serves a storm of identical recoveries from one history read', async () => {
    const { broker, recovering, publish } = setup();
    await publish('h:t', 50);
    broker.deliver();
    broker.holdHistory = true;
    const sockets = Array.from({ length: 1000 }, () => recovering('h:t', 10).ws);
    await waitFor('read dispatched', () => broker.historyReads === 1);
    await publish('h:t', 3);
    broker.deliver();
    broker.releaseHistory();
    await waitFor('all recovered', () => sockets.every((ws) => ws.parsed().some((f) => f.type === 'recovered')));
    assert.equal(broker.historyReads, 1);
    const expected = Array.from({ length: 43 }, (_, i) => i + 11);
    for (const ws of sockets) assert.deepEqual(ws.seqs('h:t'), expected);
  });

  it('closes a recovering socket whose send buffer is full with 4002 rather than leave a hole', async () => {
    const { broker, recovering, publish } = setup();
    await publish('h:t', 5);
    broker.deliver();
    const { ws } = recovering('h:t', 0);
    ws.full = true;
    await waitFor('closed', () => ws.closedWith !== undefined);
    assert.equal(ws.closedWith, CloseCode.SLOW_CONSUMER);
  });

  it('drops a recovery whose socket closed while history was being read', async () => {
    const { broker, recovering, publish, hub } = setup();
    await publish('h:t', 5);
    broker.deliver();
    broker.holdHistory = true;
    const { ws, session } = recovering('h:t', 0);
    await waitFor('read dispatched', () => broker.historyReads === 1);
    hub.recovery.closed(session);
    ws.end(1000);
    broker.releaseHistory();
    await settle();
    await settle();
    assert.deepEqual(ws.frames, []);
  });
});

describe('hub: seqs that go back on the live stream (Redis lost acknowledged writes)', () => {
  it('tells live envelope clients with a gap "ahead" before the reused seq; raw clients get the payload as ever', async () => {
    const { transport, broker, stats, publish } = setup();
    const env = transport.socket();
    env.subscribe(envelopeTopic('h:t'));
    const raw = transport.socket();
    raw.subscribe('h:t');
    await publish('h:t', 5);
    broker.deliver();
    broker.loseAfter('h:t', 2); // a failover: the new master stopped replicating at seq 2
    await broker.publish('h:t', Buffer.from('new 3'));
    broker.deliver();
    const frames = env.parsed();
    assert.deepEqual(frames.slice(5), [
      { type: 'gap', topic: 'h:t', since: 5, first: null, current: 3, reason: 'ahead' },
      { type: 'message', topic: 'h:t', seq: 3, data: 'new 3' },
    ]);
    assert.deepEqual(raw.frames, ['h:t#0', 'h:t#1', 'h:t#2', 'h:t#3', 'h:t#4', 'new 3']);
    assert.equal(stats.seqRewinds, 1);
    // The new timeline goes on without another gap.
    await broker.publish('h:t', Buffer.from('new 4'));
    broker.deliver();
    assert.deepEqual(env.seqs('h:t'), [1, 2, 3, 4, 5, 3, 4]);
    assert.equal(env.parsed().filter((f) => f.type === 'gap').length, 1);
  });

  it('counts an equal seq as gone back too (Redis restarted empty and counted up to it again)', async () => {
    const { transport, broker, publish } = setup();
    const env = transport.socket();
    env.subscribe(envelopeTopic('h:t'));
    await publish('h:t', 1);
    broker.deliver();
    broker.loseAfter('h:t', 0);
    await publish('h:t', 1);
    broker.deliver();
    assert.deepEqual(env.parsed().map((f) => f.type), ['message', 'gap', 'message']);
  });

  it('ends a recovery of the topic with 4003; reconnecting from the same position then says "ahead"', async () => {
    const { transport, broker, recovering, publish } = setup();
    transport.socket().subscribe('h:t'); // the worker holds the topic
    await publish('h:t', 10);
    broker.deliver();
    broker.holdHistory = true;
    const { ws } = recovering('h:t', 10); // read out, caught up to 10 live
    await waitFor('read dispatched', () => broker.historyReads === 1);
    broker.loseAfter('h:t', 4);
    await broker.publish('h:t', Buffer.from('new 5'));
    broker.deliver();
    assert.equal(ws.closedWith, CloseCode.RECOVERY_FAILED);
    broker.releaseHistory();
    await settle();
    assert.deepEqual(ws.frames, [], 'nothing from the read that was out when the seqs went back');
    broker.holdHistory = false;
    const again = recovering('h:t', 10).ws;
    await waitFor('gap', () => again.parsed().some((f) => f.type === 'gap'));
    assert.deepEqual(again.parsed()[0], { type: 'gap', topic: 'h:t', since: 10, first: null, current: 5, reason: 'ahead' });
    assert.equal(broker.historyReads, 2, 'the cached read from before was dropped');
  });

  it('says nothing when no envelope client holds the topic', async () => {
    const { transport, broker, stats, publish } = setup();
    transport.socket().subscribe('h:t');
    await publish('h:t', 3);
    broker.deliver();
    broker.loseAfter('h:t', 1);
    await publish('h:t', 1);
    broker.deliver();
    assert.deepEqual(transport.publishes.map((p) => p.topic), ['h:t', 'h:t', 'h:t', 'h:t']);
    assert.equal(stats.seqRewinds, 1);
  });
});
