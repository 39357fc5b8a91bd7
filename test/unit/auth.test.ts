import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ExpirySweeper } from '../../src/auth/expiry-sweeper';
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
