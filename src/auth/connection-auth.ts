import type { HttpResponse } from 'uWebSockets.js';
import type { HeraldConfig } from '../config';
import type { WorkerStats } from '../metrics/worker-stats';
import type { Logger } from '../logger';
import { CloseCode } from '../protocol/close-codes';
import { ExpirySweeper } from './expiry-sweeper';
import type { Identity, JwtVerifier, VerifyResult } from './jwt-verifier';
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

export interface UpgradeOutcome {
  /** Called inside res.cork with the identity and the full topic list (requested plus user:<sub>). */
  accept(identity: Identity, topics: readonly string[]): void;
  /** Called inside res.cork; `label` is the refusal reason counted in stats. */
  refuse(status: string, reason: string, label: string): void;
}

/**
 * JWT authentication for the gateway: checks the token and the topics claim
 * during the upgrade (asynchronously, so the response may be aborted
 * meanwhile) and closes connections whose token expires.
 */
export class ConnectionAuth {
  private readonly expiry?: ExpirySweeper<AuthSocket>;

  private constructor(private readonly verify: JwtVerifier, config: HeraldConfig, stats: WorkerStats, private readonly log: Logger) {
    if (config.auth.expiry === 'enforce') {
      this.expiry = new ExpirySweeper((ws) => {
        stats.tokenExpiryCloses++;
        ws.end(CloseCode.TOKEN_EXPIRED, 'token expired');
      });
      this.expiry.start();
    }
  }

  /** Undefined when auth is off; throws when a key file is missing or unusable. */
  static async create(config: HeraldConfig, stats: WorkerStats, log: Logger): Promise<ConnectionAuth | undefined> {
    if (!config.auth.enabled) return undefined;
    // Loaded only when auth is on: jose costs every worker about 1 MB of heap.
    const { createJwtVerifier } = await import('./jwt-verifier');
    return new ConnectionAuth(await createJwtVerifier(config.auth), config, stats, log);
  }

  /**
   * Finishes an upgrade whose headers were already read. uWS forbids touching
   * `res` after the client went away, hence onAborted, and wants the response
   * corked when written from outside its own callback.
   */
  upgrade(res: HttpResponse, token: string, requested: readonly string[], outcome: UpgradeOutcome): void {
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    this.verify(token).then(
      (result) => {
        if (aborted) return;
        res.cork(() => {
          if (!result.ok) return outcome.refuse('401 Unauthorized', result.reason, result.refusal);
          const { identity } = result;
          const forbidden = firstForbiddenTopic(identity.topics, requested, identity.sub);
          if (forbidden !== undefined) return outcome.refuse('403 Forbidden', `topic not allowed by token: ${forbidden}`, 'forbidden_topic');
          const own = userTopic(identity.sub);
          outcome.accept(identity, requested.includes(own) ? requested : [...requested, own]);
        });
      },
      (err: Error) => {
        this.log.error({ err: err.message }, 'token verification failed unexpectedly');
        if (!aborted) res.cork(() => outcome.refuse('500 Internal Server Error', 'token check failed', 'auth_error'));
      },
    );
  }

  /** Checks a token sent after the upgrade (refresh, per-topic token), with the same keys and rules. */
  verifyToken(token: string): Promise<VerifyResult> {
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
