import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { keySlot } from '../../src/broker/redis/key-slot';
import { ShardSubscriptions, type ShardNode } from '../../src/broker/redis/shard-subscriptions';

/**
 * The sharded subscription bookkeeping against fake masters whose replies the
 * test hands out one by one, so the orderings that are hard to hit on a real
 * cluster (a reply after an unsubscribe, a slot moving mid-command, a lost
 * master) are checked exactly.
 */

interface Call {
  command: 'ssubscribe' | 'sunsubscribe';
  channels: string[];
  reply(): void;
  fail(message: string): void;
}

class FakeNode implements ShardNode {
  ready = true;
  calls: Call[] = [];
  closed = false;

  ssubscribe(channels: string[]): Promise<unknown> {
    return this.call('ssubscribe', channels);
  }

  sunsubscribe(channels: string[]): Promise<unknown> {
    return this.call('sunsubscribe', channels);
  }

  /** Answers every pending call, oldest first. */
  replyAll(): void {
    for (const call of this.calls.splice(0)) call.reply();
  }

  private call(command: Call['command'], channels: string[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.calls.push({ command, channels, reply: () => resolve(channels.length), fail: (m) => reject(new Error(m)) });
    });
  }
}

function setup(owner: (slot: number) => string | undefined = (slot) => (slot < 8192 ? 'A' : 'B')) {
  const nodes = new Map<string, FakeNode>();
  let refreshes = 0;
  let pendingFlush: (() => void) | undefined;
  const errors: string[][] = [];
  const topology = { masterOf: (slot: number) => owner(slot), refresh: () => void refreshes++ };
  const subs = new ShardSubscriptions(
    topology,
    {
      get: (key) => {
        let node = nodes.get(key);
        if (!node || node.closed) nodes.set(key, (node = new FakeNode()));
        return node;
      },
      isReady: (key) => (nodes.get(key)?.ready ?? false) && !nodes.get(key)?.closed,
      close: (key) => {
        const node = nodes.get(key);
        if (node) node.closed = true;
      },
    },
    (topic) => (topic.startsWith('h:') ? [`p:${topic}`, `p:{${topic}}`] : [`p:${topic}`]),
    (channel) => (channel.startsWith('p:{') ? channel.slice(3, -1) : channel.slice(2)),
    (_err, topics) => errors.push(topics),
    (flush) => void (pendingFlush = flush),
  );
  const flush = () => {
    const f = pendingFlush;
    pendingFlush = undefined;
    f?.();
  };
  /** Subscribes the topic and has its master confirm it. */
  const confirm = async (key: string, topic: string) => {
    const wait = subs.subscribe(topic);
    flush();
    nodes.get(key)!.replyAll();
    await wait;
  };
  return { subs, nodes, node: (key: string) => nodes.get(key)!, flush, confirm, errors, refreshes: () => refreshes, setOwner: (fn: typeof owner) => (owner = fn) };
}

/** Lets promise callbacks run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

function state(promise: Promise<void>): Promise<'resolved' | 'rejected' | 'pending'> {
  return Promise.race([promise.then(() => 'resolved' as const, () => 'rejected' as const), settle().then(() => 'pending' as const)]);
}

/** Topics whose single channel hashes to the slot range of one master. */
function topicsOn(master: 'A' | 'B', count: number, prefix = 't'): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < count; i++) {
    const topic = `${prefix}${i}`;
    if ((keySlot(`p:${topic}`) < 8192) === (master === 'A')) out.push(topic);
  }
  return out;
}

/** A topic with history whose raw and sequenced channels hash to different masters (A holds slots below 8192). */
function topicOnTwoMasters(): string {
  for (let i = 0; ; i++) if ((keySlot(`p:h:${i}`) < 8192) !== (keySlot(`p:{h:${i}}`) < 8192)) return `h:${i}`;
}

