import type { ReplyFrame } from '../protocol/wire.js';
import { readClaims, type TokenClaims } from './jwt.js';
import type { TokenSource } from './types.js';

type Timer = unknown;
const timers = globalThis as unknown as { setTimeout(fn: () => void, ms: number): Timer; clearTimeout(timer: Timer): void };

/**
 * The connection's token: fetched before every connection, and, from a token
 * function, refreshed on the open connection before it expires (60 s before
 * exp, or at half the remaining life of a shorter token).
 */
export class TokenKeeper {
  /** What the client reads of the token in use (unverified). */
  claims: TokenClaims = {};
  private timer?: Timer;

  constructor(
    private readonly source: TokenSource | undefined,
    private readonly refreshBeforeMs: number,
    private readonly onError: (error: { code: string; message: string }) => void,
  ) {}

  /** A token function can give a fresh token (after 4501, and before exp). */
  get renewable(): boolean {
    return typeof this.source === 'function';
  }

  /** The token for a new connection, now in use. */
  async fetch(): Promise<string | undefined> {
    const token = typeof this.source === 'function' ? await this.source() : this.source;
    this.claims = token ? readClaims(token) : {};
    return token;
  }

  /**
   * Refreshes before exp through `send` (the refresh command on the open
   * connection; it resolves undefined when that connection is gone).
   */
  schedule(send: (token: string) => Promise<ReplyFrame | undefined>): void {
    this.cancel();
    const exp = this.claims.exp;
    if (exp === undefined || !this.renewable) return;
    const remaining = exp * 1000 - Date.now();
    const delay = Math.max(1000, remaining - Math.min(this.refreshBeforeMs, remaining / 2));
    this.timer = timers.setTimeout(() => void this.refresh(send), delay);
  }

  cancel(): void {
    timers.clearTimeout(this.timer);
  }

  private async refresh(send: (token: string) => Promise<ReplyFrame | undefined>): Promise<void> {
    let token: string;
    try {
      token = await (this.source as () => string | Promise<string>)();
    } catch (err) {
      // The server closes with 4501 at exp; the reconnect asks the token function again.
      return this.onError({ code: 'token_unavailable', message: `token source failed: ${String(err)}` });
    }
    const reply = await send(token);
    if (!reply) return;
    if (!reply.ok) return this.onError({ code: reply.error.code, message: `token refresh refused: ${reply.error.message}` });
    this.claims = readClaims(token);
    this.schedule(send);
  }
}
