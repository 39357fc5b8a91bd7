// The stamp is read from the payload bytes, never JSON.parse'd: plain and escaped keys,
// bounds respected inside a larger (shared) read buffer, and what counts as untracked.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { readStamp, type Stamp } from '../../scripts/loadtest/clock-stamp';
import { clockPayload } from '../../scripts/loadtest/publisher';

function stampOf(text: string, pad = 0): Stamp | null {
  // The payload sits inside a larger buffer with bytes around it, like a read into the shared buffer.
  const b = Buffer.concat([Buffer.alloc(pad, '"t":9,'), Buffer.from(text), Buffer.from('"t":7,"seq":8')]);
  const out: Stamp = { t: 0, seq: -1 };
  return readStamp(b, pad, pad + Buffer.byteLength(text), out) ? out : null;
}

test('the clock payload: t and seq', () => {
  assert.deepEqual(stampOf(clockPayload(42, 1764097200123456)), { t: 1764097200123456, seq: 42 });
  assert.deepEqual(stampOf('{"seq":3,"time":"x","t":17}', 11), { t: 17, seq: 3 });
  assert.deepEqual(stampOf('{ "t" : 5 }'), { t: 5, seq: -1 });
  assert.deepEqual(stampOf('{"t":12.75,"seq":1}'), { t: 12, seq: 1 });
});

test('escaped keys, as in a Socket.IO event carrying the payload as a string', () => {
  const packet = `42${JSON.stringify(['message', clockPayload(7, 1000)])}`;
  assert.match(packet, /\\"t\\":1000/);
  assert.deepEqual(stampOf(packet), { t: 1000, seq: 7 });
});

test('untracked: no "t" number inside the bounds', () => {
  assert.equal(stampOf('not a clock payload', 5), null);
  assert.equal(stampOf('{"time":"2026","t":"123"}'), null);
  assert.equal(stampOf('{"t":-5}'), null);
  assert.equal(stampOf('{"t":1e15}'), null);
  assert.equal(stampOf('{"x":"t","y":1}'), null);
  assert.equal(stampOf('{"t":'), null);
  assert.equal(stampOf(''), null);
});
