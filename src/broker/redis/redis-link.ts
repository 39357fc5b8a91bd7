import type Redis from 'ioredis';
import { processBeat, type Beat } from '../../runtime/beat';
import type { BrokerState } from '../broker';

/** How often a link asks Redis whether it still answers. */
export const PROBE_INTERVAL_MS = 1000;
/**
 * Subscriber connections (one or more in every worker) are asked half as often:
 * a PING and its reply are a quarter of an idle worker's CPU, and nothing waits
 * on a subscriber's health the way a publish waits on the command connection's.
 */
export const SUBSCRIBER_PROBE_INTERVAL_MS = 2000;

/** What the broker needs to know of a connection (one Redis, or a whole cluster). */
export interface Link {
  /** Commands can go out now. */
  readonly ready: boolean;
  /** Up and answered its last probe. */
  readonly answering: boolean;
  readonly state: BrokerState;
  /** Times it came back after being down. */
  readonly reconnects: number;
  close(): void;
}

/**
 * One ioredis connection and what herald knows of it: connected, unresponsive (up but
 * not answering a PING within the command timeout, e.g. a SIGSTOPped Redis) or
 * down. A stall is noticed within the probe interval + commandTimeoutMs.
 */
export class RedisLink implements Link {
  reconnects = 0;
  private readyOnce = false;
  private unresponsive = false;
  private probing = false;
  private readonly stopProbing: () => void;

  constructor(
    readonly redis: Redis,
    private readonly commandTimeoutMs: number,
    private readonly onChange: () => void,
    probeIntervalMs = PROBE_INTERVAL_MS,
    beat: Beat = processBeat,
  ) {
    redis.on('ready', () => {
      if (this.readyOnce) this.reconnects++;
      this.readyOnce = true;
      this.unresponsive = false;
      onChange();
    });
    redis.on('close', () => {
      this.unresponsive = false;
      onChange();
    });
    this.stopProbing = beat.every(probeIntervalMs, () => this.probe());
  }

  get ready(): boolean {
    return this.redis.status === 'ready';
  }

  get state(): BrokerState {
    switch (this.redis.status) {
      case 'ready':
        return this.unresponsive ? 'unresponsive' : 'connected';
      case 'end':
        return 'closed';
      case 'wait':
      case 'connecting':
      case 'connect':
        return this.readyOnce ? 'disconnected' : 'connecting';
      default:
        return 'disconnected';
    }
  }

  /** True when the link is up and answered its last probe. */
  get answering(): boolean {
    return this.ready && !this.unresponsive;
  }

  close(): void {
    this.stopProbing();
    this.redis.disconnect();
  }

  private probe(): void {
    if (this.probing || !this.ready) return;
    this.probing = true;
    const late = setTimeout(() => this.setUnresponsive(true), this.commandTimeoutMs);
    const settle = (answered: boolean) => {
      clearTimeout(late);
      this.probing = false;
      // No answer while the link still looks up (ioredis's own command timeout): unresponsive.
      // A link that dropped reports through 'close' instead.
      if (answered) this.setUnresponsive(false);
      else if (this.ready) this.setUnresponsive(true);
    };
    // PING is valid in subscriber mode too.
    this.redis.ping().then(() => settle(true), () => settle(false));
  }

  private setUnresponsive(unresponsive: boolean): void {
    if (this.unresponsive === unresponsive) return;
    this.unresponsive = unresponsive;
    this.onChange();
  }
}

/** The worst of several links' states: one link down makes the broker down. */
export function combinedState(states: BrokerState[]): BrokerState {
  const order: BrokerState[] = ['closed', 'disconnected', 'unresponsive', 'connecting', 'connected'];
  for (const state of order) if (states.includes(state)) return state;
  return 'connected';
}
