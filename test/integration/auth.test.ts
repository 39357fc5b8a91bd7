import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type Redis from 'ioredis';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';
import { makeTestKeys, type TestKeys } from '../helpers/tokens';
import { closeAll, connect, type Client } from '../../scripts/harness/ws-clients';

type Refused = Error & { status: number; body: string };

async function refusal(url: string, protocols?: string[]): Promise<Refused> {
  const err = await connect(url, protocols ? ({ protocols } as never) : {}).then(
    (c) => {
      c.ws.terminate();
      throw new Error('upgrade was accepted');
    },
    (e: Refused) => e,
  );
  return err;
}

describe('JWT authentication', () => {
  let keys: TestKeys;
  let herald: HeraldProcess;
  const url = (query: string) => `${herald.wsUrl}?${query}`;

  before(async () => {
    keys = await makeTestKeys();
    herald = await new HeraldProcess({
      env: {
        HERALD_AUTH: 'true',
        HERALD_AUTH_HMAC_SECRET: keys.secret,
        HERALD_AUTH_PUBLIC_KEY_FILE: keys.rsaPublicKeyFile,
        HERALD_AUTH_JWKS_FILE: keys.jwksFile,
        HERALD_AUTH_CLOCK_TOLERANCE: '0',
      },
    }).start();
  });

  after(async () => {
    await herald?.stop();
    keys?.cleanup();
  });

  it('refuses each bad token with 401 and the reason', async () => {
    const cases: [string, string, RegExp][] = [
      ['missing', '', /missing token/],
      ['malformed', 'token=not-a-jwt', /token malformed/],
      ['malformed parts', 'token=aaa.bbb.ccc', /token malformed/],
      ['wrong signature', `token=${await keys.hs256({ sub: 'alice' }, '1h', 'some-other-secret-of-enough-length!')}`, /signature invalid/],
      ['expired', `token=${await keys.hs256({ sub: 'alice' }, Math.floor(Date.now() / 1000) - 60)}`, /token expired/],
      ['foreign ES256 key', `token=${await keys.es256Foreign({ sub: 'alice' })}`, /signature invalid/],
      ['unknown kid', `token=${await keys.es256({ sub: 'alice' }, '1h', 'nope')}`, /no key matches|algorithm not accepted/],
      ['no sub', `token=${await keys.hs256({})}`, /token sub/],
    ];
    for (const [name, query, reason] of cases) {
      const err = await refusal(url(query));
      assert.equal(err.status, 401, `${name}: ${err.message}`);
      assert.match(err.body, reason, name);
    }
    const stats = await herald.stats();
    const refused = stats.perWorker.reduce<Record<string, number>>((acc, w) => {
      for (const [k, v] of Object.entries((w.stats?.upgradesRefused ?? {}) as Record<string, number>)) acc[k] = (acc[k] ?? 0) + v;
      return acc;
    }, {});
    assert.equal(refused.auth_missing, 1);
    assert.equal(refused.auth_expired, 1);
    assert.ok(refused.auth_malformed >= 2, JSON.stringify(refused));
  });

  it('accepts HS256, RS256 (PEM file) and ES256 (JWKS file) tokens', async () => {
    const clients = [
      await connect(url(`token=${await keys.hs256({ sub: 'alice' })}`)),
      await connect(url(`token=${await keys.rs256({ sub: 'alice' })}`)),
      await connect(url(`token=${await keys.es256({ sub: 'alice' })}`)),
    ];
    try {
      const res = await herald.publish('user:alice', 'hi alice');
      assert.equal(res.status, 202);
      await waitFor('alice reached on every connection', () => clients.every((c) => c.messages.length === 1));
      assert.ok(clients.every((c) => c.messages[0].data.toString() === 'hi alice'));
    } finally {
      closeAll(clients);
    }
  });

  it('takes the token from Sec-WebSocket-Protocol and echoes the other protocol', async () => {
    const token = await keys.hs256({ sub: 'carol' });
    const client = await connect(herald.wsUrl, { protocols: ['herald', token] } as never);
    try {
      assert.equal(client.ws.protocol, 'herald');
    } finally {
      client.ws.terminate();
    }
    const alone = await connect(herald.wsUrl, { protocols: [token] } as never);
    alone.ws.terminate();
    const err = await refusal(herald.wsUrl, ['herald']);
    assert.equal(err.status, 401);
  });

  it('pushes to one user only', async () => {
    const alice = await connect(url(`token=${await keys.hs256({ sub: 'alice' })}`));
    const bob = await connect(url(`token=${await keys.hs256({ sub: 'bob' })}`));
    try {
      await herald.publish('user:bob', 'for bob');
      await herald.publish('broadcast', 'for all');
      await waitFor('both got the broadcast', () => alice.messages.length >= 1 && bob.messages.length >= 2);
      assert.deepEqual(bob.messages.map((m) => m.data.toString()), ['for bob', 'for all']);
      assert.deepEqual(alice.messages.map((m) => m.data.toString()), ['for all']);
    } finally {
      closeAll([alice, bob]);
    }
  });

  it('limits requested topics to the topics claim, with trailing wildcards (403 otherwise)', async () => {
    const token = await keys.hs256({ sub: 'dave', topics: ['room:42:*', 'news'] });
    const ok = await connect(url(`token=${token}&topics=room:42:chat,room:42:votes,news`));
    ok.ws.terminate();
    for (const topic of ['room:43:chat', 'room:4', 'newsroom', 'user:erin']) {
      const err = await refusal(url(`token=${token}&topics=${topic}`));
      assert.equal(err.status, 403, topic);
      assert.match(err.body, new RegExp(`topic not allowed by token: ${topic}`));
    }
    // Without a topics claim any topic but another user's is allowed.
    const open = await keys.hs256({ sub: 'dave' });
    (await connect(url(`token=${open}&topics=anything,user:dave`))).ws.terminate();
    assert.equal((await refusal(url(`token=${open}&topics=user:erin`))).status, 403);
    // A broad wildcard still does not reach other users' topics.
    const star = await keys.hs256({ sub: 'dave', topics: ['*'] });
    assert.equal((await refusal(url(`token=${star}&topics=user:erin`))).status, 403);
  });

  it('closes a connection with 4501 when its token expires', async () => {
    const client: Client = await connect(url(`token=${await keys.hs256({ sub: 'frank' }, Math.floor(Date.now() / 1000) + 2)}`));
    const started = Date.now();
    const code = await client.closed;
    assert.equal(code, 4501);
    assert.equal(client.closeReason, 'token expired');
    assert.ok(Date.now() - started < 5000, 'closed within a few seconds of exp');
  });
});