describe('sharded subscriptions', () => {
  it('sends the subscribes of one tick as one SSUBSCRIBE per slot, on the master of each slot', async () => {
    const t = setup();
    const topics = [...topicsOn('A', 50), ...topicsOn('B', 50)];
    const waits = topics.map((topic) => t.subs.subscribe(topic));
    t.flush();
    const calls = [...t.node('A').calls, ...t.node('B').calls];
    const slots = new Set(topics.map((topic) => keySlot(`p:${topic}`)));
    assert.equal(calls.length, slots.size);
    for (const call of calls) assert.equal(new Set(call.channels.map(keySlot)).size, 1, 'one slot per command');
    assert.equal(t.subs.commandsSent, slots.size);
    t.node('A').replyAll();
    t.node('B').replyAll();
    await Promise.all(waits);
  });

  it('confirms a topic with history only when both of its channels are confirmed, maybe on two masters', async () => {
    const t = setup();
    const topic = topicOnTwoMasters();
    const wait = t.subs.subscribe(topic);
    t.flush();
    t.node('A').replyAll();
    assert.equal(await state(wait), 'pending');
    t.node('B').replyAll();
    assert.equal(await state(wait), 'resolved');
    assert.equal(t.subs.isConfirmed(topic), true);
  });

  it('does not count a reply that comes after an unsubscribe, and unsubscribes after it', async () => {
    const t = setup();
    const [kept, topic] = topicsOn('A', 2);
    await t.confirm('A', kept);
    const wait = t.subs.subscribe(topic);
    t.flush();
    t.subs.unsubscribe(topic);
    assert.equal(await state(wait), 'resolved', 'a pending subscribe resolves without a guarantee');
    t.node('A').calls.shift()!.reply();
    await settle();
    assert.equal(t.subs.isConfirmed(topic), false);
    t.flush();
    assert.deepEqual(t.node('A').calls.map((c) => [c.command, c.channels]), [['sunsubscribe', [`p:${topic}`]]]);
    // Subscribed again: only the answer to the new SSUBSCRIBE (sent after the SUNSUBSCRIBE) confirms it.
    const again = t.subs.subscribe(topic);
    assert.equal(await state(again), 'pending');
    t.flush();
    assert.deepEqual(t.node('A').calls.map((c) => c.command), ['sunsubscribe', 'ssubscribe']);
    t.node('A').replyAll();
    assert.equal(await state(again), 'resolved');
  });

  it('disconnects a master when its last wanted slot is unsubscribed', async () => {
    const t = setup();
    const [topic] = topicsOn('A', 1);
    await t.confirm('A', topic);
    t.subs.unsubscribe(topic);
    assert.equal(t.node('A').closed, true);
    assert.deepEqual(t.subs.nodesInUse(), []);
  });

  it('voids confirmations of a lost master, sends nothing while it is down and everything when it is back', async () => {
    const t = setup();
    const [topic] = topicsOn('A', 1);
    await t.confirm('A', topic);
    t.node('A').ready = false;
    t.subs.nodeLost('A');
    assert.equal(t.subs.isConfirmed(topic), false);
    assert.ok(t.refreshes() >= 1, 'the slot map is read again (maybe a failover)');
    const again = t.subs.subscribe(topic);
    t.flush();
    assert.equal(t.node('A').calls.length, 0);
    assert.equal(await state(again), 'pending', 'waits for the master to confirm again');
    t.node('A').ready = true;
    t.subs.nodeReady('A');
    t.flush();
    assert.deepEqual(t.node('A').calls.map((c) => c.channels), [[`p:${topic}`]]);
    t.node('A').replyAll();
    assert.equal(await state(again), 'resolved');
  });

  it('moves a slot to the master the new slot map names: unsubscribes on the old one, ignores its late reply', async () => {
    const t = setup();
    const [kept, topic] = topicsOn('A', 2);
    const moving = keySlot(`p:${topic}`);
    assert.notEqual(keySlot(`p:${kept}`), moving);
    await t.confirm('A', kept);
    const first = t.subs.subscribe(topic);
    t.flush();
    const late = t.node('A').calls.shift()!;
    t.setOwner((slot) => (slot === moving ? 'B' : slot < 8192 ? 'A' : 'B'));
    t.subs.topologyChanged();
    late.reply(); // the old master's answer, after the slot moved
    await settle();
    assert.equal(t.subs.isConfirmed(topic), false);
    assert.equal(await state(first), 'pending');
    assert.deepEqual(t.node('A').calls.map((c) => [c.command, c.channels]), [['sunsubscribe', [`p:${topic}`]]]);
    assert.deepEqual(t.node('B').calls.map((c) => [c.command, c.channels]), [['ssubscribe', [`p:${topic}`]]]);
    t.node('B').replyAll();
    assert.equal(await state(first), 'resolved');
    assert.equal(t.subs.isConfirmed(kept), true, 'the slot that stayed keeps its confirmation');
    // A failover: every slot of A now on B; A is left without wanted slots and disconnected.
    t.setOwner(() => 'B');
    t.subs.topologyChanged();
    assert.equal(t.node('A').closed, true);
    assert.deepEqual(t.subs.nodesInUse(), ['B']);
  });

  it('reads the slot map again after MOVED and sends the slot to the master it names', async () => {
    const t = setup();
    const [topic] = topicsOn('A', 1);
    const wait = t.subs.subscribe(topic);
    t.flush();
    const before = t.refreshes();
    t.node('A').calls.shift()!.fail('MOVED 1234 127.0.0.1:7002');
    await settle();
    assert.ok(t.refreshes() > before);
    assert.equal(await state(wait), 'pending');
    t.setOwner(() => 'B');
    t.subs.topologyChanged();
    t.node('B').replyAll();
    assert.equal(await state(wait), 'resolved');
  });

  it('sends a master\'s slots again after it dropped channels by itself (unsolicited SUNSUBSCRIBE)', async () => {
    const t = setup();
    const [topic] = topicsOn('A', 1);
    await t.confirm('A', topic);
    t.subs.nodeMoved('A');
    assert.equal(t.subs.isConfirmed(topic), false);
    t.subs.topologyChanged(); // the slot stayed on A
    assert.deepEqual(t.node('A').calls.map((c) => [c.command, c.channels]), [['ssubscribe', [`p:${topic}`]]]);
  });

  it('fails the waiters of a refused SSUBSCRIBE and keeps the topic for the next reconnect', async () => {
    const t = setup();
    const [topic] = topicsOn('A', 1);
    const wait = t.subs.subscribe(topic);
    t.flush();
    t.node('A').calls.shift()!.fail("NOPERM this user has no permissions to access one of the channels used as arguments");
    await assert.rejects(wait, /NOPERM/);
    assert.deepEqual(t.errors, [[topic]]);
    t.subs.nodeReady('A');
    t.flush();
    assert.equal(t.node('A').calls.length, 1, 'sent again');
  });

  it('names the masters holding a topic\'s channels (where a fence PINGs), none for a topic not wanted, undefined for an orphaned slot', async () => {
    const t = setup();
    const topic = topicOnTwoMasters();
    const wait = t.subs.subscribe(topic);
    t.flush();
    t.node('A').replyAll();
    t.node('B').replyAll();
    await wait;
    assert.deepEqual(t.subs.nodesOf(topic)?.sort(), ['A', 'B']);
    assert.deepEqual(t.subs.nodesOf('h:not-wanted'), []);
    const orphaned = setup(() => undefined);
    void orphaned.subs.subscribe(topic);
    orphaned.flush();
    assert.equal(orphaned.subs.nodesOf(topic), undefined);
    orphaned.subs.close();
  });

  it('waits for the slot map when no master serves a slot, and reports it', async () => {
    const t = setup(() => undefined);
    const [topic] = topicsOn('A', 1);
    const wait = t.subs.subscribe(topic);
    t.flush();
    assert.equal(t.subs.orphaned, true);
    assert.ok(t.refreshes() >= 1);
    t.setOwner(() => 'A');
    t.subs.topologyChanged();
    assert.equal(t.subs.orphaned, false);
    t.node('A').replyAll();
    assert.equal(await state(wait), 'resolved');
    t.subs.close();
  });
});
