/**
 * Two real heralds (2 workers each, other ports) on a real Redis Cluster (3
 * masters, 3 replicas): what a deployment with several gateways sees.
 * Publishers are cluster-aware clients seeded at any node (ioredis Cluster,
 * redis-cli -c): SPUBLISH for live messages, FCALL herald_publish for topics
 * with history. Each user's connections (`?topics=user:<id>`) are on both
 * instances: a raw one on one herald, an envelope one on the other.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { Cluster } from 'ioredis';
import { keySlot } from '../../src/broker/redis/key-slot';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { connectEnvelope, frames, range, seqsOf } from '../helpers/envelope-client';
import { waitFor } from '../../scripts/harness/ports';
import { RedisCluster } from '../helpers/redis-cluster';
import { runPublishScript } from '../helpers/publish-script';
import { askNode } from '../../scripts/harness/redis-server';
import { closeAll, connect, connectEach, type Client } from '../../scripts/harness/ws-clients';

const run = promisify(execFile);
const HISTORY = 'user:*=1000/600,news=1000/600';

/** A cluster-aware publisher that knows only `port` at first (a master or a replica). */
function publisherVia(port: number): Cluster {
  const client = new Cluster([{ host: '127.0.0.1', port }], { redisOptions: { maxRetriesPerRequest: 1 } });
  client.on('error', () => {});
  return client;
}

const texts = (c: Client) => c.messages.map((m) => m.data.toString());
/** The payloads an envelope client got, in order. */
const envTexts = (c: Client) => frames(c).filter((f) => f.type === 'message').map((f) => f.data!);

interface User {
  id: string;
  topic: string;
  /** Raw client on one herald, envelope client on the other. */
  raw: Client;
  env: Client;
}

