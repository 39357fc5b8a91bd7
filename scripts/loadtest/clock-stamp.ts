// Reads the send stamp of a clock payload ({"t":<us>,"seq":<n>,"time":"..."}, see
// publisher.ts and herald's clock) straight from the received bytes: the number after
// the first "t" key and after the first "seq" key. No string and no JSON.parse per
// message: a broadcast brings the same bytes to every connection, and parsing them
// as generic JSON each time cost more CPU than everything else this client does per
// message. Keys may be escaped (\"t\":), as when the payload travels as a JSON string
// inside a Socket.IO event.

export interface Stamp {
  /** microsecond wall-clock send time */
  t: number;
  /** per-publisher sequence number, -1 when the payload has none */
  seq: number;
}

const KEY_T = Buffer.from('t');
const KEY_SEQ = Buffer.from('seq');
const QUOTE = 0x22, BACKSLASH = 0x5c, COLON = 0x3a, SPACE = 0x20, ZERO = 0x30, DOT = 0x2e, LOWER_E = 0x65, UPPER_E = 0x45;

/**
 * Fills `out` and returns true when bytes [start, end) of buf carry a "t" number
 * (a non-negative integer; a fraction is dropped); false means an untracked payload.
 */
export function readStamp(buf: Buffer, start: number, end: number, out: Stamp): boolean {
  const t = numberAfterKey(buf, start, end, KEY_T);
  if (t < 0) return false;
  out.t = t;
  out.seq = numberAfterKey(buf, start, end, KEY_SEQ);
  return true;
}

/** The non-negative number after the first `"key":` (or `\"key\":`) in buf[start, end), or -1. */
export function numberAfterKey(buf: Buffer, start: number, end: number, key: Buffer): number {
  const klen = key.length;
  for (let i = start; i < end; i++) {
    if (buf[i] !== QUOTE) continue;
    let p = i + 1, j = 0;
    while (j < klen && p < end && buf[p] === key[j]) { p++; j++; }
    if (j < klen) continue;
    if (p < end && buf[p] === BACKSLASH) p++;
    if (p >= end || buf[p] !== QUOTE) continue;
    p++;
    while (p < end && buf[p] === SPACE) p++;
    if (p >= end || buf[p] !== COLON) continue;
    p++;
    while (p < end && buf[p] === SPACE) p++;
    return digitsAt(buf, p, end);
  }
  return -1;
}

function digitsAt(buf: Buffer, p: number, end: number): number {
  let v = 0, digits = 0;
  for (; p < end; p++, digits++) {
    const d = buf[p] - ZERO;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  if (digits === 0) return -1;
  if (p < end && buf[p] === DOT) for (p++; p < end && buf[p] >= ZERO && buf[p] <= ZERO + 9; p++);
  // An exponent would make the digits read so far meaningless.
  if (p < end && (buf[p] === LOWER_E || buf[p] === UPPER_E)) return -1;
  return v;
}
