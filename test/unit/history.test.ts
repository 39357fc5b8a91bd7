import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HistoryRules, parseHistoryRules, validateHistoryRules } from '../../src/broker/history-rules';
import { globToLuaPattern, publishFunctionNames } from '../../src/broker/redis/publish-function';
import { decodeSeqMessage, encodeSeqMessage, topicOfChannel } from '../../src/broker/redis/redis-names';
import { findGap } from '../../src/hub/recovery';
import { baseTopic, envelopeTopic, holdTopic } from '../../src/hub/topic-names';
import { encodeMessage } from '../../src/protocol/envelope';
import { parseRecoveryQuery } from '../../src/protocol/recovery-query';

describe('history units', () => {
  it('sequenced channel messages round-trip; malformed ones are refused', () => {
    assert.deepEqual(decodeSeqMessage(encodeSeqMessage(42, Buffer.from('hi'))), { seq: 42, payload: Buffer.from('hi') });
    assert.deepEqual(decodeSeqMessage(encodeSeqMessage(7, Buffer.alloc(0))), { seq: 7, payload: Buffer.alloc(0) });
    assert.equal(decodeSeqMessage(Buffer.from('x\nbad')), null);
    assert.equal(decodeSeqMessage(Buffer.from('12')), null);
    assert.equal(decodeSeqMessage(Buffer.from('\nempty seq')), null);
    assert.equal(decodeSeqMessage(Buffer.from('0\nseq zero')), null);
    assert.equal(decodeSeqMessage(Buffer.from('99999999999999999\ntoo long')), null);
  });

  it('raw and sequenced channels never meet', () => {
    assert.deepEqual(topicOfChannel('herald:', 'herald:user:42'), { topic: 'user:42', sequenced: false });
    assert.deepEqual(topicOfChannel('herald:', 'herald:{user:42}'), { topic: 'user:42', sequenced: true });
    assert.equal(topicOfChannel('herald:', 'other:x'), undefined);
  });

  it('rule globs become anchored Lua patterns; function names follow the prefix', () => {
    assert.equal(globToLuaPattern('user:*'), '^user:.*$');
    assert.equal(globToLuaPattern('a.b-c'), '^a%.b%-c$');
    assert.deepEqual(publishFunctionNames('herald:'), { library: 'herald', fn: 'herald_publish' });
    assert.deepEqual(publishFunctionNames('app1:'), { library: 'herald_app1_', fn: 'herald_publish_app1_' });
  });

  it('rules parse, validate and match first-wins with * wildcards', () => {
    const rules = parseHistoryRules('user:*=100/60,broadcast=1000/0');
    validateHistoryRules(rules);
    const r = new HistoryRules(rules);
    assert.equal(r.ruleFor('user:42:x')?.maxLength, 100);
    assert.equal(r.ruleFor('broadcast')?.maxAgeSeconds, 0);
    assert.equal(r.ruleFor('broadcasts'), undefined);
    assert.throws(() => parseHistoryRules('user:*=100'), /pattern=maxLength\/maxAgeSeconds/);
    assert.throws(() => validateHistoryRules([{ pattern: 'a b', maxLength: 1, maxAgeSeconds: 0 }]), /pattern/);
  });

  it('since= parses the seq after the last colon and checks topics', () => {
    const q = parseRecoveryQuery('envelope', 'broadcast:1234,user:42:17', ['user:42']);
    assert.ok(q.ok && q.session);
    assert.deepEqual([...q.session.since], [['broadcast', 1234], ['user:42', 17]]);
    assert.equal(parseRecoveryQuery('', '', []).ok, true);
    assert.equal(parseRecoveryQuery('raw', 'broadcast:1', []).ok, false);
    assert.equal(parseRecoveryQuery('envelope', 'other:1', []).ok, false);
    assert.equal(parseRecoveryQuery('envelope', 'broadcast:x', []).ok, false);
  });

  it('gaps: expired, ahead, or none', () => {
    assert.equal(findGap('t', 5, 6, 10), undefined);
    assert.equal(findGap('t', 10, undefined, 10), undefined);
    assert.equal(findGap('t', 5, 8, 10)?.reason, 'expired');
    assert.deepEqual(findGap('t', 5, undefined, 10), { topic: 't', since: 5, first: null, current: 10, reason: 'expired' });
    assert.equal(findGap('t', 12, undefined, 10)?.reason, 'ahead');
  });

  it('envelopes and internal topic names', () => {
    assert.equal(encodeMessage('t', 3, Buffer.from('hi')), '{"type":"message","topic":"t","seq":3,"data":"hi"}');
    assert.equal(encodeMessage('t', undefined, Buffer.from([0xff])), '{"type":"message","topic":"t","b64":"/w=="}');
    assert.equal(baseTopic(envelopeTopic('a:b')), 'a:b');
    assert.equal(baseTopic(holdTopic('a:b')), 'a:b');
    assert.equal(baseTopic('a:b'), 'a:b');
  });
});
