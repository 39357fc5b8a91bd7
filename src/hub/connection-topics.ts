import type { Broker } from '../broker/broker';
import { BROADCAST_TOPIC } from '../protocol/topics';
import type { ClientSocket } from './client-socket';
import type { RecoveryManager } from './recovery';
import { baseTopic, envelopeTopic, holdTopic } from './topic-names';

export type JoinOutcome = 'joined' | 'closed' | 'unavailable';

export interface ConnectionTopicsDeps {
  broker: Pick<Broker, 'subscribe'>;
  recovery: Pick<RecoveryManager, 'recoverTopic' | 'isRecovering' | 'cancel'>;
  /** How long a join waits for the broker to confirm the topic. */
  confirmMs: number;
}

/**
 * A connection's topics after it opened (subscribe commands, admin control).
 * The state is uWS's own: which uWS topics the socket is subscribed to (raw
 * `t`, envelope `\0env:t`, or `\0hold:t` while joining or recovering). Nothing
 * is stored per connection, so a connection that never changes its topics
 * costs nothing here.
 */
export class ConnectionTopics {
  constructor(private readonly deps: ConnectionTopicsDeps) {}

  /** Whether the connection holds the topic: subscribed, joining or recovering. */
  holds(ws: ClientSocket, topic: string): boolean {
    if (!ws.getUserData().session) return ws.isSubscribed(topic);
    return ws.isSubscribed(envelopeTopic(topic)) || ws.isSubscribed(holdTopic(topic));
  }

  /** Topics the connection holds that count toward topics.maxPerConnection (not broadcast, not `except`). */
  counted(ws: ClientSocket, except?: string): number {
    const seen = new Set<string>();
    for (const uwsTopic of ws.getTopics()) {
      const topic = baseTopic(uwsTopic);
      if (topic !== BROADCAST_TOPIC && topic !== except) seen.add(topic);
    }
    return seen.size;
  }

  /**
   * Takes the connection live on the topic. An envelope socket holds the topic
   * meanwhile (so the worker subscribes in the broker) and goes live only once
   * the broker confirmed it: from the moment this resolves 'joined', every
   * message published reaches it, and none arrived before.
   */
  async join(ws: ClientSocket, topic: string): Promise<JoinOutcome> {
    const session = ws.getUserData().session;
    if (!session) {
      ws.subscribe(topic);
      return 'joined';
    }
    const hold = holdTopic(topic);
    ws.subscribe(hold);
    const confirmed = await within(this.deps.broker.subscribe(topic), this.deps.confirmMs);
    if (session.closed) return 'closed';
    // A later command took over: an unsubscribe (hold gone) or a recovery (which owns the hold now).
    if (!ws.isSubscribed(hold) || this.deps.recovery.isRecovering(session, topic)) return 'joined';
    if (!confirmed) {
      ws.unsubscribe(hold);
      return 'unavailable';
    }
    ws.subscribe(envelopeTopic(topic));
    ws.unsubscribe(hold);
    return 'joined';
  }

  /** Replays the topic after `since` and takes the envelope socket live (the recovery machinery of ?since=). */
  recover(ws: ClientSocket, topic: string, since: number): void {
    this.deps.recovery.recoverTopic(ws, ws.getUserData().session!, topic, since);
  }

  /** Leaves the topic; false when the connection did not hold it. */
  leave(ws: ClientSocket, topic: string): boolean {
    const session = ws.getUserData().session;
    if (!session) return ws.unsubscribe(topic);
    this.deps.recovery.cancel(session, topic);
    const live = ws.unsubscribe(envelopeTopic(topic));
    const held = ws.unsubscribe(holdTopic(topic));
    return live || held;
  }
}

/** True when `promise` fulfils within `ms`; false when it rejects or takes longer. */
function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
    timer.unref();
  });
  return Promise.race([promise.then(() => true, () => false), timeout]).finally(() => clearTimeout(timer));
}
