// Minimal RFC 6455 client codec: upgrade request, handshake response, frame decoding
// (fragments, 16/64-bit lengths, control frames) and masked frame encoding.
// State lives in the caller's connection object (FrameState) so a connection costs
// a few fields, not a parser instance.
import { createHash, randomBytes } from 'node:crypto';

export const OP_CONT = 0x0;
export const OP_TEXT = 0x1;
export const OP_BINARY = 0x2;
export const OP_CLOSE = 0x8;
export const OP_PING = 0x9;
export const OP_PONG = 0xa;

// One key per process is allowed by the handshake (the server only echoes a hash of it);
// a per-connection key would cost memory for no benefit to a load client.
const KEY = randomBytes(16).toString('base64');
const ACCEPT = createHash('sha1').update(KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');

export function buildUpgradeRequest(hostHeader: string, pathAndQuery: string): Buffer {
  return Buffer.from(
    `GET ${pathAndQuery} HTTP/1.1\r\nHost: ${hostHeader}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
    `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`, 'latin1');
}

export interface HandshakeResult {
  status: number;
  /** offset just past the blank line; bytes after it are already WebSocket frames */
  bodyStart: number;
  /** false when a 101 came without the expected Sec-WebSocket-Accept */
  acceptOk: boolean;
}

const ACCEPT_BYTES = Buffer.from(ACCEPT, 'latin1');
const HTTP_1 = Buffer.from('HTTP/1.', 'latin1');
const CR = 13, LF = 10, SPACE = 32, ZERO = 48;

/**
 * Parses the response head in bytes [0, end) of buf; null while it is incomplete.
 * Byte loops rather than strings and regexps: this runs once per connection.
 */
export function parseHandshakeResponse(buf: Buffer, end: number = buf.length): HandshakeResult | null {
  let stop = -1;
  for (let i = 3; i < end; i++) {
    if (buf[i] === LF && buf[i - 1] === CR && buf[i - 2] === LF && buf[i - 3] === CR) { stop = i - 3; break; }
  }
  if (stop < 0) return null;
  // "HTTP/1.1 101 Switching Protocols"
  let status = 0;
  if (stop >= 12 && buf.compare(HTTP_1, 0, 7, 0, 7) === 0 && buf[8] === SPACE) {
    for (let i = 9; i < 12; i++) {
      const d = buf[i] - ZERO;
      if (d < 0 || d > 9) { status = 0; break; }
      status = status * 10 + d;
    }
  }
  // The accept value is the base64 SHA-1 of our key: found anywhere in the head, it is the header's.
  const at = status === 101 ? buf.indexOf(ACCEPT_BYTES) : -1;
  return { status, bodyStart: stop + 4, acceptOk: status !== 101 || (at >= 0 && at < stop) };
}

/** Client frames must be masked (RFC 6455 5.3). */
export function encodeFrame(opcode: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const len = payload.length;
  const hdr = len < 126 ? 2 : len < 65536 ? 4 : 10;
  const out = Buffer.allocUnsafe(hdr + 4 + len);
  out[0] = 0x80 | opcode;
  if (len < 126) out[1] = 0x80 | len;
  else if (len < 65536) { out[1] = 0x80 | 126; out.writeUInt16BE(len, 2); }
  else { out[1] = 0x80 | 127; out.writeUInt32BE(Math.floor(len / 2 ** 32), 2); out.writeUInt32BE(len >>> 0, 6); }
  const mask = randomBytes(4);
  mask.copy(out, hdr);
  for (let i = 0; i < len; i++) out[hdr + 4 + i] = payload[i] ^ mask[i & 3];
  return out;
}

export function encodeClose(code: number): Buffer {
  const p = Buffer.allocUnsafe(2);
  p.writeUInt16BE(code, 0);
  return encodeFrame(OP_CLOSE, p);
}

/** Per-connection decoder state; null fields when idle so idle cost stays small. */
export interface FrameState {
  rbuf: Buffer | null;
  frag: Buffer[] | null;
  fragOp: number;
}

export interface FrameSink<C extends FrameState> {
  /** a whole data message: bytes [start, end) of buf, valid only during the call */
  onMessage(c: C, opcode: number, buf: Buffer, start: number, end: number): void;
  onControl(c: C, opcode: number, payload: Buffer): void;
  onProtocolError(c: C, reason: string): void;
}

/** Largest message accepted; guards against a corrupt length eating all memory. */
const MAX_MESSAGE = 64 * 1024 * 1024;

/**
 * Decodes all complete frames in c.rbuf + data[start, end); keeps an incomplete
 * tail in c.rbuf (a copy: data is usually the shared read buffer).
 * Returns false after a protocol error (caller closes the connection).
 * Messages are handed over as offsets into the buffer, so the common case (whole
 * frames in one read) allocates nothing.
 */
export function decodeFrames<C extends FrameState>(c: C, data: Buffer, start: number, end: number, sink: FrameSink<C>): boolean {
  let buf = data, off = start;
  if (c.rbuf) {
    buf = Buffer.concat([c.rbuf, data.subarray(start, end)]);
    off = 0;
    end = buf.length;
    c.rbuf = null;
  }
  while (end - off >= 2) {
    const b0 = buf[off], b1 = buf[off + 1];
    const fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (end - p < 2) break;
      len = buf.readUInt16BE(p); p += 2;
    } else if (len === 127) {
      if (end - p < 8) break;
      len = buf.readUInt32BE(p) * 2 ** 32 + buf.readUInt32BE(p + 4); p += 8;
    }
    if (len > MAX_MESSAGE) { sink.onProtocolError(c, `frame too large (${len})`); return false; }
    const maskAt = p;
    if (masked) p += 4;
    if (end - p < len) break;
    off = p + len;
    let pb = buf, ps = p, pe = p + len;
    if (masked) {
      // Servers must not mask, but unmasking is cheap and keeps us lenient.
      pb = Buffer.from(buf.subarray(p, pe));
      for (let i = 0; i < len; i++) pb[i] ^= buf[maskAt + (i & 3)];
      ps = 0; pe = len;
    }
    if (op >= 0x8) {
      if (!fin || len > 125) { sink.onProtocolError(c, 'bad control frame'); return false; }
      sink.onControl(c, op, pb.subarray(ps, pe));
      if (op === OP_CLOSE) return true;
    } else if (op === OP_CONT) {
      if (!c.frag) { sink.onProtocolError(c, 'continuation without start'); return false; }
      c.frag.push(Buffer.from(pb.subarray(ps, pe)));
      if (fin) {
        const whole = Buffer.concat(c.frag);
        const fop = c.fragOp;
        c.frag = null;
        sink.onMessage(c, fop, whole, 0, whole.length);
      }
    } else if (op === OP_TEXT || op === OP_BINARY) {
      if (c.frag) { sink.onProtocolError(c, 'new message inside fragmented message'); return false; }
      if (fin) sink.onMessage(c, op, pb, ps, pe);
      else { c.frag = [Buffer.from(pb.subarray(ps, pe))]; c.fragOp = op; }
    } else {
      sink.onProtocolError(c, `unknown opcode ${op}`);
      return false;
    }
  }
  if (off < end) c.rbuf = Buffer.from(buf.subarray(off, end));
  return true;
}
