import type { CommandErrorBody, GapReason } from '../protocol/wire.js';

/** The part of the WebSocket API the client uses: browsers' WebSocket and the `ws` package both have it. */
export interface WebSocketLike {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}

export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

/** A JWT, or a function that fetches a fresh one (called before every connection and every refresh). */
export type TokenSource = string | (() => string | Promise<string>);

export interface HeraldClientOptions {
  /** herald's WebSocket endpoint, e.g. wss://push.example.com/ws. */
  url: string;
  /** The connection's JWT when herald has auth on. A function lets the client reconnect after 4501 and refresh before exp. */
  token?: TokenSource;
  /** The WebSocket class; default: the platform's (browsers). Node 20 has none without a flag: pass require('ws'). */
  WebSocket?: WebSocketConstructor;
  /** How the token travels: in Sec-WebSocket-Protocol (default; kept out of proxy logs) or in ?token=. */
  tokenIn?: 'protocol' | 'query';
  /** Reconnect backoff with full jitter: the first delay is up to minDelayMs (default 500), doubling up to maxDelayMs (default 30000). */
  minDelayMs?: number;
  maxDelayMs?: number;
  /** A connection open this long resets the backoff (default 5000 ms). */
  stableAfterMs?: number;
  /** Refresh the token this long before its exp, or at half its remaining life if that is sooner (default 60000 ms). */
  refreshBeforeMs?: number;
}

export type ClientState = 'idle' | 'connecting' | 'connected' | 'reconnecting' | 'closed';

/** One message; `data` is text for UTF-8 payloads and bytes otherwise (or what `decode` made of it). */
export interface HeraldMessage<T = string | Uint8Array> {
  topic: string;
  /** Present for topics with history: strictly increasing, and the client delivers each seq once, in order. */
  seq?: number;
  data: T;
}

/** Messages were lost for good (history no longer reaches back): the application should reload its state. */
export interface GapInfo {
  topic: string;
  /** The last seq the client had. */
  since: number;
  /** The oldest seq still retained (null: none); since+1 .. first-1 are lost. */
  first: number | null;
  current: number;
  reason: GapReason;
}

export interface SubscriptionEvents<T> {
  message: (message: HeraldMessage<T>) => void;
  gap: (gap: GapInfo) => void;
  /** The server confirmed the subscription (again after every reconnect). */
  subscribed: () => void;
  /** Missed messages were replayed after a reconnect; live ones follow. */
  recovered: (info: { seq: number; count: number }) => void;
  /** The subscription ended: by `unsubscribe()` or by the server (admin POST /unsubscribe). */
  unsubscribed: (by: 'client' | 'server') => void;
  presence: (counts: { connections: number; users: number }) => void;
  /** The server refused the subscription (e.g. forbidden): it is dropped. */
  error: (error: CommandErrorBody) => void;
}

export interface ClientEvents {
  state: (state: ClientState) => void;
  /** Every message of every topic, including broadcast and user:<sub>. */
  message: (message: HeraldMessage) => void;
  gap: (gap: GapInfo) => void;
  /** The server subscribed this connection to a topic (admin POST /subscribe). */
  subscribed: (topic: string) => void;
  /** The connection dropped; `delayMs` until the next attempt when the client reconnects. */
  disconnected: (info: { code: number; reason: string; reconnect: boolean; delayMs?: number }) => void;
  /** The client stopped for good: close() was called, or a close code that says not to reconnect unchanged. */
  closed: (info: { code: number; reason: string }) => void;
  /** Something failed that the client works around (a token fetch, a refresh, a refused subscription). */
  error: (error: { code: string; message: string; topic?: string }) => void;
}
