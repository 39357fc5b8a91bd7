import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { baseTopic, encodeMessage, envelopeTopic, holdTopic } from '../../src/history/envelope';
import { HistoryRules, parseHistoryRules, validateHistoryRules } from '../../src/history/history-rules';
import { decodeSeqFrame, encodeSeqFrame } from '../../src/history/seq-frame';
import { findGap, parseRecoveryQuery } from '../../src/transport/recovery';

describe('history units', () => {
  it('seq frames round-trip; plain payloads pass untouched; broken headers are refused', () => {
    assert.deepEqual(decodeSeqFrame(encodeSeqFrame(42, Buffer.from('hi'))), { seq: 42, payload: Buffer.from('hi') });
    assert.deepEqual(decodeSeqFrame(Buffer.from('hello')), { seq: undefined, payload: Buffer.from('hello') });
    assert.equal(decodeSeqFrame(Buffer.from('\u0000Hx\nbad')), null);
    assert.equal(decodeSeqFrame(Buffer.from('\u0000H12')), null);
    assert.equal(decodeSeqFrame(Buffer.from('\u0000H\n')), null);
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
