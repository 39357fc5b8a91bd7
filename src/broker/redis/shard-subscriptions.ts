import { keySlot } from './key-slot';
import { chunks, TopicWaiters } from './topic-waiters';

/**
 * The topics a worker wants from a Redis Cluster with sharded pub/sub, and
 * which of them the cluster has confirmed. A channel lives in one slot and is
 * subscribed (SSUBSCRIBE) on the master serving that slot; one SSUBSCRIBE may
 * only name channels of one slot, so the subscribes of one event-loop tick are
 * sent as one command per slot (at most MAX_CHANNELS_PER_COMMAND channels each).
 *
 * A topic counts as confirmed once every one of its channels (the raw one, and
 * the sequenced one when it has history: two slots, maybe two masters) was
 * confirmed by the master that serves it now. Confirmations are voided, and the
 * channels sent again, when:
 * - a master's connection drops (sent again when it is back, or to the replica
 *   that took over once the slot map says so);
 * - the slot map moves a slot to another master (failover, resharding);
 * - a master drops channels by itself (it lost the slot: an unsolicited
 *   SUNSUBSCRIBE) or answers MOVED: the slot map is read again first.
 */

/** A cluster master's subscriber connection, as far as subscriptions go. */
export interface ShardNode {
  readonly ready: boolean;
  ssubscribe(channels: string[]): Promise<unknown>;
  sunsubscribe(channels: string[]): Promise<unknown>;
}

export interface ShardNodes {
  /** The node's connection, opened on first use; its ready/lost/moved events come back through ShardSubscriptions. */
  get(key: string): ShardNode;
  /** Whether a connection to the node is open and ready (without opening one). */
  isReady(key: string): boolean;
  close(key: string): void;
}

export interface ShardTopology {
  /** The master ("host:port") serving the slot, if the slot map names one. */
  masterOf(slot: number): string | undefined;
  /** Read the slot map again; topologyChanged() follows when it has been read. */
  refresh(): void;
}

/** While something waits for the slot map (a lost master, an orphaned slot), it is read again this often. */
export const HEAL_INTERVAL_MS = 500;

interface SlotEntry {
  /** The master the slot's channels are subscribed on; undefined until the slot map names one. */
  node?: string;
  channels: Set<string>;
}

export class ShardSubscriptions {
  private readonly wanted = new Map<string, readonly string[]>();
  private readonly waiters = new TopicWaiters();
  private readonly slots = new Map<number, SlotEntry>();
  private readonly slotsByNode = new Map<string, Set<number>>();
  private readonly confirmed = new Set<string>();
  /** Channel -> the SSUBSCRIBE whose reply will confirm it; replaced or dropped when that reply no longer counts. */
  private readonly inflight = new Map<string, object>();
  /** Slots with channels to send at the next flush. */
  private dirty = new Set<number>();
  /** Slots to send again once the slot map has been read. */
  private stale = new Set<number>();
  private toUnsubscribe = new Map<string, Map<number, string[]>>();
  private flushScheduled = false;
  private healTimer?: NodeJS.Timeout;
  private closed = false;
  /** SSUBSCRIBE/SUNSUBSCRIBE commands sent, for tests and metrics. */
  commandsSent = 0;

  constructor(
    private readonly topology: ShardTopology,
    private readonly nodes: ShardNodes,
    private readonly channelsOf: (topic: string) => string[],
    private readonly topicOf: (channel: string) => string | undefined,
    private readonly onError: (err: Error, topics: string[]) => void,
    private readonly defer: (flush: () => void) => void = setImmediate,
  ) {}

  get size(): number {
    return this.wanted.size;
  }

  /** Masters that hold wanted channels now. */
  nodesInUse(): string[] {
    return [...this.slotsByNode.keys()];
  }

  /** True while some wanted slot has no master in the slot map. */
  get orphaned(): boolean {
    for (const slot of this.stale) if (this.slots.get(slot)?.node === undefined) return true;
    return false;
  }

  isConfirmed(topic: string): boolean {
    const channels = this.wanted.get(topic);
    return channels !== undefined && channels.every((c) => this.confirmed.has(c));
  }

