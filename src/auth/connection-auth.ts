import type { HttpResponse, WebSocket } from 'uWebSockets.js';
import type { HeraldConfig } from '../config';
import type { WorkerStats } from '../metrics/worker-stats';
import type { Logger } from '../logger';
import { CloseCode } from '../protocol/close-codes';
import { ExpirySweeper } from './expiry-sweeper';
import type { Identity, JwtVerifier } from './jwt-verifier';
import { firstForbiddenTopic, userTopic } from './topic-claims';

/** What an authenticated connection carries: its user and, under "enforce", when it must go. */
export interface AuthData {
  sub?: string;
  exp?: number;
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
  private readonly expiry?: ExpirySweeper<WebSocket<AuthData>>;

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

  opened(ws: WebSocket<AuthData>): void {
    const exp = ws.getUserData().exp;
    if (exp !== undefined) this.expiry?.add(ws, exp);
  }

  closed(ws: WebSocket<AuthData>): void {
    const exp = ws.getUserData().exp;
    if (exp !== undefined) this.expiry?.remove(ws, exp);
  }

  stop(): void {
    this.expiry?.stop();
  }
}
