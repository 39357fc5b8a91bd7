import type Redis from 'ioredis';
import type { Cluster } from 'ioredis';
import { processBeat, type Beat } from '../../runtime/beat';
import type { BrokerState } from '../broker';
import { keySlot, SLOT_COUNT } from './key-slot';
import { PROBE_INTERVAL_MS, type Link } from './redis-link';

type Trouble = 'down' | 'late';

/**
 * A Redis Cluster client and what herald knows of it. Any topic may live on any
 * slot, so the rule is: the cluster is `connected` when every master in the
 * slot map answered its last PING; `unresponsive` when one is up but did not answer
 * within the command timeout; `disconnected` when one cannot be reached (until
 * a replica takes over its slots and the slot map says so).
 *
 * Every master is pinged each PROBE_INTERVAL_MS, and a master whose connection
 * drops is down at once; either makes the client re-read the slot map, so a
 * failover is followed as soon as the cluster has promoted a replica.
 */
export class ClusterLink implements Link {
  reconnects = 0;
  private readonly trouble = new Map<string, Trouble>();
  private lastState: BrokerState = 'connecting';
  private wasConnected = false;
  private wentDown = false;
  private probing = false;
  private readonly stopProbing: () => void;

  constructor(
    readonly cluster: Cluster,
    private readonly onChange: () => void,
    probeIntervalMs = PROBE_INTERVAL_MS,
    beat: Beat = processBeat,
  ) {
    cluster.on('ready', () => {
      this.trouble.clear();
      this.changed();
      this.probe();
    });
    for (const event of ['close', 'reconnecting', 'end']) cluster.on(event, () => this.changed());
    // A new slot map may name new masters: check them now rather than at the next tick.
    cluster.on('refresh', () => this.probe());
    // The client drops a node's connection when it fails (a crash resets it at once): a master is down from then
    // on, without waiting for the next probe, and the slot map is read again to find its replacement.
    cluster.on('-node', (node: Redis) => {
      const key = `${node.options.host}:${node.options.port}`;
      if (this.cluster.status !== 'ready' || !this.masters().has(key)) return;
      this.trouble.set(key, 'down');
      this.changed();
      this.refreshSlots();
    });
    this.stopProbing = beat.every(probeIntervalMs, () => this.probe());
  }

  get ready(): boolean {
    return this.cluster.status === 'ready';
  }

  get answering(): boolean {
    return this.ready && this.trouble.size === 0;
  }

  get state(): BrokerState {
    switch (this.cluster.status) {
      case 'ready': {
        const troubles = [...this.trouble.values()];
        if (troubles.includes('down')) return 'disconnected';
        return troubles.includes('late') ? 'unresponsive' : 'connected';
      }
      case 'end':
        return 'closed';
      case 'wait':
      case 'connecting':
      case 'connect':
        return this.wasConnected ? 'disconnected' : 'connecting';
      default:
        return 'disconnected';
    }
  }

  /** The master ("host:port") that serves the slot in the current slot map. */
  masterOf(slot: number): string | undefined {
    return this.cluster.slots[slot]?.[0];
  }

  /** Why a command on this key cannot go out now (refused at once rather than retried into a dead master); undefined when it can. */
  unavailable(key: string): string | undefined {
    if (!this.ready) return `redis cluster is ${this.cluster.status}`;
    const slot = keySlot(key);
    const master = this.masterOf(slot);
    if (master === undefined) return `no master serves slot ${slot}`;
    const trouble = this.trouble.get(master);
    if (trouble === 'down') return `the master of slot ${slot} (${master}) is unreachable`;
    if (trouble === 'late') return `the master of slot ${slot} (${master}) is unresponsive: no answer in time`;
    return undefined;
  }

  /** Asks any reachable node for the slot map again (a 'refresh' event follows when it has one). */
  refreshSlots(): void {
    this.cluster.refreshSlotsCache();
  }

  close(): void {
    this.stopProbing();
    this.cluster.disconnect();
  }

  private masters(): Set<string> {
    const keys = new Set<string>();
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const master = this.masterOf(slot);
      if (master !== undefined) keys.add(master);
    }
    return keys;
  }

  private probe(): void {
    if (this.probing || !this.ready) return;
    this.probing = true;
    const pool = new Map<string, Redis>();
    for (const node of this.cluster.nodes('master')) pool.set(`${node.options.host}:${node.options.port}`, node);
    const checks = [...this.masters()].map(async (key): Promise<[string, Trouble | undefined]> => {
      const node = pool.get(key);
      // The client drops a master's connection for good when it fails; until the slot map changes, that master is down.
      if (!node) return [key, 'down'];
      try {
        await node.ping();
        return [key, undefined];
      } catch (err) {
        // The node connections carry the command timeout.
        return [key, /timed out/i.test((err as Error).message) ? 'late' : 'down'];
      }
    });
    void Promise.all(checks).then((results) => {
      this.probing = false;
      this.trouble.clear();
      for (const [key, trouble] of results) if (trouble) this.trouble.set(key, trouble);
      if ([...this.trouble.values()].includes('down')) this.refreshSlots();
      this.changed();
    });
  }

  private changed(): void {
    const state = this.state;
    if (state === this.lastState) return;
    if (state === 'disconnected') this.wentDown = true;
    if (state === 'connected') {
      if (this.wentDown) this.reconnects++;
      this.wentDown = false;
      this.wasConnected = true;
    }
    this.lastState = state;
    this.onChange();
  }
}
