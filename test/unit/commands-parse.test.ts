import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { COMMAND_ERROR_DOCS, CommandErrorCode } from '../../src/protocol/command-errors';
import { encodeReply, parseCommand } from '../../src/protocol/commands';
import { CONTROL_TOPIC, decodeControl, encodeControl } from '../../src/protocol/control';
import { isValidTopic } from '../../src/protocol/topics';
import { TopicPatterns } from '../../src/protocol/topic-patterns';
import { HistoryRules } from '../../src/broker/history-rules';

const refused = (text: string, isBinary = false) => {
  const parsed = parseCommand(text, isBinary);
  assert.equal(parsed.ok, false, text);
  return parsed as { ok: false; id: unknown; error: { code: string; message: string } };
};

describe('command parsing', () => {
  it('parses the three commands with their optional fields', () => {
    assert.deepEqual(parseCommand('{"id":1,"op":"subscribe","topic":"room:7"}'), { ok: true, command: { id: 1, op: 'subscribe', topic: 'room:7' } });
    assert.deepEqual(parseCommand('{"id":"a-1","op":"subscribe","topic":"room:7","since":12,"token":"x.y.z"}'), {
      ok: true,
      command: { id: 'a-1', op: 'subscribe', topic: 'room:7', since: 12, token: 'x.y.z' },
    });
    assert.deepEqual(parseCommand('{"op":"unsubscribe","topic":"t","id":0}'), { ok: true, command: { id: 0, op: 'unsubscribe', topic: 't' } });
    assert.deepEqual(parseCommand('{"id":9,"op":"refresh","token":"a.b.c"}'), { ok: true, command: { id: 9, op: 'refresh', token: 'a.b.c' } });
  });

  it('refuses frames that are not JSON objects with bad_frame and no id', () => {
    for (const text of ['', 'hello', '[1,2]', 'null', '42', '"s"', '{"id":1,']) {
      const r = refused(text);
      assert.equal(r.error.code, CommandErrorCode.BAD_FRAME, text);
      assert.equal(r.id, null);
    }
    assert.equal(refused('{"id":1,"op":"subscribe","topic":"t"}', true).error.code, CommandErrorCode.BAD_FRAME);
  });

  it('refuses bad ids, ops, fields and values, naming the problem and echoing a usable id', () => {
    const cases: [string, string, unknown, RegExp][] = [
      ['{"op":"subscribe","topic":"t"}', 'bad_command', null, /id must be/],
      ['{"id":-1,"op":"subscribe","topic":"t"}', 'bad_command', null, /id must be/],
      ['{"id":1.5,"op":"subscribe","topic":"t"}', 'bad_command', null, /id must be/],
      [`{"id":"${'x'.repeat(65)}","op":"subscribe","topic":"t"}`, 'bad_command', null, /id must be/],
      ['{"id":1,"op":"publish","topic":"t"}', 'bad_command', 1, /op must be/],
      ['{"id":1,"topic":"t"}', 'bad_command', 1, /op must be/],
      ['{"id":1,"op":"subscribe"}', 'bad_command', 1, /needs topic/],
      ['{"id":1,"op":"subscribe","topic":"bad topic"}', 'bad_topic', 1, /invalid topic/],
      ['{"id":1,"op":"subscribe","topic":"!control"}', 'bad_topic', 1, /invalid topic/],
      ['{"id":1,"op":"subscribe","topic":"t","since":-1}', 'bad_command', 1, /since/],
      ['{"id":1,"op":"subscribe","topic":"t","since":"5"}', 'bad_command', 1, /since/],
      ['{"id":1,"op":"subscribe","topic":"t","token":5}', 'bad_command', 1, /token/],
      ['{"id":1,"op":"subscribe","topic":"t","extra":1}', 'bad_command', 1, /unknown field "extra"/],
      ['{"id":1,"op":"unsubscribe","topic":"t","since":3}', 'bad_command', 1, /unknown field "since"/],
      ['{"id":1,"op":"refresh"}', 'bad_command', 1, /refresh needs token/],
      [`{"id":1,"op":"refresh","token":"${'a'.repeat(9000)}"}`, 'token_invalid', 1, /malformed/],
    ];
    for (const [text, code, id, message] of cases) {
      const r = refused(text);
      assert.equal(r.error.code, code, text.slice(0, 80));
      assert.equal(r.id, id, text.slice(0, 80));
      assert.match(r.error.message, message);
    }
  });

  it('encodes replies as documented', () => {
    assert.equal(encodeReply(1), '{"type":"reply","id":1,"ok":true}');
    assert.equal(encodeReply(null, { code: 'bad_frame', message: 'x' }), '{"type":"reply","id":null,"ok":false,"error":{"code":"bad_frame","message":"x"}}');
  });

  it('documents every error code once', () => {
    assert.deepEqual(Object.keys(COMMAND_ERROR_DOCS).sort(), Object.keys(CommandErrorCode).sort());
    assert.equal(new Set(Object.values(CommandErrorCode)).size, Object.keys(CommandErrorCode).length);
  });
});

describe('control messages', () => {
  it('use a topic no client can name and no history rule matches', () => {
    assert.equal(isValidTopic(CONTROL_TOPIC), false);
    assert.equal(new HistoryRules([{ pattern: '*', maxLength: 10, maxAgeSeconds: 0 }]).ruleFor(CONTROL_TOPIC), undefined);
  });

  it('round-trip, and anything malformed decodes to undefined', () => {
    for (const m of [
      { op: 'subscribe', user: '42', topic: 'room:7' },
      { op: 'unsubscribe', user: 'a.b', topic: 't' },
      { op: 'disconnect', user: '42' },
      { op: 'presence', topic: 'room:7', connections: 3, users: 2 },
    ] as const) {
      assert.deepEqual(decodeControl(encodeControl(m)), m);
    }
    for (const bad of ['nope', '{}', '{"op":"subscribe","user":"42"}', '{"op":"disconnect","user":"a b"}', '{"op":"presence","topic":"t","connections":-1,"users":0}', '{"op":"boom","user":"1"}']) {
      assert.equal(decodeControl(Buffer.from(bad)), undefined, bad);
    }
  });
});

describe('topic patterns', () => {
  it('match names and prefixes ending in *', () => {
    const p = new TopicPatterns(['lobby', 'room:*']);
    assert.ok(p.matches('lobby') && p.matches('room:1') && p.matches('room:'));
    assert.ok(!p.matches('lobby2') && !p.matches('rooms'));
    assert.ok(new TopicPatterns([]).empty);
  });
});
