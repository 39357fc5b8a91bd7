import type { Logger } from '../logger';
import { processBeat, type Beat } from './beat';

/** Heap growth over its lowest since the last collection that makes a quiet worker collect. */
export const QUIET_COLLECT_MIN_GROWTH_BYTES = 4 * 2 ** 20;
/**
 * Connections opened or closed since the last collection that make a quiet worker
 * collect, whatever its heap grew: a ramp of 15,000 connections grew a worker's heap
 * by less than 4 MB, yet the garbage it promoted held ~110 B of RSS per connection
 * until a collection gave it back (902 B per connection 5 s after the ramp, 793 B
 * once collected; one worker, C client).
 */
export const QUIET_COLLECT_MIN_CHURN = 1000;

export interface QuietCollectorDeps {
  /** A counter that goes up by about one for each connection opened or closed. */
  churn: () => number;
  heapUsed: () => number;
  /** Frees the garbage and gives its pages back (the worker: global.gc twice, with --expose-gc). */
  collect: () => void;
  /** How long churn must have stopped before collecting. */
  quietMs: number;
  log: Logger;
  beat?: Beat;
  now?: () => number;
}

/**
 * A full heap collection once a worker goes quiet after connection churn.
 * A closed connection's JavaScript objects (its user data, the socket wrapper,
 * a recovery session) outlive the young generation of a busy worker and sit in
 * the old one until V8's next major collection, which a worker that then stays
 * idle may not run for hours: after a million churned connections its RSS stayed
 * ~10 MB above where it started (bench:soak). Collecting once per quiet spell,
 * when churn has stopped and the heap has grown, gives that memory back while
 * nothing waits on the worker; a worker under steady churn is left to V8's own
 * schedule. A quiet spell after enough churn collects even when the heap grew
 * little: what the churn promoted is spread over pages V8 keeps.
 */
export class QuietCollector {
  private lastChurn: number;
  /** churn() at the last collection */
  private churnAtCollect: number;
  private quietSince: number;
  /** Lowest heap seen since the last collection: what is live, near enough (V8's own major collections reach it too). */
  private heapLow: number;
  private readonly now: () => number;

  constructor(private readonly deps: QuietCollectorDeps) {
    this.now = deps.now ?? Date.now;
    this.lastChurn = deps.churn();
    this.churnAtCollect = this.lastChurn;
    this.quietSince = this.now();
    this.heapLow = deps.heapUsed();
  }

  start(): () => void {
    return (this.deps.beat ?? processBeat).every(1000, () => this.tick());
  }

  /** One check; true when it collected. */
  tick(): boolean {
    const churn = this.deps.churn(), now = this.now(), heap = this.deps.heapUsed();
    // Not the heap at start-up: that still holds the start-up's garbage, and made every later growth look small.
    this.heapLow = Math.min(this.heapLow, heap);
    if (churn !== this.lastChurn) {
      this.lastChurn = churn;
      this.quietSince = now;
      return false;
    }
    if (now - this.quietSince < this.deps.quietMs) return false;
    if (heap - this.heapLow < QUIET_COLLECT_MIN_GROWTH_BYTES && churn - this.churnAtCollect < QUIET_COLLECT_MIN_CHURN) return false;
    this.deps.collect();
    this.churnAtCollect = churn;
    this.heapLow = this.deps.heapUsed();
    this.deps.log.debug({ heapBefore: heap, heapAfter: this.heapLow, ms: this.now() - now }, 'quiet worker: heap collected');
    return true;
  }
}
