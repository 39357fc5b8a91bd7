import type Redis from 'ioredis';
import type { Logger } from '../../logger';
import { BrokerUnavailableError, type Broker, type BrokerHandlers, type BrokerState, type HistoryEntry, type HistoryPage, type PublishResult } from '../broker';
import type { HistoryRules } from '../history-rules';
import { publishFunctionNames, publishFunctionSource } from './publish-function';
import { openRedis, type RedisEndpoint } from './redis-connections';
import { combinedState, RedisLink } from './redis-link';
import { decodeSeqMessage, rawChannel, seqChannel, seqKey, streamKey, topicOfChannel } from './redis-names';
import { SubscriptionSet } from './subscription-set';

export interface RedisBrokerOptions extends RedisEndpoint {
  prefix: string;
  rules: HistoryRules;
  /** The publishing process (herald's primary) loads the publish function at start and after Redis lost it. */
  loadFunction: boolean;
  log: Logger;
  handlers: BrokerHandlers;
}

/**
 * The broker on one Redis server: pub/sub carries live messages, the
 * herald_publish function gives seqs and keeps history in Redis Streams.
 * Connections are opened when first needed: a worker that only receives opens
 * only the subscriber, the primary only the command connection.
 */
export class RedisBroker implements Broker {
  private commandLink?: RedisLink;
  private subscriberLink?: RedisLink;
  private subscriptions?: SubscriptionSet;
  private lastState: BrokerState = 'connecting';
  private closed = false;
  private readonly fn: string;

  constructor(private readonly options: RedisBrokerOptions) {
    this.fn = publishFunctionNames(options.prefix).fn;
    if (options.loadFunction) this.commands();
  }

  get state(): BrokerState {
    if (this.closed) return 'closed';
    const links = [this.commandLink, this.subscriberLink].filter((l): l is RedisLink => l !== undefined);
    return links.length === 0 ? 'connecting' : combinedState(links.map((l) => l.state));
  }

  get reconnects(): number {
    return (this.commandLink?.reconnects ?? 0) + (this.subscriberLink?.reconnects ?? 0);
  }

  hasHistory(topic: string): boolean {
    return this.options.rules.ruleFor(topic) !== undefined;
  }

  async publish(topic: string, payload: Buffer): Promise<PublishResult> {
    const link = this.commands();
    // Refused at once rather than queued: the caller learns the message was not sent.
    if (!link.ready) throw new BrokerUnavailableError(`redis is ${link.redis.status}`);
    if (!link.answering) throw new BrokerUnavailableError(`redis is unresponsive: no answer within ${this.options.commandTimeoutMs} ms`);
    try {
      if (!this.hasHistory(topic)) {
        await link.redis.publish(rawChannel(this.options.prefix, topic), payload);
        return {};
      }
      return { seq: await this.callPublishFunction(link.redis, topic, payload) };
    } catch (err) {
      const message = (err as Error).message;
      // The command went out: Redis may have run it although no answer came back in time.
      const maybe = /timed out|Connection is closed/i.test(message);
      throw new BrokerUnavailableError(`redis publish failed: ${message}`, maybe);
    }
  }

  async history(topic: string, since: number, limit: number): Promise<HistoryPage> {
    const link = this.commands();
    await this.untilReady(link);
    const { prefix } = this.options;
    // One pipeline, run in order: a seq counted by GET is either in the range read after it or trimmed.
    const results = await link.redis
      .pipeline()
      .get(seqKey(prefix, topic))
      .xrangeBuffer(streamKey(prefix, topic), `${since + 1}-0`, '+', 'COUNT', limit)
      .xrange(streamKey(prefix, topic), '-', '+', 'COUNT', 1)
      .exec();
    if (!results) throw new Error('history read: empty pipeline result');
    for (const [err] of results) if (err) throw err;
    const current = Number((results[0][1] as string | null) ?? 0);
    const range = results[1][1] as [Buffer, Buffer[]][];
    const head = results[2][1] as [string, string[]][];
    const entries: HistoryEntry[] = [];
    for (const [id, fields] of range) {
      const seq = Number.parseInt(id.toString('latin1'), 10);
      const at = fields.findIndex((f, i) => i % 2 === 0 && f.length === 1 && f[0] === 0x64); // 'd'
      if (!Number.isSafeInteger(seq) || at < 0 || at + 1 >= fields.length) {
        this.options.log.warn({ topic, id: id.toString('latin1') }, 'malformed history entry skipped');
        continue;
      }
      entries.push({ seq, payload: fields[at + 1] });
    }
    const first = head.length > 0 ? Number.parseInt(head[0][0], 10) : null;
    return { first, current, entries };
  }

