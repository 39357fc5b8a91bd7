/**
 * How a sequenced message travels on the pub/sub channel: a short header before
 * the payload, written by scripts/herald-publish.lua:
 *
 *   0x00 'H' <seq in ASCII decimal> '\n' <payload bytes>
 *
 * A plain `PUBLISH herald:<topic> <payload>` has no header and is delivered
 * untouched and without a seq. The leading NUL keeps the header out of the way of
 * every text payload; a binary payload that happens to start with 0x00 'H' must
 * be published through the script (or the admin API) to be delivered intact.
 */

const MARK0 = 0x00;
const MARK1 = 0x48; // 'H'
const MAX_SEQ_DIGITS = 16; // Number.MAX_SAFE_INTEGER has 16 digits

export interface SeqFrame {
  /** Undefined for a message published without the header (no history, no seq). */
  seq: number | undefined;
  payload: Buffer;
}

/** Returns null for a frame that starts with the header mark but is malformed (caller logs and drops it). */
export function decodeSeqFrame(message: Buffer): SeqFrame | null {
  if (message.length < 2 || message[0] !== MARK0 || message[1] !== MARK1) return { seq: undefined, payload: message };
  let seq = 0;
  let i = 2;
  for (; i < message.length && i < 2 + MAX_SEQ_DIGITS + 1; i++) {
    const c = message[i];
    if (c === 0x0a) break;
    if (c < 0x30 || c > 0x39) return null;
    seq = seq * 10 + (c - 0x30);
  }
  if (i === 2 || i >= message.length || message[i] !== 0x0a || !Number.isSafeInteger(seq) || seq < 1) return null;
  return { seq, payload: message.subarray(i + 1) };
}

/** The same header in TypeScript (tests and tools; herald itself publishes through the Lua script). */
export function encodeSeqFrame(seq: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from([MARK0, MARK1]), Buffer.from(`${seq}\n`), payload]);
}
