import type { HeraldConfig } from '../config';
import type { WorkerStats } from '../metrics/worker-stats';
import { CloseCode } from '../protocol/close-codes';
import { ExpirySweeper } from './expiry-sweeper';
import { createJwtVerifier, type Identity, type JwtVerifier, type VerifyResult } from './jwt-verifier';
import { firstForbiddenTopic, internClaims, userTopic } from './topic-claims';

/** What an authenticated connection carries: its user and, under "enforce", when it must go. */
export interface AuthData {
  sub?: string;
  exp?: number;
  /** The token's topics claim, for subscribe commands (envelope connections with commands on only). */
  claims?: readonly string[];
}

/** What auth needs of a connection: its data, and a way to close it. */
export interface AuthSocket {
  getUserData(): AuthData;
  end(code?: number, reason?: string): void;
}

/** An upgrade's token, checked: the identity and the full topic list (requested plus user:<sub>), or the refusal. */
export type UpgradeCheck =
  | { ok: true; identity: Identity; topics: readonly string[] }
  | { ok: false; status: string; reason: string; label: string };

/**
 * JWT authentication for the gateway: checks the token and the topics claim
 * during the upgrade and closes connections whose token expires.
 */
export class ConnectionAuth {
  private readonly expiry?: ExpirySweeper<AuthSocket>;

  private constructor(private readonly verify: JwtVerifier, config: HeraldConfig, stats: WorkerStats) {
    if (config.auth.expiry === 'enforce') {
      this.expiry = new ExpirySweeper((ws) => {
        stats.tokenExpiryCloses++;
        ws.end(CloseCode.TOKEN_EXPIRED, 'token expired');
      });
      this.expiry.start();
    }
  }

  /** Undefined when auth is off; throws when a key file is missing or unusable. */
  static create(config: HeraldConfig, stats: WorkerStats): ConnectionAuth | undefined {
    if (!config.auth.enabled) return undefined;
    return new ConnectionAuth(createJwtVerifier(config.auth), config, stats);
  }

  /** Checks an upgrade's token and the topics it asks for, synchronously, inside uWS's upgrade handler. */
  check(token: string, requested: readonly string[]): UpgradeCheck {
    const result = this.verify(token);
    if (!result.ok) return { ok: false, status: '401 Unauthorized', reason: result.reason, label: result.refusal };
    const { identity } = result;
    const forbidden = firstForbiddenTopic(identity.topics, requested, identity.sub);
    if (forbidden !== undefined) return { ok: false, status: '403 Forbidden', reason: `topic not allowed by token: ${forbidden}`, label: 'forbidden_topic' };
    const own = userTopic(identity.sub);
    return { ok: true, identity, topics: requested.includes(own) ? requested : [...requested, own] };
  }

  /** Checks a token sent after the upgrade (refresh, per-topic token), with the same keys and rules. */
  verifyToken(token: string): VerifyResult {
    return this.verify(token);
  }

  /** A refresh replaced the connection's token (same sub): its exp moves in the sweeper, its claims are the new token's. */
  refreshed(ws: AuthSocket, identity: Identity): void {
    const data = ws.getUserData();
    if (data.exp !== undefined) this.expiry?.remove(ws, data.exp);
    data.exp = identity.exp;
    if (identity.exp !== undefined) this.expiry?.add(ws, identity.exp);
    if (data.claims !== undefined || identity.topics !== undefined) data.claims = internClaims(identity.topics);
  }

  opened(ws: AuthSocket): void {
    const exp = ws.getUserData().exp;
    if (exp !== undefined) this.expiry?.add(ws, exp);
  }

  closed(ws: AuthSocket): void {
    const exp = ws.getUserData().exp;
    if (exp !== undefined) this.expiry?.remove(ws, exp);
  }

  stop(): void {
    this.expiry?.stop();
  }
}