  subscribe(topic: string): Promise<void> {
    return this.subscriberSet().subscribe(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.subscriptions?.unsubscribe(topic);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.commandLink?.close();
    this.subscriberLink?.close();
    this.report();
  }

  /** SUBSCRIBE/UNSUBSCRIBE commands sent so far (batched), for metrics and tests. */
  get subscribeCommands(): number {
    return this.subscriptions?.commandsSent ?? 0;
  }

  private commands(): RedisLink {
    if (this.commandLink) return this.commandLink;
    const redis = openRedis(this.options, 'commands');
    const link = (this.commandLink = new RedisLink(redis, this.options.commandTimeoutMs, () => this.report()));
    redis.on('error', (err: Error) => this.options.log.debug({ err: err.message }, 'redis command connection error'));
    if (this.options.loadFunction) redis.on('ready', () => void this.loadFunction(redis).catch(() => {}));
    redis.connect().catch(() => {}); // retries by itself; the state says how it goes
    return link;
  }

  private subscriberSet(): SubscriptionSet {
    if (this.subscriptions) return this.subscriptions;
    const redis = openRedis(this.options, 'subscriber');
    const link = (this.subscriberLink = new RedisLink(redis, this.options.commandTimeoutMs, () => this.report()));
    const { prefix, log } = this.options;
    const set = (this.subscriptions = new SubscriptionSet(
      {
        get ready() {
          return link.ready;
        },
        subscribe: (channels) => redis.subscribe(...channels),
        unsubscribe: (channels) => redis.unsubscribe(...channels),
      },
      (topic) => (this.hasHistory(topic) ? [rawChannel(prefix, topic), seqChannel(prefix, topic)] : [rawChannel(prefix, topic)]),
      (err, topics) => log.warn({ err: err.message, topics: topics.length }, 'redis subscribe failed'),
    ));
    redis.on('messageBuffer', (channel: Buffer, message: Buffer) => this.receive(channel, message));
    redis.on('close', () => set.lost());
    redis.on('ready', () => set.resubscribeAll());
    redis.on('error', (err: Error) => log.debug({ err: err.message }, 'redis subscriber connection error'));
    redis.connect().catch(() => {});
    return set;
  }

  private receive(channelBytes: Buffer, message: Buffer): void {
    // Channel names are ASCII (topic rules), so latin1 is an exact, cheap decode.
    const channel = topicOfChannel(this.options.prefix, channelBytes.toString('latin1'));
    if (!channel) return;
    if (!channel.sequenced) return this.options.handlers.onMessage({ topic: channel.topic, payload: message });
    const decoded = decodeSeqMessage(message);
    if (!decoded) {
      this.options.log.warn({ topic: channel.topic, bytes: message.length }, 'malformed sequenced message dropped');
      return;
    }
    this.options.handlers.onMessage({ topic: channel.topic, seq: decoded.seq, payload: decoded.payload });
  }

  private async callPublishFunction(redis: Redis, topic: string, payload: Buffer): Promise<number> {
    const call = () => redis.call('FCALL', this.fn, '1', topic, payload) as Promise<number | null>;
    let seq: number | null;
    try {
      seq = await call();
    } catch (err) {
      // Redis restarted without persistence (or FUNCTION FLUSH): load the library again, once.
      if (!/function not found/i.test((err as Error).message)) throw err;
      await this.loadFunction(redis);
      seq = await call();
    }
    if (typeof seq !== 'number') throw new Error(`${this.fn} returned no seq for a topic with history (another herald loaded other history rules?)`);
    return seq;
  }

  private async loadFunction(redis: Redis): Promise<void> {
    const { prefix, rules, log } = this.options;
    const source = publishFunctionSource({ prefix, rules: rules.list, cluster: false });
    try {
      await redis.call('FUNCTION', 'LOAD', 'REPLACE', source);
      log.debug({ fn: this.fn }, 'publish function loaded');
    } catch (err) {
      log.error({ err: (err as Error).message, fn: this.fn }, 'cannot load the publish function: publishes to topics with history will fail');
      throw err;
    }
  }

  private untilReady(link: RedisLink): Promise<void> {
    if (link.ready) return Promise.resolve();
    if (this.closed) return Promise.reject(new Error('broker closed'));
    return new Promise((resolve, reject) => {
      const ready = () => {
        link.redis.off('end', end);
        resolve();
      };
      const end = () => {
        link.redis.off('ready', ready);
        reject(new Error('redis connection ended'));
      };
      link.redis.once('ready', ready);
      link.redis.once('end', end);
    });
  }

  private report(): void {
    const state = this.state;
    if (state === this.lastState) return;
    this.lastState = state;
    this.options.handlers.onState?.(state);
  }
}
