import type { Command, MessageFrame, ReplyFrame, ServerFrame } from '../protocol/wire.js';
import { Backoff } from './backoff.js';
import { closePlan } from './close-plan.js';
import { SeqCursor } from './cursor.js';
import { Emitter } from './emitter.js';
import { base64ToBytes } from './encoding.js';
import { Subscription, type SubscribeOptions } from './subscription.js';
import { TokenKeeper } from './token-keeper.js';
import type { ClientEvents, ClientState, HeraldClientOptions, HeraldMessage, WebSocketConstructor, WebSocketLike } from './types.js';

type Timer = unknown;
const timers = globalThis as unknown as { setTimeout(fn: () => void, ms: number): Timer; clearTimeout(timer: Timer): void };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
/** Subscriptions of any payload type: the client only moves bytes; each one decodes for its listeners. */
type Held = Subscription<any>;

const BROADCAST = 'broadcast';
const OPEN = 1;
/** Retry delay for a subscribe the server could not take now (unavailable, internal error). */
const RETRY_MS = 1000;

/**
 * herald's official client, for browsers and Node: one envelope connection,
 * subscriptions over the command protocol, reconnects with exponential
 * backoff and full jitter, resumes every topic with history from its last seq
 * (each seq reaches the application once, in order), surfaces gaps, honours
 * close codes, and refreshes its token before it expires.
 */
export class HeraldClient {
  private readonly events = new Emitter<ClientEvents>();
  private readonly backoff: Backoff;
  private readonly WebSocket: WebSocketConstructor;
  private readonly subscriptions = new Map<string, Held>();
  /** Positions of the topics every connection holds without a command: broadcast and user:<sub>. */
  private readonly implicit = new Map<string, SeqCursor>();
  private readonly replies = new Map<number, (reply?: ReplyFrame) => void>();
  private ws?: WebSocketLike;
  /** Bumped for every socket: callbacks of an older one are ignored. */
  private generation = 0;
  private current: ClientState = 'idle';
  private stopped = false;
  private nextId = 1;
  private readonly token: TokenKeeper;
  private reconnectTimer?: Timer;
  private stableTimer?: Timer;

  constructor(private readonly options: HeraldClientOptions) {
    const platform = (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    const ctor = options.WebSocket ?? platform;
    if (!ctor) throw new Error('herald/client: no WebSocket on this platform; pass the WebSocket option (in Node 20: WebSocket: require("ws"))');
    if (!/^wss?:\/\/[^\s]+$/.test(options.url)) throw new Error(`herald/client: url must be a ws:// or wss:// URL, not ${JSON.stringify(options.url)}`);
    this.WebSocket = ctor;
    this.backoff = new Backoff({ minDelayMs: options.minDelayMs ?? 500, maxDelayMs: options.maxDelayMs ?? 30_000 });
    this.token = new TokenKeeper(options.token, options.refreshBeforeMs ?? 60_000, (error) => this.events.emit('error', error));
  }

  get state(): ClientState {
    return this.current;
  }

  on<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): () => void {
    return this.events.on(event, listener);
  }

  off<K extends keyof ClientEvents>(event: K, listener: ClientEvents[K]): void {
    this.events.off(event, listener);
  }

  /** Opens the connection (and keeps it open until close() or a close code that says to stop). */
  connect(): void {
    if (this.current !== 'idle' && this.current !== 'closed') return;
    this.stopped = false;
    void this.open();
  }

  /** Closes for good: no reconnect. Subscriptions are kept, with their positions, for a later connect(). */
  close(): void {
    if (this.stopped) return;
    this.stopped = true;
    const ws = this.ws;
    this.teardown();
    ws?.close(1000, 'closed by the application');
    this.setState('closed');
    this.events.emit('closed', { code: 1000, reason: 'closed by the application' });
  }

  /** Subscribes to a topic (at once if connected, else on connect), or returns the existing subscription. */
  subscribe<T = string | Uint8Array>(topic: string, options: SubscribeOptions<T> = {}): Subscription<T> {
    const existing = this.subscriptions.get(topic);
    if (existing) return existing as Subscription<T>;
    // broadcast and user:<sub> may have been delivered already: go on from there.
    const since = options.since ?? this.implicit.get(topic)?.last;
    const subscription = new Subscription<T>(topic, since === undefined ? options : { ...options, since }, (s) => this.leave(s));
    this.subscriptions.set(topic, subscription);
    if (this.current === 'connected') void this.sendSubscribe(subscription);
    return subscription;
  }

  /** The subscription of a topic, including ones the server made (admin POST /subscribe). */
  subscription(topic: string): Subscription | undefined {
    return this.subscriptions.get(topic);
  }

  /** The last seq delivered of a topic with history (subscribed or implicit). */
  lastSeq(topic: string): number | undefined {
    return (this.subscriptions.get(topic)?.cursor ?? this.implicit.get(topic))?.last;
  }

