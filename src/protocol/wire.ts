/**
 * The shapes on the wire of an envelope connection (`?format=envelope`), in
 * both directions. Types only, and no platform import: the official client
 * (src/client/) is built from these same declarations for browsers and Node.
 *
 * Client to server, one JSON text frame per command:
 *   {"id":1,"op":"subscribe","topic":"room:7"}
 *   {"id":2,"op":"subscribe","topic":"room:7","since":12,"token":"<jwt allowing room:7>"}
 *   {"id":3,"op":"unsubscribe","topic":"room:7"}
 *   {"id":4,"op":"refresh","token":"<new jwt, same sub>"}
 * Each gets exactly one reply frame with the same id.
 */
import type { CommandErrorCodeValue } from './command-errors';

/** A command's id: an integer from 0 to 2^53-1, or a string of 1 to 64 characters. Echoed in its reply. */
export type CommandId = number | string;

export interface SubscribeCommand {
  id: CommandId;
  op: 'subscribe';
  topic: string;
  /** Last seq the client has of the topic: herald replays what it missed (recovery), then goes live. */
  since?: number;
  /** A JWT for this topic when the connection's own token does not allow it (same sub). */
  token?: string;
}

export interface UnsubscribeCommand {
  id: CommandId;
  op: 'unsubscribe';
  topic: string;
}

export interface RefreshCommand {
  id: CommandId;
  op: 'refresh';
  /** A new JWT for the connection's sub: the connection keeps its topics and its exp moves. */
  token: string;
}

export type Command = SubscribeCommand | UnsubscribeCommand | RefreshCommand;

export interface CommandErrorBody {
  code: CommandErrorCodeValue;
  message: string;
  /** rate_limited only: when the next command will be taken. */
  retryAfterMs?: number;
}

/** The one answer to a command; `id` is null when the frame carried no usable id. */
export type ReplyFrame = { type: 'reply'; id: CommandId | null; ok: true } | { type: 'reply'; id: CommandId | null; ok: false; error: CommandErrorBody };

export interface MessageFrame {
  type: 'message';
  topic: string;
  /** Present when the topic has history. */
  seq?: number;
  /** The payload as text (valid UTF-8)... */
  data?: string;
  /** ...or base64 when it is not. */
  b64?: string;
}

export type GapReason = 'expired' | 'no-history' | 'ahead';

export interface GapFrame {
  type: 'gap';
  topic: string;
  since: number;
  /** Oldest seq still retained (null when none is). Messages since+1 .. first-1 are lost. */
  first: number | null;
  current: number;
  reason: GapReason;
}

export interface RecoveredFrame {
  type: 'recovered';
  topic: string;
  seq: number;
  count: number;
}

/** The server subscribed the connection (admin POST /subscribe). */
export interface SubscribedFrame {
  type: 'subscribed';
  topic: string;
}

/** The server unsubscribed the connection (admin POST /unsubscribe). */
export interface UnsubscribedFrame {
  type: 'unsubscribed';
  topic: string;
}

/** Connections and distinct users on a topic tracked for presence, across every herald (presence.push). */
export interface PresenceFrame {
  type: 'presence';
  topic: string;
  connections: number;
  users: number;
}

export type ServerFrame = MessageFrame | GapFrame | RecoveredFrame | ReplyFrame | SubscribedFrame | UnsubscribedFrame | PresenceFrame;