describe('per-user push across workers', () => {
  const redis = new RedisServer();
  let keys: TestKeys;
  let herald: HeraldProcess;
  let pub: Redis;

  before(async () => {
    keys = await makeTestKeys();
    await redis.start();
    herald = await new HeraldProcess({
      env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_AUTH: 'true', HERALD_AUTH_HMAC_SECRET: keys.secret },
    }).start();
    pub = redis.client();
  });

  after(async () => {
    pub?.disconnect();
    await herald?.stop();
    await redis.stop();
    keys?.cleanup();
  });

  it('PUBLISH herald:user:<sub> reaches every connection of that user on both workers', async () => {
    const token = await keys.hs256({ sub: '42' });
    const other = await keys.hs256({ sub: '43' });
    const mine = await Promise.all(Array.from({ length: 40 }, () => connect(`${herald.wsUrl}?token=${token}`)));
    const theirs = await connect(`${herald.wsUrl}?token=${other}`);
    try {
      const stats = await waitFor('both workers hold user 42', async () => {
        const s = await herald.stats();
        return s.connections === 41 ? s : undefined;
      });
      assert.ok(stats.perWorker.every((w) => w.connections > 0), `per worker: ${stats.perWorker.map((w) => w.connections)}`);
      await waitFor('both workers subscribed user:42 in Redis', async () => {
        const [, n] = (await pub.pubsub('NUMSUB', 'herald:user:42')) as [string, number];
        return Number(n) === 2;
      });
      assert.equal(await pub.publish('herald:user:42', 'private'), 2);
      await waitFor('every connection of user 42 got it', () => mine.every((c) => c.messages.length === 1));
      assert.ok(mine.every((c) => c.messages[0].data.toString() === 'private'));
      assert.equal(theirs.messages.length, 0);
    } finally {
      closeAll([...mine, theirs]);
    }
  });
});

describe('bursts of authenticated upgrades', () => {
  it('keep every connection open, on freshly started workers too', { timeout: 120_000 }, async () => {
    // Upgrades answered later from an asynchronous token check, inside res.cork(), made uWS drop
    // about 1 in 40 of the first burst after a worker started (1006): seen in 4 of 6 such rounds.
    const keys = await makeTestKeys();
    const redis = await new RedisServer().start();
    const probe = redis.client();
    try {
      for (let round = 0; round < 5; round++) {
        const herald = await new HeraldProcess({ env: { HERALD_BROKER: 'redis', HERALD_REDIS_URL: redis.url, HERALD_AUTH: 'true', HERALD_AUTH_HMAC_SECRET: keys.secret } }).start();
        const token = await keys.hs256({ sub: 'burst' });
        const burst = await Promise.all(Array.from({ length: 40 }, () => connect(`${herald.wsUrl}?token=${token}`)));
        try {
          await waitFor('all 40 counted', async () => (await herald.stats()).connections === 40);
          await waitFor('user topic subscribed', async () => Number(((await probe.pubsub('NUMSUB', 'herald:user:burst')) as [string, number])[1]) >= 1);
          // Nothing to wait for when all is well: the dropped ones went within milliseconds of opening.
          await sleep(300);
          assert.deepEqual(burst.filter((c) => c.closeCode !== undefined).map((c) => c.closeCode), [], `round ${round}`);
        } finally {
          closeAll(burst);
          await herald.stop();
        }
      }
    } finally {
      probe.disconnect();
      await redis.stop();
      keys.cleanup();
    }
  });
});