  private async open(): Promise<void> {
    const generation = ++this.generation;
    this.setState('connecting');
    let token: string | undefined;
    try {
      token = await this.token.fetch();
    } catch (err) {
      if (generation !== this.generation) return;
      this.events.emit('error', { code: 'token_unavailable', message: `token source failed: ${String(err)}` });
      return this.dropped(generation, 1006, 'no token');
    }
    if (generation !== this.generation || this.stopped) return;
    const inProtocol = token !== undefined && (this.options.tokenIn ?? 'protocol') === 'protocol';
    let ws: WebSocketLike;
    try {
      ws = new this.WebSocket(this.url(token), inProtocol ? ['herald', token!] : undefined);
    } catch (err) {
      this.events.emit('error', { code: 'connect_failed', message: String(err) });
      return this.dropped(generation, 1006, 'cannot open a WebSocket');
    }
    this.ws = ws;
    ws.onopen = () => generation === this.generation && this.opened(generation);
    ws.onmessage = (event) => generation === this.generation && this.frame(event.data);
    ws.onclose = (event) => generation === this.generation && this.dropped(generation, event.code, event.reason);
    ws.onerror = () => {}; // a close event follows
  }

  /** The endpoint with format=envelope, the token when it goes in the query, and the positions of implicit topics. */
  private url(token: string | undefined): string {
    const own = this.ownTopic();
    const params = ['format=envelope'];
    if (token !== undefined && this.options.tokenIn === 'query') params.push(`token=${encodeURIComponent(token)}`);
    const since: string[] = [];
    for (const topic of own === undefined ? [BROADCAST] : [BROADCAST, own]) {
      const last = this.lastSeq(topic);
      if (last === undefined) continue;
      since.push(`${topic}:${last}`);
      if (topic === own) params.push(`topics=${encodeURIComponent(own)}`);
    }
    if (since.length > 0) params.push(`since=${encodeURIComponent(since.join(','))}`);
    return `${this.options.url}${this.options.url.includes('?') ? '&' : '?'}${params.join('&')}`;
  }

  private opened(generation: number): void {
    this.setState('connected');
    this.stableTimer = timers.setTimeout(() => this.backoff.reset(), this.options.stableAfterMs ?? 5000);
    for (const subscription of this.subscriptions.values()) if (generation === this.generation) void this.sendSubscribe(subscription);
    this.token.schedule((token) => (generation === this.generation ? this.command({ op: 'refresh', token }) : Promise.resolve(undefined)));
  }

  private frame(data: unknown): void {
    if (typeof data !== 'string') return; // envelope connections get text frames only
    let f: ServerFrame;
    try {
      f = JSON.parse(data) as ServerFrame;
    } catch {
      return;
    }
    const subscription = 'topic' in f ? this.subscriptions.get(f.topic) : undefined;
    switch (f.type) {
      case 'message':
        return this.message(f, subscription);
      case 'gap': {
        const info = { topic: f.topic, since: f.since, first: f.first, current: f.current, reason: f.reason };
        this.cursorOf(f.topic)?.applyGap(f);
        subscription?.emit('gap', info);
        return this.events.emit('gap', info);
      }
      case 'recovered': {
        const cursor = this.cursorOf(f.topic);
        if (cursor) cursor.resyncing = false;
        return subscription?.emit('recovered', { seq: f.seq, count: f.count });
      }
      case 'reply': {
        const resolve = this.replies.get(f.id as number);
        this.replies.delete(f.id as number);
        return resolve?.(f);
      }
      case 'subscribed':
        if (!subscription) {
          const created = new Subscription(f.topic, {}, (s) => this.leave(s), true);
          this.subscriptions.set(f.topic, created);
          created.confirmed();
        }
        return this.events.emit('subscribed', f.topic);
      case 'unsubscribed':
        this.subscriptions.delete(f.topic);
        return subscription?.endedByServer();
      case 'presence':
        return subscription?.emit('presence', { connections: f.connections, users: f.users });
    }
  }

  private message(f: MessageFrame, subscription: Held | undefined): void {
    const cursor = subscription?.cursor ?? this.cursorOf(f.topic);
    if (!cursor) return; // a topic this client left; still in flight
    const verdict = cursor.accept(f.seq);
    if (verdict === 'duplicate') return;
    if (verdict === 'hole') return this.resync(cursor, subscription);
    const data = f.data !== undefined ? f.data : base64ToBytes(f.b64 ?? '');
    const message: HeraldMessage = f.seq === undefined ? { topic: f.topic, data } : { topic: f.topic, seq: f.seq, data };
    this.events.emit('message', message);
    subscription?.deliver(message);
  }

  /**
   * The live stream skipped seqs (the worker's broker link dropped): read the
   * topic again from the last seq delivered, dropping what comes meanwhile.
   * Implicit topics cannot be left, so they resume on a new connection.
   */
  private resync(cursor: SeqCursor, subscription: Held | undefined): void {
    if (cursor.resyncing) return;
    cursor.resyncing = true;
    if (!subscription || this.isImplicit(subscription.topic)) return this.reconnectNow();
    void this.command({ op: 'unsubscribe', topic: subscription.topic });
    void this.sendSubscribe(subscription);
  }

