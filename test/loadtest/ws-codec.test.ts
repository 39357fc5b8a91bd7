// Frame decoding on real byte sequences: lengths, fragments, control frames, split reads.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { decodeFrames, encodeFrame, OP_BINARY, OP_CLOSE, OP_PING, OP_TEXT, type FrameState } from '../../scripts/loadtest/ws-codec';

function serverFrame(op: number, payload: Buffer, fin = true): Buffer {
  const len = payload.length;
  const hdr = len < 126 ? Buffer.from([(fin ? 0x80 : 0) | op, len])
    : len < 65536 ? Buffer.from([(fin ? 0x80 : 0) | op, 126, len >> 8, len & 255])
    : (() => { const b = Buffer.alloc(10); b[0] = (fin ? 0x80 : 0) | op; b[1] = 127; b.writeUInt32BE(0, 2); b.writeUInt32BE(len, 6); return b; })();
  return Buffer.concat([hdr, payload]);
}

function collect(chunks: Buffer[]): { msgs: [number, Buffer][]; ctl: [number, Buffer][] } {
  const st: FrameState = { rbuf: null, frag: null, fragOp: 0 };
  const msgs: [number, Buffer][] = [], ctl: [number, Buffer][] = [];
  const sink = { onMessage: (_c: FrameState, op: number, b: Buffer, start: number, end: number) => msgs.push([op, Buffer.from(b.subarray(start, end))]), onControl: (_c: FrameState, op: number, p: Buffer) => ctl.push([op, Buffer.from(p)]), onProtocolError: (_c: FrameState, r: string) => { throw new Error(r); } };
  // Each chunk sits inside a larger buffer with stale bytes around it, as reads into the shared read buffer do.
  for (const c of chunks) {
    const shared = Buffer.alloc(c.length + 8, 0xee);
    c.copy(shared, 3);
    decodeFrames(st, shared, 3, 3 + c.length, sink);
  }
  return { msgs, ctl };
}

test('7-, 16- and 64-bit lengths, text and binary, split at every byte', () => {
  const big = Buffer.alloc(70000, 7), mid = Buffer.alloc(300, 5);
  const stream = Buffer.concat([serverFrame(OP_TEXT, Buffer.from('hi')), serverFrame(OP_BINARY, mid), serverFrame(OP_BINARY, big)]);
  const whole = collect([stream]);
  assert.deepEqual(whole.msgs.map(([op, p]) => [op, p.length]), [[OP_TEXT, 2], [OP_BINARY, 300], [OP_BINARY, 70000]]);
  const head = stream.subarray(0, 400);
  const bytewise = collect([...head].map((b) => Buffer.from([b])).concat([stream.subarray(400)]));
  assert.deepEqual(bytewise.msgs.map(([op, p]) => [op, p.length]), [[OP_TEXT, 2], [OP_BINARY, 300], [OP_BINARY, 70000]]);
  assert.ok(bytewise.msgs[2][1].equals(big));
});

test('fragmented message with a ping in between', () => {
  const r = collect([Buffer.concat([
    serverFrame(OP_TEXT, Buffer.from('{"t":1,'), false),
    serverFrame(OP_PING, Buffer.from('p')),
    serverFrame(0, Buffer.from('"seq":2}'), true),
    serverFrame(OP_CLOSE, Buffer.from([0x03, 0xe9])),
  ])]);
  assert.deepEqual(r.msgs.map(([op, p]) => [op, p.toString()]), [[OP_TEXT, '{"t":1,"seq":2}']]);
  assert.deepEqual(r.ctl.map(([op, p]) => [op, p.toString('hex')]), [[OP_PING, '70'], [OP_CLOSE, '03e9']]);
});

test('client frames are masked and unmask to the payload', () => {
  for (const len of [0, 5, 200, 70000]) {
    const p = Buffer.alloc(len, 0x41);
    const f = encodeFrame(OP_TEXT, p);
    assert.equal(f[1] & 0x80, 0x80);
    const off = len < 126 ? 2 : len < 65536 ? 4 : 10;
    const mask = f.subarray(off, off + 4);
    const body = Buffer.from(f.subarray(off + 4));
    for (let i = 0; i < body.length; i++) body[i] ^= mask[i & 3];
    assert.ok(body.equals(p));
  }
});