  /** The masters that hold the topic's channels now ([] when the topic is not wanted); undefined while one of its slots has none. */
  nodesOf(topic: string): string[] | undefined {
    const keys = new Set<string>();
    for (const channel of this.wanted.get(topic) ?? []) {
      const key = this.slots.get(keySlot(channel))?.node;
      if (key === undefined) return undefined;
      keys.add(key);
    }
    return [...keys];
  }

  /** Resolves once the cluster confirmed every channel of the topic; rejects when a master refused it. */
  subscribe(topic: string): Promise<void> {
    if (this.isConfirmed(topic)) return Promise.resolve();
    if (!this.wanted.has(topic)) {
      const channels = this.channelsOf(topic);
      this.wanted.set(topic, channels);
      for (const channel of channels) {
        const slot = keySlot(channel);
        let entry = this.slots.get(slot);
        if (!entry) this.slots.set(slot, (entry = { channels: new Set() }));
        entry.channels.add(channel);
        this.dirty.add(slot);
      }
      this.schedule();
    }
    return this.waiters.wait(topic);
  }

  unsubscribe(topic: string): void {
    const channels = this.wanted.get(topic);
    if (!channels) return;
    this.wanted.delete(topic);
    for (const channel of channels) {
      const slot = keySlot(channel);
      const entry = this.slots.get(slot);
      if (!entry) continue;
      entry.channels.delete(channel);
      if (entry.node !== undefined && (this.confirmed.has(channel) || this.inflight.has(channel))) this.queueUnsubscribe(entry.node, slot, [channel]);
      this.confirmed.delete(channel);
      this.inflight.delete(channel);
      if (entry.channels.size === 0) this.dropSlot(slot, entry);
    }
    this.waiters.release(topic);
    this.schedule();
  }

  /** A master's connection dropped: nothing on it is confirmed, and it may have failed over. */
  nodeLost(key: string): void {
    this.forEachChannelOf(key, (channel) => {
      this.confirmed.delete(channel);
      this.inflight.delete(channel);
    });
    this.needTopology();
  }

  /** A master's connection is (back) up and holds nothing: send its channels. */
  nodeReady(key: string): void {
    for (const slot of this.slotsByNode.get(key) ?? []) this.dirty.add(slot);
    this.schedule();
  }

  /** A master dropped channels by itself (its slots moved) or answered MOVED: read the slot map, then send them again. */
  nodeMoved(key: string): void {
    for (const slot of this.slotsByNode.get(key) ?? []) {
      this.unconfirmSlot(slot);
      this.stale.add(slot);
    }
    this.needTopology();
  }

  /** The slot map was read: move slots whose master changed, send what waited for it. */
  topologyChanged(): void {
    for (const [slot, entry] of this.slots) {
      const master = this.topology.masterOf(slot);
      if (master === entry.node) continue;
      if (entry.node !== undefined) {
        const held = [...entry.channels].filter((c) => this.confirmed.has(c) || this.inflight.has(c));
        if (held.length > 0) this.queueUnsubscribe(entry.node, slot, held);
        this.detach(slot, entry.node);
      }
      this.unconfirmSlot(slot);
      entry.node = master;
      if (master !== undefined) this.attach(slot, master);
      this.dirty.add(slot);
    }
    for (const slot of this.stale) this.dirty.add(slot);
    this.stale.clear();
    this.flush();
  }

  /** Stops sending; the caller closes the connections. */
  close(): void {
    this.closed = true;
    clearInterval(this.healTimer);
  }

  private schedule(): void {
    if (this.flushScheduled || this.closed) return;
    this.flushScheduled = true;
    this.defer(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed) return;
    for (const [key, bySlot] of this.toUnsubscribe) {
      // A connection that is down holds nothing; one that is gone from the slot map is closed anyway.
      if (!this.nodes.isReady(key)) continue;
      const node = this.nodes.get(key);
      for (const channels of bySlot.values()) {
        for (const batch of chunks(channels)) {
          this.commandsSent++;
          node.sunsubscribe(batch).catch(() => {}); // MOVED: the master already dropped them with the slot
        }
      }
    }
    this.toUnsubscribe = new Map();
    const dirty = this.dirty;
    this.dirty = new Set();
    for (const slot of dirty) {
      const entry = this.slots.get(slot);
      if (!entry) continue;
      if (entry.node === undefined) {
        entry.node = this.topology.masterOf(slot);
        if (entry.node === undefined) {
          this.stale.add(slot); // orphaned until the slot map names a master
          continue;
        }
        this.attach(slot, entry.node);
      }
      const node = this.nodes.get(entry.node);
      if (!node.ready) continue; // nodeReady() sends the slot's channels
      const send = [...entry.channels].filter((c) => !this.confirmed.has(c) && !this.inflight.has(c));
      for (const batch of chunks(send)) this.send(node, entry.node, batch);
    }
    if (this.stale.size > 0) this.needTopology();
  }