  /** The position of an implicit topic (broadcast, user:<sub>); undefined for a topic this client does not hold. */
  private cursorOf(topic: string): SeqCursor | undefined {
    const subscribed = this.subscriptions.get(topic);
    if (subscribed) return subscribed.cursor;
    if (!this.isImplicit(topic)) return undefined;
    let cursor = this.implicit.get(topic);
    if (!cursor) this.implicit.set(topic, (cursor = new SeqCursor()));
    return cursor;
  }

  /** Topics every connection holds from the start, which commands cannot leave or recover. */
  private isImplicit(topic: string): boolean {
    return topic === BROADCAST || topic === this.ownTopic();
  }

  private ownTopic(): string | undefined {
    const sub = this.token.claims.sub;
    return sub === undefined ? undefined : `user:${sub}`;
  }

  private async sendSubscribe(subscription: Held): Promise<void> {
    const generation = this.generation;
    const current = () => generation === this.generation && this.subscriptions.get(subscription.topic) === subscription;
    let token: string | undefined;
    try {
      token = await subscription.token();
    } catch (err) {
      this.events.emit('error', { code: 'token_unavailable', message: `topic token source failed: ${String(err)}`, topic: subscription.topic });
      return void timers.setTimeout(() => current() && void this.sendSubscribe(subscription), RETRY_MS);
    }
    if (!current()) return;
    // Held by every connection (and resumed through ?since=): nothing to ask.
    if (this.isImplicit(subscription.topic)) return subscription.confirmed();
    const since = subscription.cursor.last;
    const reply = await this.command({ op: 'subscribe', topic: subscription.topic, ...(since === undefined ? {} : { since }), ...(token === undefined ? {} : { token }) });
    if (!reply || !current()) return;
    if (reply.ok || reply.error.code === 'already_subscribed') return subscription.confirmed();
    const { code, retryAfterMs } = reply.error;
    if (code === 'rate_limited' || code === 'unavailable' || code === 'internal_error') {
      return void timers.setTimeout(() => current() && void this.sendSubscribe(subscription), (retryAfterMs ?? RETRY_MS) + this.backoff.soon());
    }
    this.subscriptions.delete(subscription.topic);
    subscription.failed(reply.error);
    this.events.emit('error', { code, message: reply.error.message, topic: subscription.topic });
  }

  private leave(subscription: Held): void {
    if (this.subscriptions.get(subscription.topic) !== subscription) return;
    this.subscriptions.delete(subscription.topic);
    // The connection keeps receiving an implicit topic: its position carries on.
    if (this.isImplicit(subscription.topic)) return void this.implicit.set(subscription.topic, subscription.cursor);
    void this.command({ op: 'unsubscribe', topic: subscription.topic });
  }

  /** Sends a command; resolves with its reply, or undefined when the connection drops first. */
  private command(body: WithoutId<Command>): Promise<ReplyFrame | undefined> {
    const ws = this.ws;
    if (!ws || ws.readyState !== OPEN) return Promise.resolve(undefined);
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.replies.set(id, resolve);
      ws.send(JSON.stringify({ id, ...body }));
    });
  }

  /** The socket is gone: stop, or reconnect after the delay its close code calls for. */
  private dropped(generation: number, code: number, reason: string): void {
    if (generation !== this.generation) return;
    this.teardown();
    if (this.stopped) return;
    const plan = closePlan(code, this.token.renewable);
    if (plan === 'stop') {
      this.stopped = true;
      this.events.emit('disconnected', { code, reason, reconnect: false });
      this.setState('closed');
      return this.events.emit('closed', { code, reason });
    }
    const delayMs = plan === 'soon' ? this.backoff.soon() : this.backoff.next();
    this.events.emit('disconnected', { code, reason, reconnect: true, delayMs });
    this.setState('reconnecting');
    this.reconnectTimer = timers.setTimeout(() => void this.open(), delayMs);
  }

  private reconnectNow(): void {
    const ws = this.ws;
    this.teardown();
    ws?.close(1000, 'resuming');
    this.reconnectTimer = timers.setTimeout(() => void this.open(), this.backoff.soon());
  }

  /** Forgets the current socket: its late events are ignored, pending replies end, subscriptions wait to be sent again. */
  private teardown(): void {
    this.generation++;
    this.ws = undefined;
    for (const timer of [this.reconnectTimer, this.stableTimer]) timers.clearTimeout(timer);
    this.token.cancel();
    for (const resolve of this.replies.values()) resolve(undefined);
    this.replies.clear();
    for (const subscription of this.subscriptions.values()) subscription.reset();
    for (const cursor of this.implicit.values()) cursor.resyncing = false;
  }

  private setState(state: ClientState): void {
    if (state === this.current) return;
    this.current = state;
    this.events.emit('state', state);
  }
}
