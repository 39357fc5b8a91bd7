import { asBuffer, isToWorker, type ToWorker } from '../lifecycle/ipc';
import type { BrokerPublisher, BrokerState, BrokerSubscriber, MessageHandler } from './broker';

/**
 * The embedded broker: the primary relays each publish to every worker over
 * IPC. No Redis needed, but it reaches only this herald's workers.
 */
export class LocalPublisher implements BrokerPublisher {
  readonly state: BrokerState = 'connected';

  /** `sendToWorkers` hands one message to every live worker. */
  constructor(private readonly sendToWorkers: (msg: ToWorker) => void) {}

  async publish(topic: string, payload: Buffer): Promise<void> {
    this.sendToWorkers({ type: 'publish', topic, payload });
  }

  async close(): Promise<void> {}
}

/** Worker side of the local broker: every publish arrives; topics without subscribers cost one lookup. */
export class LocalSubscriber implements BrokerSubscriber {
  readonly needsTopicInterest = false;
  readonly reconnects = 0;
  private current: BrokerState = 'connecting';
  private readonly listener = (msg: unknown) => {
    if (isToWorker(msg) && msg.type === 'publish') this.onMessage(msg.topic, asBuffer(msg.payload));
  };

  constructor(private readonly onMessage: MessageHandler) {}

  get state(): BrokerState {
    return this.current;
  }

  start(): void {
    process.on('message', this.listener);
    this.current = 'connected';
  }

  subscribe(): void {}

  unsubscribe(): void {}

  async close(): Promise<void> {
    process.off('message', this.listener);
    this.current = 'closed';
  }
}