  private send(node: ShardNode, key: string, batch: string[]): void {
    const token = {};
    for (const channel of batch) this.inflight.set(channel, token);
    this.commandsSent++;
    node.ssubscribe(batch).then(
      () => {
        for (const channel of batch) {
          if (this.inflight.get(channel) !== token) continue; // unsubscribed, moved or lost since
          this.inflight.delete(channel);
          this.confirmed.add(channel);
          const topic = this.topicOf(channel);
          if (topic !== undefined && this.isConfirmed(topic)) this.waiters.release(topic);
        }
      },
      (err: Error) => {
        const mine = batch.filter((c) => this.inflight.get(c) === token);
        for (const channel of mine) this.inflight.delete(channel);
        if (mine.length === 0 || this.closed) return;
        if (/^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(err.message)) {
          this.stale.add(keySlot(mine[0]));
          return this.needTopology();
        }
        // A connection lost mid-command is sent again by nodeReady() or the next slot map; only a refusal fails the waiters.
        if (!this.nodes.isReady(key)) return;
        const topics = [...new Set(mine.map(this.topicOf).filter((t): t is string => t !== undefined))];
        this.onError(err, topics);
        for (const topic of topics) this.waiters.release(topic, err);
      },
    );
  }

  /** Reads the slot map now and keeps reading it every HEAL_INTERVAL_MS while a slot waits for it or a master in use is down. */
  private needTopology(): void {
    if (this.closed) return;
    this.topology.refresh();
    if (this.healTimer) return;
    this.healTimer = setInterval(() => {
      const waiting = this.stale.size > 0 || this.nodesInUse().some((key) => !this.nodes.isReady(key));
      if (waiting && !this.closed) return this.topology.refresh();
      clearInterval(this.healTimer);
      this.healTimer = undefined;
    }, HEAL_INTERVAL_MS);
    this.healTimer.unref();
  }

  private queueUnsubscribe(key: string, slot: number, channels: string[]): void {
    let bySlot = this.toUnsubscribe.get(key);
    if (!bySlot) this.toUnsubscribe.set(key, (bySlot = new Map()));
    bySlot.set(slot, [...(bySlot.get(slot) ?? []), ...channels]);
  }

  private unconfirmSlot(slot: number): void {
    for (const channel of this.slots.get(slot)?.channels ?? []) {
      this.confirmed.delete(channel);
      this.inflight.delete(channel);
    }
  }

  private forEachChannelOf(key: string, fn: (channel: string) => void): void {
    for (const slot of this.slotsByNode.get(key) ?? []) for (const channel of this.slots.get(slot)?.channels ?? []) fn(channel);
  }

  private attach(slot: number, key: string): void {
    let set = this.slotsByNode.get(key);
    if (!set) this.slotsByNode.set(key, (set = new Set()));
    set.add(slot);
  }

  /** The slot leaves the master; a master left with no wanted slot is disconnected (that drops its subscriptions too). */
  private detach(slot: number, key: string): void {
    const set = this.slotsByNode.get(key);
    if (!set) return;
    set.delete(slot);
    if (set.size > 0) return;
    this.slotsByNode.delete(key);
    this.nodes.close(key);
    this.toUnsubscribe.delete(key);
  }

  private dropSlot(slot: number, entry: SlotEntry): void {
    this.slots.delete(slot);
    this.dirty.delete(slot);
    this.stale.delete(slot);
    if (entry.node !== undefined) this.detach(slot, entry.node);
  }
}
