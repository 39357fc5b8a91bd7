/**
 * An in-memory stand-in for the uWS app's topic layer, for hub tests: sockets
 * subscribe to topics, a topic publish reaches every socket subscribed at that
 * moment, and the `subscription` callback fires as uWS fires it (per socket,
 * with the topic's new and old counts). It opens no socket.
 */
import type { ClientData, ClientSocket } from '../../src/hub/client-socket';
import type { TopicSink } from '../../src/hub/fanout';

export class MemorySocket implements ClientSocket {
  /** Text frames received, in order. */
  readonly frames: string[] = [];
  readonly topics = new Set<string>();
  closedWith?: number;
  /** When set, send() reports the frame dropped for backpressure (uWS returns 2). */
  full = false;

  constructor(private readonly transport: MemoryTransport, readonly data: ClientData = {}) {}

  getUserData(): ClientData {
    return this.data;
  }

  isSubscribed(topic: string): boolean {
    return this.topics.has(topic);
  }

  getTopics(): string[] {
    return [...this.topics];
  }

  send(message: string): number {
    if (this.closedWith !== undefined) return 0;
    if (this.full) return 2;
    this.frames.push(message);
    return 1;
  }

  subscribe(topic: string): boolean {
    if (this.topics.has(topic)) return false;
    this.topics.add(topic);
    this.transport.add(this, topic);
    return true;
  }

  unsubscribe(topic: string): boolean {
    if (!this.topics.delete(topic)) return false;
    this.transport.remove(this, topic);
    return true;
  }

  end(code?: number): void {
    if (this.closedWith !== undefined) return;
    this.closedWith = code ?? 1000;
    // As uWS: the socket leaves its topics, then the close handler runs.
    for (const topic of [...this.topics]) this.unsubscribe(topic);
    if (this.data.session) this.data.session.closed = true;
    this.transport.onClose?.(this);
  }

  /** The frames parsed as JSON (envelope clients). */
  parsed(): { type: string; topic: string; seq?: number; data?: string; reason?: string; first?: number | null; count?: number; id?: unknown; ok?: boolean; error?: { code: string; message: string } }[] {
    return this.frames.map((f) => JSON.parse(f));
  }

  /** Seqs of the data messages of one topic, in arrival order. */
  seqs(topic: string): (number | undefined)[] {
    return this.parsed().filter((f) => f.type === 'message' && f.topic === topic).map((f) => f.seq);
  }
}

export class MemoryTransport implements TopicSink {
  private readonly topics = new Map<string, Set<MemorySocket>>();
  /** Every publish made, to count them. */
  readonly publishes: { topic: string; message: string }[] = [];
  onSubscription?: (topic: string, newCount: number, oldCount: number, socket: MemorySocket) => void;
  onClose?: (socket: MemorySocket) => void;

  socket(data?: ClientData): MemorySocket {
    return new MemorySocket(this, data);
  }

  publish(topic: string, message: Uint8Array | string): boolean {
    const text = typeof message === 'string' ? message : Buffer.from(message).toString();
    this.publishes.push({ topic, message: text });
    for (const socket of this.topics.get(topic) ?? []) socket.send(text);
    return true;
  }

  numSubscribers(topic: string): number {
    return this.topics.get(topic)?.size ?? 0;
  }

  add(socket: MemorySocket, topic: string): void {
    let set = this.topics.get(topic);
    if (!set) this.topics.set(topic, (set = new Set()));
    set.add(socket);
    this.onSubscription?.(topic, set.size, set.size - 1, socket);
  }

  remove(socket: MemorySocket, topic: string): void {
    const set = this.topics.get(topic);
    if (!set?.delete(socket)) return;
    if (set.size === 0) this.topics.delete(topic);
    this.onSubscription?.(topic, set.size, set.size + 1, socket);
  }
}
