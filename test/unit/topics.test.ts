import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidTopic, parseTopicList } from '../../src/protocol/topics';

describe('topic rules', () => {
  it('accepts 1 to 128 characters of [A-Za-z0-9_.:-]', () => {
    for (const ok of ['a', 'user:42', 'room.a-b_c', 'x'.repeat(128)]) assert.ok(isValidTopic(ok), ok);
    for (const bad of ['', 'x'.repeat(129), 'a b', 'a/b', 'ü', 'a*', 'a,b']) assert.ok(!isValidTopic(bad), bad);
  });

  it('parses a list, folding duplicates and the implicit broadcast', () => {
    assert.deepEqual(parseTopicList('', 4), { ok: true, topics: [] });
    assert.deepEqual(parseTopicList('a,b,a,broadcast', 4), { ok: true, topics: ['a', 'b'] });
  });

  it('fails the whole list on one bad name or too many names', () => {
    const bad = parseTopicList('a,b c', 4);
    assert.equal(bad.ok, false);
    assert.match((bad as { reason: string }).reason, /invalid topic "b c"/);
    const many = parseTopicList('a,b,c', 2);
    assert.equal(many.ok, false);
    assert.match((many as { reason: string }).reason, /at most 2/);
    assert.equal(parseTopicList(',', 4).ok, false);
  });
});
