/**
 * Redis names used by history. The {topic} hash tag keeps a topic's counter and
 * stream in one Redis Cluster slot, so the publish script may touch both.
 */

/** INCR counter holding the last sequence number given out for a topic. Never trimmed, so seqs never go back. */
export function seqKey(prefix: string, topic: string): string {
  return `${prefix}{${topic}}:seq`;
}

/** Redis Stream holding the recent messages of a topic; entry ID `<seq>-0`, fields d (payload) and t (ms). */
export function streamKey(prefix: string, topic: string): string {
  return `${prefix}{${topic}}:history`;
}

/** The pub/sub channel live messages travel on (the same one a plain PUBLISH uses). */
export function channelName(prefix: string, topic: string): string {
  return prefix + topic;
}