describe('two heralds on a Redis Cluster (3 masters, 3 replicas)', { timeout: 150_000 }, () => {
  const cluster = new RedisCluster();
  const heralds: HeraldProcess[] = [];
  const users: User[] = [];
  const others: Client[] = [];
  const publishers: Cluster[] = [];

  /** Waits until `count` workers hold the topic's channels on the masters serving them now. */
  const subscribedOn = (channels: string[], count: number) =>
    waitFor(`${channels.join(', ')} subscribed by ${count} workers`, async () => {
      for (const channel of channels) {
        const [, n] = (await askNode(await cluster.masterOf(channel), (c) => c.call('PUBSUB', 'SHARDNUMSUB', channel))) as [string, number];
        if (n !== count) return false;
      }
      return true;
    }, 20_000);

  before(async () => {
    await cluster.start();
    const env = {
      HERALD_BROKER: 'redis',
      HERALD_REDIS_MODE: 'cluster',
      HERALD_REDIS_NODES: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','),
      HERALD_HISTORY: HISTORY,
      HERALD_REDIS_COMMAND_TIMEOUT_MS: '1000',
    };
    heralds.push(...(await Promise.all([new HeraldProcess({ env }).start(), new HeraldProcess({ env }).start()])));
    // Users whose channels spread over every master, two per master by the raw channel.
    const masters = await cluster.masterPorts();
    const perMaster = new Map(masters.map((p) => [p, 0]));
    const owners = await cluster.slotOwners();
    for (let i = 0; users.length < 2 * masters.length; i++) {
      const topic = `user:${i}`;
      const owner = owners[keySlot(`herald:${topic}`)]!;
      if (perMaster.get(owner)! >= 2) continue;
      perMaster.set(owner, perMaster.get(owner)! + 1);
      const [rawHerald, envHerald] = users.length % 2 === 0 ? heralds : [heralds[1], heralds[0]];
      users.push({ id: String(i), topic, raw: await connect(`${rawHerald.wsUrl}?topics=${topic}`), env: await connectEnvelope(envHerald.wsUrl, [topic]) });
    }
    // Broadcast-only clients on both.
    for (const h of heralds) others.push(await connect(h.wsUrl), await connect(h.wsUrl));
    for (const u of users) await subscribedOn([`herald:${u.topic}`, `herald:{${u.topic}}`], 2);
    await subscribedOn(['herald:broadcast'], 4);
  });

  after(async () => {
    closeAll([...users.flatMap((u) => [u.raw, u.env]), ...others]);
    for (const p of publishers) p.disconnect();
    await Promise.all(heralds.map((h) => h.stop()));
    await cluster.stop();
  });

  const everyone = () => [...users.flatMap((u) => [u.raw, u.env]), ...others];

  it('delivers broadcasts and per-user messages published from every node (SPUBLISH, FCALL, redis-cli -c) to exactly the right clients on both heralds', async () => {
    const ports = cluster.livePorts();
    assert.equal(ports.length, 6);
    for (const port of ports) {
      const pub = publisherVia(port);
      publishers.push(pub);
      assert.equal(await pub.spublish('herald:broadcast', `all via ${port}`), 4, 'every worker of both heralds holds broadcast');
    }
    for (const [i, u] of users.entries()) {
      const pub = publishers[i % publishers.length];
      assert.equal(await pub.spublish(`herald:${u.topic}`, `live for ${u.id}`), 2, 'one worker per herald holds the user');
      assert.equal(await pub.call('FCALL', 'herald_publish', '1', u.topic, `stored for ${u.id}`), 1);
    }
    // redis-cli follows MOVED by itself with -c, from whichever node it is pointed at (a replica here).
    const masters = await cluster.masterPorts();
    const replica = ports.find((p) => !masters.includes(p))!;
    const first = users[0];
    const cli = await run('redis-cli', ['-c', '-p', String(replica), 'SPUBLISH', `herald:${first.topic}`, `cli for ${first.id}`]);
    // The answer counts the subscribers of the node that took it: 0 when the replica is in the topic's shard
    // (it passes the message on to its master's subscribers), 2 from the master that MOVED led to.
    assert.match(cli.stdout.trim(), /^[02]$/);

    const broadcasts = ports.map((p) => `all via ${p}`).sort();
    await waitFor('every message', () => users.every((u) => u.raw.messages.length + u.env.messages.length === 2 * (broadcasts.length + 2 + (u === first ? 1 : 0))) && others.every((c) => c.messages.length === broadcasts.length));
    for (const u of users) {
      const mine = [`live for ${u.id}`, `stored for ${u.id}`, ...(u === first ? [`cli for ${u.id}`] : [])];
      assert.deepEqual(texts(u.raw).sort(), [...broadcasts, ...mine].sort(), `raw client of ${u.topic}`);
      assert.deepEqual(envTexts(u.env).sort(), [...broadcasts, ...mine].sort(), `envelope client of ${u.topic}`);
      assert.deepEqual(frames(u.env).filter((f) => f.topic === u.topic && f.seq !== undefined).map((f) => [f.seq, f.data]), [[1, `stored for ${u.id}`]]);
    }
    for (const c of others) assert.deepEqual(texts(c).sort(), broadcasts);
  });

  it('recovers history on the cluster: an envelope client resumes on the other herald with ?since=, no gap, no duplicate', async () => {
    const pub = publishers[0];
    const first = await connectEnvelope(heralds[0].wsUrl, ['news']);
    await subscribedOn(['herald:news', 'herald:{news}'], 1);
    for (let i = 1; i <= 3; i++) assert.equal(await pub.call('FCALL', 'herald_publish', '1', 'news', `n${i}`), i);
    await waitFor('first three', () => seqsOf(first, 'news').length === 3);
    first.ws.close();
    await first.closed;
    for (let i = 4; i <= 8; i++) assert.equal(await pub.call('FCALL', 'herald_publish', '1', 'news', `n${i}`), i);
    for (let i = 9; i <= 10; i++) assert.equal((await heralds[0].publish('news', `n${i}`)).status, 202);
    const back = await connectEnvelope(heralds[1].wsUrl, ['news'], 'news:3');
    try {
      await waitFor('recovered', () => frames(back).some((f) => f.type === 'recovered'));
      assert.equal((await heralds[1].publish('news', 'n11')).status, 202);
      await waitFor('live after the seam', () => seqsOf(back, 'news').length === 8);
      assert.deepEqual(seqsOf(back, 'news'), range(4, 11));
      const got = frames(back).filter((f) => f.topic === 'news');
      assert.deepEqual(got.map((f) => f.data ?? f.type), ['n4', 'n5', 'n6', 'n7', 'n8', 'n9', 'n10', 'recovered', 'n11']);
      // A client whose position is past the topic's is told so.
      const ahead = await connectEnvelope(heralds[1].wsUrl, ['news'], 'news:500');
      await waitFor('gap', () => frames(ahead).some((f) => f.type === 'gap'));
      assert.deepEqual(frames(ahead)[0], { type: 'gap', topic: 'news', since: 500, first: null, current: 11, reason: 'ahead' });
      closeAll([ahead]);
    } finally {
      closeAll([back]);
    }
  });

  it('scripts/publish on the cluster: FCALL for a topic with history, SPUBLISH otherwise, from herald\'s configuration or --via redis+cluster://, saying which and why', async () => {
    const seeds = cluster.seeds.map((s) => `${s.host}:${s.port}`).join(',');
    const u = users[1];
    for (const c of [u.raw, u.env, ...others]) c.messages.length = 0;
    const stored = await runPublishScript(['--topic', u.topic, '--message', 'script stored'], { HERALD_BROKER: 'redis', HERALD_REDIS_MODE: 'cluster', HERALD_REDIS_NODES: seeds });
    assert.equal(stored.code, 0, stored.stderr);
    const ran = new RegExp(`^published 13 bytes to ${u.topic} via Redis Cluster \\(seed nodes ${seeds}\\) with seq 2 \\(FCALL herald_publish, run by 127\\.0\\.0\\.1:(\\d+) \\(master of slot (\\d+)\\), which SPUBLISHes it\\)\n  why there: herald's configuration \\(NODE_ENV=test, [^)]*\\) has broker "redis" with redis.mode "cluster" \\(HERALD_REDIS_MODE\\) and seed nodes in redis.nodes \\(HERALD_REDIS_NODES\\)\nhistory: ${u.topic} matches a history rule herald loaded into Redis: sequenced and stored\n$`).exec(stored.stdout);
    assert.ok(ran, stored.stdout);
    assert.deepEqual([Number(ran[1]), Number(ran[2])], [await cluster.masterOf(u.topic), keySlot(u.topic)]);

    const masters = await cluster.masterPorts();
    const replica = cluster.livePorts().find((p) => !masters.includes(p))!;
    const live = await runPublishScript(['--topic', 'broadcast', '--message', 'script live', '--via', `redis+cluster://127.0.0.1:${replica}`]);
    assert.equal(live.code, 0, live.stderr);
    const at = `127\\.0\\.0\\.1:${await cluster.masterOf('herald:broadcast')} \\(master of slot ${keySlot('herald:broadcast')}\\)`;
    assert.match(live.stdout, new RegExp(`^published 11 bytes to broadcast via Redis Cluster \\(seed nodes 127\\.0\\.0\\.1:${replica}\\) with SPUBLISH herald:broadcast on ${at}: 4 herald workers subscribed there\n  why there: given with --via\n  why SPUBLISH: on a cluster herald's workers subscribe with SSUBSCRIBE`));
    assert.match(live.stdout, /\nhistory: no history rule matches broadcast in the rules herald loaded into Redis \(herald_publish refused it, as it does on a cluster\): published with SPUBLISH, no seq, not stored\n$/);

    await waitFor('both delivered', () => texts(u.raw).includes('script stored') && envTexts(u.env).includes('script stored') && others.every((c) => texts(c).includes('script live')));
    assert.deepEqual(frames(u.env).find((f) => f.data === 'script stored')?.seq, 2);
  });

  it('a burst of connects with private topics costs at most one SSUBSCRIBE per channel on the cluster (one slot per command), and each user gets its own message', async () => {
    const count = 1000;
    const masters = await cluster.masterPorts();
    const ssubscribes = async () => {
      let calls = 0;
      for (const port of masters) calls += Number(/cmdstat_ssubscribe:calls=(\d+)/.exec(await askNode(port, (c) => c.info('commandstats')))?.[1] ?? 0);
      return calls;
    };
    await Promise.all(masters.map((port) => askNode(port, (c) => c.config('RESETSTAT'))));
    const topic = (i: number) => `user:${100_000 + i}`;
    const burst = await connectEach((i) => `${heralds[i % 2].wsUrl}?topics=${topic(i)}`, count, 400);
    try {
      // Every topic has history here: two channels each, in two slots.
      const channels = burst.flatMap((_, i) => [`herald:${topic(i)}`, `herald:{${topic(i)}}`]);
      await waitFor('every channel subscribed', async () => {
        let subscribed = 0;
        for (const port of masters) subscribed += ((await askNode(port, (c) => c.call('PUBSUB', 'SHARDCHANNELS', 'herald:*user:1?????*'))) as string[]).length;
        return subscribed === channels.length;
      }, 30_000);
      const calls = await ssubscribes();
      const slots = new Set(channels.map(keySlot)).size;
      console.log(`# ${count} connects with a private topic (history: 2 channels, ${slots} slots) over 2 heralds: ${calls} SSUBSCRIBE commands`);
      assert.ok(calls >= 1 && calls <= channels.length, `SSUBSCRIBE commands: ${calls} for ${channels.length} channels`);
      const pub = publishers[0];
      for (let i = 0; i < count; i++) await pub.spublish(`herald:${topic(i)}`, `burst ${i}`);
      await waitFor('each its own', () => burst.every((c) => c.messages.length >= 1), 20_000);
      burst.forEach((c, i) => assert.deepEqual(texts(c), [`burst ${i}`]));
    } finally {
      closeAll(burst);
    }
  });

  it('follows a master killed and its replica promoted: clients stay connected, /health 503 then 200, publishes to its slots 503 meanwhile, delivery resumes on both heralds', async () => {
    const owners = await cluster.slotOwners();
    // A user whose history keys (the slot FCALL and POST /publish go to) live on the master about to die.
    const victim = owners[keySlot(users[0].topic)]!;
    const hit = users.filter((u) => owners[keySlot(u.topic)] === victim);
    const spared = users.find((u) => owners[keySlot(u.topic)] !== victim && owners[keySlot(`herald:${u.topic}`)] !== victim)!;
    assert.ok(spared, 'a user with no channel on the victim');
    for (const c of everyone()) c.messages.length = 0;

    await cluster.kill(victim);
    const health = await Promise.all(heralds.map((h) => waitFor('/health 503', async () => {
      const r = await h.health();
      return r.status === 503 && r.body.reasons.some((reason) => /broker/.test(reason)) ? r.body.reasons : undefined;
    }, 10_000, 50)));
    for (const reasons of health) assert.ok(reasons.length > 0);

    // Publishes to the victim's slots are refused (not queued, not lost silently) until a replica takes them.
    const outcomes: number[] = [];
    const refusals: { error: string; maybePublished: boolean }[] = [];
    await waitFor('a replica to take the slot', async () => {
      const res = await heralds[0].publish(hit[0].topic, 'during');
      outcomes.push(res.status);
      if (res.status === 503) refusals.push((await res.json()) as (typeof refusals)[number]);
      else assert.equal(res.status, 202, await res.text());
      return res.status === 202;
    }, 20_000, 100);
    assert.equal(outcomes[0], 503);
    assert.match(refusals[0].error, /^not published: the master of slot \d+ \(127\.0\.0\.1:\d+\) is unreachable$/);
    assert.equal(refusals[0].maybePublished, false);
    // Meanwhile the other masters serve their slots.
    assert.equal((await heralds[1].publish(spared.topic, 'spared')).status, 202);

    await Promise.all(heralds.map((h) => waitFor('/health 200 again', async () => (await h.health()).status === 200, 20_000, 100)));
    for (const u of hit) await subscribedOn([`herald:${u.topic}`, `herald:{${u.topic}}`], 2);
    await subscribedOn(['herald:broadcast'], 4);
    const pub = publisherVia(cluster.livePorts()[0]);
    publishers.push(pub);
    for (const u of users) {
      await pub.spublish(`herald:${u.topic}`, `after for ${u.id}`);
      assert.ok(((await pub.call('FCALL', 'herald_publish', '1', u.topic, `stored after for ${u.id}`)) as number) >= 2);
    }
    await pub.spublish('herald:broadcast', 'all after');
    const expected = (u: User) => [`after for ${u.id}`, `stored after for ${u.id}`, 'all after'];
    await waitFor('delivery after the failover', () =>
      users.every((u) => expected(u).every((t) => texts(u.raw).includes(t) && envTexts(u.env).includes(t))) && others.every((c) => texts(c).includes('all after')),
    );
    for (const u of users) {
      // Envelope clients see the seqs go on from the replicated counter (a gap first, had the replica lost writes).
      const seqs = frames(u.env).filter((f) => f.topic === u.topic && f.seq !== undefined);
      assert.ok(seqs.length >= 1);
    }
    assert.ok(everyone().every((c) => c.closeCode === undefined), 'no client was disconnected');
    const stats = await Promise.all(heralds.map((h) => h.stats()));
    assert.ok(stats.every((s) => s.perWorker.every((w) => w.up)), 'no worker restarted');
  });
});
