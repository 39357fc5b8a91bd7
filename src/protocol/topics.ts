/** Topic names and the ?topics= list a client asks for at upgrade. */

export const BROADCAST_TOPIC = 'broadcast';

const TOPIC_NAME = /^[A-Za-z0-9_.:-]{1,128}$/;

export function isValidTopic(name: string): boolean {
  return TOPIC_NAME.test(name);
}

export type TopicListResult = { ok: true; topics: string[] } | { ok: false; reason: string };

/**
 * Parses the comma-separated ?topics= value. Duplicates and the implicit
 * "broadcast" are folded; anything invalid fails the whole list, so a client
 * never silently listens to less than it asked for.
 */
export function parseTopicList(raw: string, maxTopics: number): TopicListResult {
  if (raw === '') return { ok: true, topics: [] };
  const topics = new Set<string>();
  for (const name of raw.split(',')) {
    if (!isValidTopic(name)) {
      const shown = name.length > 40 ? `${name.slice(0, 40)}...` : name;
      return { ok: false, reason: `invalid topic "${shown}": 1 to 128 characters of [A-Za-z0-9_.:-]` };
    }
    if (name !== BROADCAST_TOPIC) topics.add(name);
    if (topics.size > maxTopics) return { ok: false, reason: `too many topics: at most ${maxTopics}` };
  }
  return { ok: true, topics: [...topics] };
}
