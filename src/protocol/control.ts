/**
 * Server-side control travels as broker messages on one internal topic, so it
 * reaches every worker of every herald sharing the broker, through the same
 * path as any publish (the local broker's IPC relay, or Redis pub/sub on
 * `<prefix>!control`). `!` is outside the topic alphabet [A-Za-z0-9_.:-]: no
 * client can subscribe to this topic, POST /publish refuses it, and no history
 * rule matches it. Anyone who can PUBLISH on herald's Redis can send control
 * messages, as they can publish anything else.
 *
 *   {"op":"subscribe","user":"42","topic":"room:7"}     every connection of user 42 joins room:7
 *   {"op":"unsubscribe","user":"42","topic":"room:7"}
 *   {"op":"disconnect","user":"42"}                     close code 4502
 *   {"op":"presence","topic":"room:7","connections":3,"users":2}   pushed to envelope subscribers
 */
import { isValidTopic } from './topics';

export const CONTROL_TOPIC = '!control';

/** `sub` claims are 1 to 123 characters of [A-Za-z0-9_.:-] (so that user:<sub> is a topic). */
const USER = /^[A-Za-z0-9_.:-]{1,123}$/;

export function isValidUser(user: string): boolean {
  return USER.test(user);
}

export type ControlMessage =
  | { op: 'subscribe' | 'unsubscribe'; user: string; topic: string }
  | { op: 'disconnect'; user: string }
  | { op: 'presence'; topic: string; connections: number; users: number };

export function encodeControl(message: ControlMessage): Buffer {
  return Buffer.from(JSON.stringify(message));
}

const count = (n: unknown): n is number => typeof n === 'number' && Number.isSafeInteger(n) && n >= 0;

/** Undefined for anything malformed (the caller logs and drops it). */
export function decodeControl(payload: Buffer): ControlMessage | undefined {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
  } catch {
    return undefined;
  }
  if (typeof m !== 'object' || m === null) return undefined;
  const user = typeof m.user === 'string' && isValidUser(m.user) ? m.user : undefined;
  const topic = typeof m.topic === 'string' && isValidTopic(m.topic) ? m.topic : undefined;
  switch (m.op) {
    case 'subscribe':
    case 'unsubscribe':
      return user && topic ? { op: m.op, user, topic } : undefined;
    case 'disconnect':
      return user ? { op: 'disconnect', user } : undefined;
    case 'presence':
      return topic && count(m.connections) && count(m.users) ? { op: 'presence', topic, connections: m.connections, users: m.users } : undefined;
    default:
      return undefined;
  }
}

/** Frames pushed to envelope connections when the server changes their topics. */
export function encodeSubscribed(topic: string): string {
  return JSON.stringify({ type: 'subscribed', topic });
}

export function encodeUnsubscribed(topic: string): string {
  return JSON.stringify({ type: 'unsubscribed', topic });
}

export function encodePresence(topic: string, connections: number, users: number): string {
  return JSON.stringify({ type: 'presence', topic, connections, users });
}
