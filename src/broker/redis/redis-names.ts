/**
 * Every name herald uses in Redis. Topic names are 1 to 128 characters of
 * [A-Za-z0-9_.:-] and the prefix may not contain braces, so the two channel
 * families can never meet:
 *
 *   <prefix><topic>       live messages without a seq: what `PUBLISH herald:<topic> <payload>`
 *                         (SPUBLISH on a cluster) sends. The payload is delivered byte for byte.
 *   <prefix>{<topic>}     sequenced messages, written only by the herald_publish function as
 *                         "<seq>\n<payload>". A raw publish can never be mistaken for one.
 *
 * History keys share the {<topic>} hash tag with the sequenced channel, so on a
 * Redis Cluster a topic's counter, stream and sequenced channel live in one slot
 * and the publish function may touch all three.
 */

/** Channel of live messages published without a seq. */
export function rawChannel(prefix: string, topic: string): string {
  return prefix + topic;
}

/** Channel of messages that carry a seq (topics with history). */
export function seqChannel(prefix: string, topic: string): string {
  return `${prefix}{${topic}}`;
}

/** INCR counter holding the last seq given out for a topic. Never trimmed, so seqs never go back. */
export function seqKey(prefix: string, topic: string): string {
  return `${prefix}{${topic}}:seq`;
}

/** Redis Stream of a topic's recent messages: entry ID `<seq>-0`, fields d (payload) and t (ms). */
export function streamKey(prefix: string, topic: string): string {
  return `${prefix}{${topic}}:history`;
}

/** The topic a channel carries and whether its messages are sequenced; undefined for a foreign channel. */
export function topicOfChannel(prefix: string, channel: string): { topic: string; sequenced: boolean } | undefined {
  if (!channel.startsWith(prefix)) return undefined;
  const rest = channel.slice(prefix.length);
  if (rest.charCodeAt(0) === 0x7b /* { */ && rest.charCodeAt(rest.length - 1) === 0x7d /* } */) {
    return { topic: rest.slice(1, -1), sequenced: true };
  }
  return { topic: rest, sequenced: false };
}

/** A sequenced channel message: ASCII decimal seq, '\n', then the payload bytes. */
export function encodeSeqMessage(seq: number, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`${seq}\n`, 'latin1'), payload]);
}

/** Null when the message is not a well-formed sequenced message (the caller logs and drops it). */
export function decodeSeqMessage(message: Buffer): { seq: number; payload: Buffer } | null {
  let seq = 0;
  let i = 0;
  // 16 digits hold every safe integer; anything longer is not ours.
  for (; i < message.length && i <= 16; i++) {
    const c = message[i];
    if (c === 0x0a) break;
    if (c < 0x30 || c > 0x39) return null;
    seq = seq * 10 + (c - 0x30);
  }
  if (i === 0 || i >= message.length || message[i] !== 0x0a || !Number.isSafeInteger(seq) || seq < 1) return null;
  return { seq, payload: message.subarray(i + 1) };
}
