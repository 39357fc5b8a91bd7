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

const CRLFCRLF = Buffer.from('\r\n\r\n');

/** Returns null while the response head is incomplete. */
export function parseHandshakeResponse(buf: Buffer): HandshakeResult | null {
  const end = buf.indexOf(CRLFCRLF);
  if (end < 0) return null;
  const head = buf.toString('latin1', 0, end);
  const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
  const status = m ? Number(m[1]) : 0;
  const acceptOk = status !== 101 || head.toLowerCase().includes(`sec-websocket-accept: ${ACCEPT.toLowerCase()}`);
  return { status, bodyStart: end + 4, acceptOk };
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
  onMessage(c: C, opcode: number, payload: Buffer): void;
  onControl(c: C, opcode: number, payload: Buffer): void;
  onProtocolError(c: C, reason: string): void;
}

/** Largest message accepted; guards against a corrupt length eating all memory. */
const MAX_MESSAGE = 64 * 1024 * 1024;

/**
 * Decodes all complete frames in rbuf+chunk; keeps an incomplete tail in c.rbuf.
 * Returns false after a protocol error (caller closes the connection).
 */
export function decodeFrames<C extends FrameState>(c: C, chunk: Buffer, sink: FrameSink<C>): boolean {
  let buf = c.rbuf ? Buffer.concat([c.rbuf, chunk]) : chunk;
  c.rbuf = null;
  let off = 0;
  while (buf.length - off >= 2) {
    const b0 = buf[off], b1 = buf[off + 1];
    const fin = (b0 & 0x80) !== 0;
    const op = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    let len = b1 & 0x7f;
    let p = off + 2;
    if (len === 126) {
      if (buf.length - p < 2) break;
      len = buf.readUInt16BE(p); p += 2;
    } else if (len === 127) {
      if (buf.length - p < 8) break;
      len = buf.readUInt32BE(p) * 2 ** 32 + buf.readUInt32BE(p + 4); p += 8;
    }
    if (len > MAX_MESSAGE) { sink.onProtocolError(c, `frame too large (${len})`); return false; }
    const maskAt = p;
    if (masked) p += 4;
    if (buf.length - p < len) break;
    let payload = buf.subarray(p, p + len);
    if (masked) {
      // Servers must not mask, but unmasking is cheap and keeps us lenient.
      payload = Buffer.from(payload);
      for (let i = 0; i < len; i++) payload[i] ^= buf[maskAt + (i & 3)];
    }
    off = p + len;
    if (op >= 0x8) {
      if (!fin || len > 125) { sink.onProtocolError(c, 'bad control frame'); return false; }
      sink.onControl(c, op, payload);
      if (op === OP_CLOSE) return true;
    } else if (op === OP_CONT) {
      if (!c.frag) { sink.onProtocolError(c, 'continuation without start'); return false; }
      c.frag.push(Buffer.from(payload));
      if (fin) {
        const whole = Buffer.concat(c.frag);
        const fop = c.fragOp;
        c.frag = null;
        sink.onMessage(c, fop, whole);
      }
    } else if (op === OP_TEXT || op === OP_BINARY) {
      if (c.frag) { sink.onProtocolError(c, 'new message inside fragmented message'); return false; }
      if (fin) sink.onMessage(c, op, payload);
      else { c.frag = [Buffer.from(payload)]; c.fragOp = op; }
    } else {
      sink.onProtocolError(c, `unknown opcode ${op}`);
      return false;
    }
  }
  // Copy the tail so the (possibly large) read buffer can be freed.
  if (off < buf.length) c.rbuf = Buffer.from(buf.subarray(off));
  return true;
}
