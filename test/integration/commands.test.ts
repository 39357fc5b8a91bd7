/**
 * The command protocol over real sockets against a real herald (2 workers),
 * with the local broker and with Redis: subscribe, unsubscribe, refresh,
 * authorization, malformed commands, limits, recovery through subscribe with
 * since, and admin-driven subscribe, unsubscribe and disconnect across workers.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { CommandClient } from '../helpers/command-client';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { makeTestKeys, type TestKeys } from '../helpers/tokens';
import { connect } from '../../scripts/harness/ws-clients';

const API_KEY = 'test-admin-key';

function commandSuite(broker: 'local' | 'redis'): void {
  describe(`command protocol (${broker} broker)`, () => {
    const redis = new RedisServer();
    let keys: TestKeys;
    let herald: HeraldProcess;
    const open: CommandClient[] = [];
    const client = async (claims: Record<string, unknown>, query?: string, expiresIn?: string | number) => {
      const c = await CommandClient.open(herald.wsUrl, { token: await keys.hs256(claims, expiresIn), query });
      open.push(c);
      return c;
    };
    const admin = (method: string, path: string) => fetch(`${herald.adminUrl}${path}`, { method, headers: { Authorization: `Bearer ${API_KEY}` } });

    before(async () => {
      keys = await makeTestKeys();
      const env: Record<string, string> = {
        HERALD_AUTH: 'true',
        HERALD_AUTH_HMAC_SECRET: keys.secret,
        HERALD_AUTH_CLOCK_TOLERANCE: '0',
        HERALD_HISTORY: 'h:*=1000/300',
        HERALD_API_KEY: API_KEY,
        HERALD_COMMAND_BURST: '40',
        HERALD_COMMANDS_PER_SECOND: '2',
      };
      if (broker === 'redis') {
        await redis.start();
        Object.assign(env, { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url });
      }
      herald = await new HeraldProcess({ env }).start();
    });

    after(async () => {
      for (const c of open) c.close();
      await herald?.stop();
      await redis.stop();
      keys?.cleanup();
    });

    /** Publishes `payload` to `topic`, then a marker on broadcast that every client waits for: what came before it has arrived. */
    const publishThenMark = async (topic: string, payload: string, waiting: CommandClient[]) => {
      assert.equal((await herald.publish(topic, payload, API_KEY)).status, 202);
      const marker = `mark-${Math.random()}`;
      await herald.publish('broadcast', marker, API_KEY);
      await Promise.all(waiting.map((c) => waitFor('marker', () => c.data('broadcast').includes(marker))));
    };

    it('subscribe, then messages; unsubscribe, then none; raw clients are not affected', async () => {
      const c = await client({ sub: 'ann' });
      const raw = await connect(`${herald.wsUrl}?topics=room:1&token=${await keys.hs256({ sub: 'raw' })}`);
      try {
        assert.deepEqual(await c.command({ op: 'subscribe', topic: 'room:1' }), { type: 'reply', id: 1, ok: true });
        await publishThenMark('room:1', 'first', [c]);
        assert.deepEqual(c.data('room:1'), ['first']);
        assert.deepEqual(await c.command({ op: 'unsubscribe', topic: 'room:1' }), { type: 'reply', id: 2, ok: true });
        await publishThenMark('room:1', 'second', [c]);
        assert.deepEqual(c.data('room:1'), ['first']);
        await waitFor('raw client got both', () => raw.messages.length >= 4);
        assert.deepEqual(raw.messages.map((m) => m.data.toString()).filter((d) => !d.startsWith('mark-')), ['first', 'second']);
      } finally {
        raw.ws.terminate();
      }
    });

    it('a demanding client subscribes to 32 topics and refreshes at once, within the default frame limit', async () => {
      const c = await client({ sub: 'busy' });
      const replies = await Promise.all(Array.from({ length: 32 }, (_, i) => c.command({ op: 'subscribe', topic: `busy:${i}` })));
      assert.ok(replies.every((r) => r.ok), JSON.stringify(replies.find((r) => !r.ok)));
      assert.equal((await c.command({ op: 'refresh', token: await keys.hs256({ sub: 'busy' }) })).ok, true);
      const over = await c.command({ op: 'subscribe', topic: 'busy:32' });
      assert.equal(over.error?.code, 'too_many_topics');
      await publishThenMark('busy:31', 'deep', [c]);
      assert.deepEqual(c.data('busy:31'), ['deep']);
    });

    it('refuses topics the token does not allow, and other users\' topics', async () => {
      const c = await client({ sub: 'dave', topics: ['room:42:*'] });
      assert.equal((await c.command({ op: 'subscribe', topic: 'room:42:chat' })).ok, true);
      const denied = await c.command({ op: 'subscribe', topic: 'room:43:chat' });
      assert.deepEqual(denied.error, { code: 'forbidden', message: 'topic not allowed by token: room:43:chat' });
      const open_ = await client({ sub: 'erin' });
      assert.equal((await open_.command({ op: 'subscribe', topic: 'user:dave' })).error?.code, 'forbidden');
      // A per-topic token for the same user opens one more topic; one for another user does not.
      assert.equal((await c.command({ op: 'subscribe', topic: 'room:43:chat', token: await keys.hs256({ sub: 'dave', topics: ['room:43:chat'] }) })).ok, true);
      const foreign = await c.command({ op: 'subscribe', topic: 'room:44:chat', token: await keys.hs256({ sub: 'erin', topics: ['room:44:chat'] }) });
      assert.equal(foreign.error?.code, 'wrong_user');
    });

    it('answers malformed commands with their code and keeps the connection', async () => {
      const c = await client({ sub: 'fay' });
      c.client.ws.send('not json');
      assert.equal((await c.reply(null)).error?.code, 'bad_frame');
      c.client.ws.send(Buffer.from([1, 2, 3]), { binary: true });
      await waitFor('two bad frames', () => c.frames.filter((f) => f.type === 'reply' && f.id === null).length === 2);
      assert.equal((await c.command({ op: 'publish', topic: 't' })).error?.code, 'bad_command');
      assert.equal((await c.command({ op: 'subscribe', topic: 'bad topic!' })).error?.code, 'bad_topic');
      assert.equal((await c.command({ op: 'subscribe', topic: 't', since: 'x' })).error?.code, 'bad_command');
      assert.equal((await c.command({ op: 'unsubscribe', topic: 'never' })).error?.code, 'not_subscribed');
      assert.equal((await c.command({ op: 'unsubscribe', topic: 'broadcast' })).error?.code, 'forbidden');
      assert.equal((await c.command({ op: 'subscribe', topic: 'fine' })).ok, true);
      assert.equal(c.client.closeCode, undefined);
    });

    it('refresh moves exp (the connection outlives its first token); a token for another sub is refused', async () => {
      const exp = Math.floor(Date.now() / 1000) + 3;
      const refreshed = await client({ sub: 'gus' }, undefined, exp);
      const control = await client({ sub: 'gus' }, undefined, exp);
      assert.equal((await refreshed.command({ op: 'refresh', token: await keys.hs256({ sub: 'hal' }) })).error?.code, 'wrong_user');
      assert.equal((await refreshed.command({ op: 'refresh', token: 'a.b.c' })).error?.code, 'token_invalid');
      assert.equal((await refreshed.command({ op: 'refresh', token: await keys.hs256({ sub: 'gus' }) })).ok, true);
      assert.equal(await control.closed(), 4501, 'the connection that did not refresh is closed at exp');
      await publishThenMark('user:gus', 'still here', [refreshed]);
      assert.deepEqual(refreshed.data('user:gus'), ['still here']);
      assert.equal(refreshed.client.closeCode, undefined);
    });

    it('recovers through subscribe with since: every missed message once, in order, then live', async () => {
      for (let i = 1; i <= 10; i++) await herald.publish('h:feed', `f${i}`, API_KEY);
      const c = await client({ sub: 'ivy' });
      assert.equal((await c.command({ op: 'subscribe', topic: 'h:feed', since: 3 })).ok, true);
      await herald.publish('h:feed', 'f11', API_KEY);
      await c.frame('recovered', (f) => f.type === 'recovered');
      await waitFor('live message', () => c.seqs('h:feed').length === 8);
      assert.deepEqual(c.seqs('h:feed'), [4, 5, 6, 7, 8, 9, 10, 11]);
      assert.equal(c.frames.find((f) => f.type === 'reply' || f.topic === 'h:feed')?.type, 'reply', 'the reply comes before the replay');
      // A topic without history cannot be recovered: the client is told, then goes live.
      const plain = await client({ sub: 'ivy' });
      assert.equal((await plain.command({ op: 'subscribe', topic: 'plain', since: 5 })).ok, true);
      assert.equal((await plain.frame('gap', (f) => f.type === 'gap')).reason, 'no-history');
    });

    it('rate limits commands: the budget, then rate_limited that count toward the frame limit, then 4400', async () => {
      const c = await client({ sub: 'jay' });
      for (let i = 0; i < 80; i++) c.client.ws.send(JSON.stringify({ id: i, op: 'unsubscribe', topic: `t${i}` }));
      assert.equal(await c.closed(), 4400);
      const replies = c.frames.filter((f) => f.type === 'reply') as { error?: { code: string; retryAfterMs?: number } }[];
      const limited = replies.filter((r) => r.error?.code === 'rate_limited');
      // 40 in the burst (one more if the bucket refilled meanwhile), then 20 answered rate_limited; the 21st closes.
      assert.ok(replies.length - limited.length >= 40 && replies.length - limited.length <= 42, `run: ${replies.length - limited.length}`);
      assert.equal(limited.length, 20);
      assert.ok(limited.every((r) => r.error!.retryAfterMs! > 0 && r.error!.retryAfterMs! <= 500));
      // Frames of envelope clients may be up to commands.maxBytes; raw clients keep clientFrames.maxBytes.
      const big = await client({ sub: 'kim' });
      assert.equal((await big.command({ op: 'unsubscribe', topic: 'x'.repeat(100), pad: 'p'.repeat(2000) })).error?.code, 'bad_command');
      const raw = await connect(`${herald.wsUrl}?token=${await keys.hs256({ sub: 'kim' })}`);
      raw.ws.send('r'.repeat(2000));
      assert.equal(await waitFor('raw closed', () => raw.closeCode), 1009);
    });

    it('admin subscribe, unsubscribe and disconnect reach every connection of the user on both workers', async () => {
      for (const c of open.splice(0)) c.close();
      await waitFor('others gone', async () => (await herald.stats()).connections === 0);
      const ann: CommandClient[] = [];
      await waitFor('ann on both workers', async () => {
        ann.push(await client({ sub: 'zed' }));
        const stats = await herald.stats();
        return stats.perWorker.every((w) => w.connections > 0);
      }, 10_000, 1);
      const raw = await connect(`${herald.wsUrl}?token=${await keys.hs256({ sub: 'zed' })}`);
      const other = await client({ sub: 'yan' });
      try {
        assert.equal((await admin('POST', '/subscribe?user=zed&topic=news')).status, 202);
        await Promise.all(ann.map((c) => c.frame('subscribed', (f) => f.type === 'subscribed' && f.topic === 'news')));
        await publishThenMark('news', 'extra', [...ann, other]);
        await waitFor('raw got it', () => raw.messages.some((m) => m.data.toString() === 'extra'));
        for (const c of ann) assert.deepEqual(c.data('news'), ['extra']);
        assert.deepEqual(other.data('news'), []);

        assert.equal((await admin('POST', '/unsubscribe?user=zed&topic=news')).status, 202);
        await Promise.all(ann.map((c) => c.frame('unsubscribed', (f) => f.type === 'unsubscribed' && f.topic === 'news')));
        await publishThenMark('news', 'gone', ann);
        for (const c of ann) assert.deepEqual(c.data('news'), ['extra']);

        assert.equal((await admin('POST', '/disconnect?user=zed')).status, 202);
        const codes = await Promise.all([...ann.map((c) => c.closed()), waitFor('raw closed', () => raw.closeCode)]);
        assert.deepEqual(new Set(codes), new Set([4502]));
        assert.equal(other.client.closeCode, undefined);
      } finally {
        raw.ws.terminate();
      }
    });

    it('admin control answers its refusals', async () => {
      assert.equal((await fetch(`${herald.adminUrl}/disconnect?user=zed`, { method: 'POST' })).status, 401);
      assert.equal((await admin('POST', '/subscribe?user=zed')).status, 400);
      assert.equal((await admin('POST', '/subscribe?user=bad%20user&topic=t')).status, 400);
      assert.equal((await admin('POST', '/disconnect?user=a&user=b')).status, 400);
      assert.equal((await admin('POST', '/publish?topic=!control')).status, 400, 'the control topic cannot be published to');
    });
  });
}

commandSuite('local');
commandSuite('redis');
