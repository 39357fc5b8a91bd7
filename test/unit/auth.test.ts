import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { ExpirySweeper } from '../../src/auth/expiry-sweeper';
import { createJwtVerifier } from '../../src/auth/jwt-verifier';
import { firstForbiddenTopic, topicAllowed } from '../../src/auth/topic-claims';
import { tokenFromRequest } from '../../src/auth/token-source';
import { loadConfig } from '../../src/config';

describe('topic claims', () => {
  it('matches exact names and trailing wildcards', () => {
    const claim = ['room:42:*', 'news'];
    assert.ok(topicAllowed(claim, 'room:42:chat', 'u'));
    assert.ok(topicAllowed(claim, 'news', 'u'));
    assert.ok(!topicAllowed(claim, 'room:43:chat', 'u'));
    assert.ok(!topicAllowed(claim, 'newsroom', 'u'));
    assert.equal(firstForbiddenTopic(claim, ['news', 'sport', 'x'], 'u'), 'sport');
  });

  it('keeps user topics private', () => {
    assert.ok(topicAllowed([], 'user:u', 'u'), 'own topic always');
    assert.ok(!topicAllowed(undefined, 'user:v', 'u'));
    assert.ok(!topicAllowed(['*'], 'user:v', 'u'));
    assert.ok(topicAllowed(['user:*'], 'user:v', 'u'), 'only an explicit user: pattern grants it');
  });
});

describe('token source', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.sig_-';
  it('prefers the query, echoes a non-token protocol', () => {
    assert.deepEqual(tokenFromRequest('q.q.q', ''), { token: 'q.q.q', protocol: '' });
    assert.deepEqual(tokenFromRequest('', `herald, ${jwt}`), { token: jwt, protocol: 'herald' });
    assert.deepEqual(tokenFromRequest('', jwt), { token: jwt, protocol: jwt });
    assert.deepEqual(tokenFromRequest('', 'chat'), { token: '', protocol: 'chat' });
    assert.deepEqual(tokenFromRequest('', ''), { token: '', protocol: '' });
  });
});

describe('expiry sweeper', () => {
  it('closes each socket once its second has passed, and forgets removed ones', () => {
    let now = 1000;
    const expired: string[] = [];
    const sweeper = new ExpirySweeper<string>((s) => expired.push(s), () => now);
    sweeper.add('a', 1001.5);
    sweeper.add('b', 1003);
    sweeper.add('c', 1003);
    sweeper.add('late', 900); // already expired: closed at the next sweep
    sweeper.remove('c', 1003);
    now = 1001.9;
    sweeper.sweep();
    assert.deepEqual(expired, ['late']);
    now = 1003;
    sweeper.sweep();
    assert.deepEqual(expired, ['late', 'a', 'b']);
    assert.equal(sweeper.size, 0);
  });
});

describe('auth configuration', () => {
  it('is off by default and needs a key when on', () => {
    assert.equal(loadConfig({ NODE_ENV: 'test' }).auth.enabled, false);
    assert.throws(() => loadConfig({ NODE_ENV: 'test', HERALD_AUTH: 'true' }), /auth\.enabled: needs a key/);
    assert.equal(loadConfig({ NODE_ENV: 'test', HERALD_AUTH: 'true', HERALD_AUTH_HMAC_SECRET: 's' }).auth.expiry, 'enforce');
  });
});

describe('JWT verification (node:crypto, synchronous)', () => {
  const secret = 'unit-secret-of-some-length-123456';
  const part = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  const sign = (header: object, payload: object, key = secret) => {
    const body = `${part(header)}.${part(payload)}`;
    return `${body}.${createHmac('sha256', key).update(body).digest('base64url')}`;
  };
  const config = (extra: Record<string, string> = {}) =>
    loadConfig({ NODE_ENV: 'test', HERALD_AUTH: 'true', HERALD_AUTH_HMAC_SECRET: secret, ...extra }).auth;
  const now = 1_800_000_000;
  const verify = createJwtVerifier(config({ HERALD_AUTH_AUDIENCE: 'push', HERALD_AUTH_ISSUER: 'me' }), () => now);
  const claims = { sub: '7', aud: ['web', 'push'], iss: 'me', exp: now + 60 };
  const refusal = (token: string) => {
    const r = verify(token);
    return r.ok ? 'accepted' : r.refusal;
  };

  it('accepts a good HS256 token and gives its identity', () => {
    assert.deepEqual(verify(sign({ alg: 'HS256', typ: 'JWT' }, { ...claims, topics: ['a*'] })), { ok: true, identity: { sub: '7', exp: now + 60, topics: ['a*'] } });
  });

  it('refuses alg none, a wrong key, a tampered payload and garbage', () => {
    assert.equal(refusal(`${part({ alg: 'none' })}.${part(claims)}.`), 'auth_algorithm');
    assert.equal(refusal(sign({ alg: 'HS256' }, claims, 'another-secret')), 'auth_signature');
    const good = sign({ alg: 'HS256' }, claims).split('.');
    assert.equal(refusal(`${good[0]}.${part({ ...claims, sub: 'admin' })}.${good[2]}`), 'auth_signature');
    assert.equal(refusal('not.a.token!'), 'auth_malformed');
    assert.equal(refusal('only-one-part'), 'auth_malformed');
    assert.equal(refusal(sign({ alg: 'RS256' }, claims)), 'auth_algorithm', 'no public key configured');
  });

  it('checks exp and nbf with the leeway, and iss and aud', () => {
    assert.equal(refusal(sign({ alg: 'HS256' }, { ...claims, exp: now - 10 })), 'auth_expired');
    assert.equal(refusal(sign({ alg: 'HS256' }, { ...claims, exp: now - 2 })), 'accepted', 'within the 5 s leeway');
    assert.equal(refusal(sign({ alg: 'HS256' }, { ...claims, nbf: now + 60 })), 'auth_claims');
    assert.equal(refusal(sign({ alg: 'HS256' }, { ...claims, iss: 'someone' })), 'auth_claims');
    assert.equal(refusal(sign({ alg: 'HS256' }, { ...claims, aud: 'web' })), 'auth_claims');
    assert.equal(refusal(sign({ alg: 'HS256' }, { ...claims, sub: 'bad sub' })), 'auth_claims');
  });
});
