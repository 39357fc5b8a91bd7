import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { admitRequest, checkLoad, type UpgradeFacts } from '../../src/transport/admission';

const good: UpgradeFacts = {
  upgrade: 'websocket',
  connection: 'Upgrade',
  key: 'dGhlIHNhbXBsZSBub25jZQ==',
  version: '13',
  query: '',
  protocol: '',
};

const refusalOf = (facts: Partial<UpgradeFacts>) => {
  const result = admitRequest({ ...good, ...facts }, 4);
  assert.equal(result.ok, false);
  return (result as { refusal: { status: string; label: string; reason: string } }).refusal;
};

describe('admission', () => {
  it('refuses while draining or at capacity, and not otherwise', () => {
    assert.equal(checkLoad({ draining: true, connections: 0, capacity: 10 })?.label, 'draining');
    assert.equal(checkLoad({ draining: false, connections: 10, capacity: 10 })?.label, 'capacity');
    assert.equal(checkLoad({ draining: false, connections: 9, capacity: 10 }), undefined);
  });

  it('admits a well-formed handshake with its topics, session and token', () => {
    const result = admitRequest({ ...good, query: 'topics=a,b&format=envelope&since=a:3&token=x.y.z', protocol: 'herald' }, 4);
    assert.ok(result.ok);
    assert.deepEqual(result.admitted.topics, ['a', 'b']);
    assert.deepEqual([...result.admitted.session!.since], [['a', 3]]);
    assert.equal(result.admitted.token, 'x.y.z');
    assert.equal(result.admitted.protocol, 'herald');
  });

  it('answers 426 to what is not a WebSocket upgrade, 400 to a bad key, 426 to another version', () => {
    assert.equal(refusalOf({ upgrade: 'h2c' }).status, '426 Upgrade Required');
    assert.equal(refusalOf({ connection: 'keep-alive' }).status, '426 Upgrade Required');
    assert.equal(refusalOf({ key: 'short' }).status, '400 Bad Request');
    assert.equal(refusalOf({ version: '8' }).status, '426 Upgrade Required');
  });

  it('reads Upgrade and Connection as case-insensitive token lists, bare or listed', () => {
    for (const [upgrade, connection] of [['WebSocket', 'upgrade'], ['websocket', 'keep-alive, Upgrade'], [' websocket ', 'Upgrade '], ['h2c, websocket', 'UPGRADE']]) {
      assert.ok(admitRequest({ ...good, upgrade, connection }, 4).ok, `${upgrade} / ${connection}`);
    }
    assert.equal(refusalOf({ upgrade: 'websockex' }).status, '426 Upgrade Required');
    assert.equal(refusalOf({ connection: 'Upgradx' }).status, '426 Upgrade Required');
    assert.equal(refusalOf({ connection: '' }).status, '426 Upgrade Required');
  });

  it('refuses bad queries whole: escapes, repeats, topics, since', () => {
    assert.equal(refusalOf({ query: 'topics=x,y%zz' }).label, 'bad_request');
    assert.equal(refusalOf({ query: 'topics=a&topics=b' }).label, 'bad_request');
    assert.equal(refusalOf({ query: 'topics=a,b,c,d,e' }).label, 'bad_topics');
    assert.equal(refusalOf({ query: 'topics=a&since=a:1' }).label, 'bad_recovery');
    assert.equal(refusalOf({ query: 'format=envelope&since=other:1' }).label, 'bad_recovery');
  });
});
