import type { Logger } from '../../logger';
import { BrokerUnavailableError, type Broker, type BrokerHandlers, type BrokerState, type HistoryEntry, type HistoryPage, type PublishResult } from '../broker';
import type { HistoryRules } from '../history-rules';
import { CommandConnection } from './command-connection';
import { publishFunctionNames, publishFunctionSource } from './publish-function';
import type { RedisEndpoint } from './redis-connections';
import { combinedState } from './redis-link';
import { decodeSeqMessage, rawChannel, seqChannel, seqKey, streamKey, topicOfChannel } from './redis-names';
import { PlainSubscriber } from './plain-subscriber';
import { ShardedSubscriber } from './sharded-subscriber';
import type { TopicSubscriber } from './topic-subscriber';

export interface RedisBrokerOptions extends RedisEndpoint {
  prefix: string;
  rules: HistoryRules;
  /** The publishing process (herald's primary) loads the publish function at start and after Redis lost it. */
  loadFunction: boolean;
  log: Logger;
  handlers: BrokerHandlers;
}

/**
 * The broker on Redis (standalone, Sentinel or Cluster): pub/sub carries live
 * messages (sharded pub/sub on a cluster), the herald_publish function gives
 * seqs and keeps history in Redis Streams. Connections are opened when first
 * needed: a worker that only receives opens only its subscriber(s) (plus, on a
 * cluster, the client that knows the slot map), the primary only the command
 * connection.
 */
export class RedisBroker implements Broker {
  private commandConnection?: CommandConnection;
  private subscriber?: TopicSubscriber;
  private lastState: BrokerState = 'connecting';
  private closed = false;
  private readonly fn: string;
  private readonly cluster: boolean;

  constructor(private readonly options: RedisBrokerOptions) {
    this.fn = publishFunctionNames(options.prefix).fn;
    this.cluster = options.mode === 'cluster';
    if (options.loadFunction) this.commands();
  }

  get state(): BrokerState {
    if (this.closed) return 'closed';
    const states = [this.commandConnection?.link.state, this.subscriber?.state].filter((s): s is BrokerState => s !== undefined);
    return states.length === 0 ? 'connecting' : combinedState(states);
  }

  get reconnects(): number {
    return (this.commandConnection?.link.reconnects ?? 0) + (this.subscriber?.reconnects ?? 0);
  }

  hasHistory(topic: string): boolean {
    return this.options.rules.ruleFor(topic) !== undefined;
  }

  async publish(topic: string, payload: Buffer): Promise<PublishResult> {
    const connection = this.commands();
    const history = this.hasHistory(topic);
    const { prefix, commandTimeoutMs } = this.options;
    // Refused at once rather than queued or retried into a dead master: the caller learns the message was not sent.
    const unavailable = connection.unavailable(history ? topic : rawChannel(prefix, topic));
    if (unavailable) throw new BrokerUnavailableError(unavailable);
    const send = history ? this.callPublishFunction(connection, topic, payload).then((seq) => ({ seq })) : connection.publishPlain(rawChannel(prefix, topic), payload).then(() => ({}));
    try {
      // A single connection's commands time out by themselves; a cluster client retries through redirections and
      // failovers, so it gets a deadline: the caller still hears within the command timeout.
      return await (this.cluster ? withDeadline(send, commandTimeoutMs) : send);
    } catch (err) {
      const message = (err as Error).message;
      if (/^ERR herald:/.test(message)) throw err; // the function refused the call: a caller's mistake, not an outage
      // The command went out: Redis may have run it although no answer came back in time.
      const maybe = /timed out|Connection is closed/i.test(message);
      throw new BrokerUnavailableError(`redis publish failed: ${message}`, maybe);
    }
  }

  async history(topic: string, since: number, limit: number): Promise<HistoryPage> {
    const connection = this.commands();
    await connection.untilReady();
    const { prefix } = this.options;
    // One pipeline, run in order (one slot on a cluster: the keys share the {topic} tag): a seq counted by GET is
    // either in the range read after it or trimmed.
    const results = await connection.client
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
    return this.subscribers().subscribe(topic);
  }

  async unsubscribe(topic: string): Promise<void> {
    this.subscriber?.unsubscribe(topic);
  }

  /**
   * A PING on the subscriber connection that carries the topic. Whatever this instance learned
   * of was published before Redis served that read or publish, so before it serves the PING:
   * the message was pushed to the connection ahead of the PING's answer.
   */
  async fence(topic: string): Promise<void> {
    // Without a subscriber connection nothing is delivered here, so nothing is outstanding.
    await this.subscriber?.fence(topic);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.subscriber?.close();
    this.commandConnection?.close();
    this.report();
  }

  /** (S)SUBSCRIBE/(S)UNSUBSCRIBE commands sent so far (batched), for metrics and tests. */
  get subscribeCommands(): number {
    return this.subscriber?.commandsSent ?? 0;
  }

  private commands(): CommandConnection {
    if (this.commandConnection) return this.commandConnection;
    const { prefix, rules, log, loadFunction } = this.options;
    const source = publishFunctionSource({ prefix, rules: rules.list, cluster: this.cluster });
    this.commandConnection = new CommandConnection(this.options, () => this.report(), log, { name: this.fn, source, loadAtStart: loadFunction });
    return this.commandConnection;
  }

  private subscribers(): TopicSubscriber {
    if (this.subscriber) return this.subscriber;
    const { prefix, log } = this.options;
    const channelsOf = (topic: string) => (this.hasHistory(topic) ? [rawChannel(prefix, topic), seqChannel(prefix, topic)] : [rawChannel(prefix, topic)]);
    const onMessage = (channel: Buffer, message: Buffer) => this.receive(channel, message);
    const onChange = () => this.report();
    const cluster = this.cluster ? this.commands().cluster : undefined;
    this.subscriber = cluster
      ? new ShardedSubscriber(this.options, cluster, channelsOf, (channel) => topicOfChannel(prefix, channel)?.topic, onMessage, onChange, log)
      : new PlainSubscriber(this.options, channelsOf, onMessage, onChange, log);
    return this.subscriber;
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

  private async callPublishFunction(connection: CommandConnection, topic: string, payload: Buffer): Promise<number> {
    // ioredis routes FCALL by its key (the topic), whose slot is the slot of the topic's {topic} keys and channel.
    const call = () => connection.client.call('FCALL', this.fn, '1', topic, payload) as Promise<number | null>;
    let seq: number | null;
    try {
      seq = await call();
    } catch (err) {
      // Redis restarted without persistence, a new cluster master, or FUNCTION FLUSH: load the library again, once.
      if (!/function not found/i.test((err as Error).message)) throw err;
      await connection.reloadFunction();
      seq = await call();
    }
    if (typeof seq !== 'number') throw new Error(`${this.fn} returned no seq for a topic with history (another herald loaded other history rules?)`);
    return seq;
  }

  private report(): void {
    const state = this.state;
    if (state === this.lastState) return;
    this.lastState = state;
    this.options.handlers.onState?.(state);
  }
}

function withDeadline<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms (timed out)`)), ms);
  });
  work.catch(() => {}); // settled after the deadline: the caller has had its answer
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}
