import type { Broker } from '../broker/broker';
import type { Logger } from '../logger';
import { CloseCode } from '../protocol/close-codes';
import { encodeGap, encodeRecovered, type GapNotice } from '../protocol/envelope';
import type { EnvelopeSession } from '../protocol/recovery-query';
import { BROADCAST_TOPIC } from '../protocol/topics';
import type { HistoryReader } from './history-reader';
import { envelopeTopic, holdTopic } from './topic-names';

/** What recovery needs of a uWS WebSocket. */
export interface RecoverySocket {
  send(message: string, isBinary?: boolean): number;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  end(code?: number, reason?: string): void;
}

interface Pending {
  ws: RecoverySocket;
  session: EnvelopeSession;
  topic: string;
  /** Live messages that arrived while history was being read, in arrival order. */
  buffer: { seq: number | undefined; frame: string }[];
  overflow: boolean;
  /** Set once history is sent: the last seq the client has. */
  last?: number;
  count: number;
}

/** One fence asked of the broker for a topic, shared by the recoveries whose history ends at or below `upTo`. */
interface Fence {
  upTo: number;
  waiting: Pending[];
  timer?: NodeJS.Timeout;
  settled: boolean;
}

/** Live messages buffered per recovering socket and topic before it is closed (4002) to reconnect later. */
const MAX_BUFFERED = 10_000;
const uWS_DROPPED = 2;
/** Longest wait at the seam for the broker's fence (see finishWhenCaughtUp); a broker that answers nothing must not hold sockets back. */
const FENCE_TIMEOUT_MS = 5000;
const REWIND_LOG_MS = 10_000;

export interface RecoveryDeps {
  /** Which topics have history, subscription confirmation (history is read only after it), and the fence at the seam. */
  broker: Pick<Broker, 'hasHistory' | 'subscribe' | 'fence'>;
  reader: HistoryReader;
  log: Logger;
  /** FENCE_TIMEOUT_MS unless a test shortens it. */
  fenceTimeoutMs?: number;
}

/**
 * Envelope connections and their recovery after reconnect. A recovering socket
 * holds the topic (so this worker stays subscribed in the broker), waits for the
 * broker to confirm that subscription, reads history, and meanwhile buffers the live
 * messages the fan-out hands it. It then sends, in one synchronous step, the
 * history after its position and the buffered live messages after the last
 * history seq, and subscribes to the live envelope topic: no gap (history was
 * read after the subscription took effect) and no duplicate (seq filter).
 */
export class RecoveryManager {
  private readonly pending = new Map<string, Set<Pending>>();
  /**
   * Highest seq this worker has received live, per topic it holds. The broker delivers a
   * topic in order, so once seq L arrived, every later-published seq below L that will ever
   * arrive has arrived: a recovery whose history ends at or below L can go live at once.
   */
  private readonly lastLive = new Map<string, number>();
  /** The latest fence asked per topic, until it settles: a reconnect storm sends one, not one per socket. */
  private readonly fences = new Map<string, Fence>();
  private rewindLog = { at: 0, more: 0 };
  recoveries = 0;
  gaps = 0;

  constructor(private readonly deps: RecoveryDeps) {}

  /** The fan-out asks this per message; true only while some socket recovers the topic or a read of it is cached. */
  wants(topic: string): boolean {
    return this.pending.has(topic) || this.deps.reader.watches(topic);
  }

  /**
   * Every sequenced message this worker receives, whether or not a recovery wants it. A seq at or
   * below the last one received live means the topic's counter went back: a Redis failover lost
   * writes the old master had acknowledged (replication is asynchronous), or Redis came back empty.
   * The seqs clients hold may now name other messages, so this is never passed over in silence:
   * the topic's recoveries end with 4003 (their next read sees the broker as it is now and says
   * "ahead"), cached reads of it are dropped, and the notice returned goes to its live envelope clients.
   */
  sequenced(topic: string, seq: number): GapNotice | undefined {
    const last = this.lastLive.get(topic);
    this.lastLive.set(topic, seq);
    if (last === undefined || seq > last) return undefined;
    this.noteRewind(topic, last, seq);
    this.deps.reader.invalidate(topic);
    this.fences.delete(topic); // its seqs name the old timeline: a later read must not share it
    for (const p of [...(this.pending.get(topic) ?? [])]) {
      if (!this.detach(p)) continue;
      p.session.closed = true;
      p.ws.end(CloseCode.RECOVERY_FAILED, 'topic seqs went back, reconnect');
    }
    return { topic, since: last, first: null, current: seq, reason: 'ahead' };
  }

  /** One log line per REWIND_LOG_MS at most: a failover can rewind every topic that had traffic. */
  private noteRewind(topic: string, last: number, seq: number): void {
    const now = Date.now();
    if (now - this.rewindLog.at < REWIND_LOG_MS) return void this.rewindLog.more++;
    this.deps.log.warn({ topic, last, seq, moreTopicsSinceLastLine: this.rewindLog.more }, "a topic's seq went back on the live stream (Redis lost acknowledged writes): its envelope clients got a gap");
    this.rewindLog = { at: now, more: 0 };
  }

  /** The worker stopped receiving the topic: what it saw of it says nothing about the next subscription. */
  forget(topic: string): void {
    this.lastLive.delete(topic);
  }

  live(topic: string, seq: number | undefined, frame: string): void {
    if (seq !== undefined) this.deps.reader.noteLive(topic, seq, frame);
    for (const p of this.pending.get(topic) ?? []) {
      if (p.overflow) continue;
      if (p.buffer.length >= MAX_BUFFERED) p.overflow = true;
      else p.buffer.push({ seq, frame });
      if (seq !== undefined && p.last !== undefined && seq >= p.last) this.finish(p);
    }
  }

  open(ws: RecoverySocket, topics: readonly string[], session: EnvelopeSession): void {
    for (const topic of [BROADCAST_TOPIC, ...topics]) {
      if (!session.since.has(topic)) ws.subscribe(envelopeTopic(topic));
    }
    for (const [topic, since] of session.since) this.recoverTopic(ws, session, topic, since);
  }

  /** Replays the topic after `since`, then takes the socket live on it (at open, or by a subscribe command). */
  recoverTopic(ws: RecoverySocket, session: EnvelopeSession, topic: string, since: number): void {
    this.recover(ws, session, topic, since).catch((err: Error) => {
      this.deps.log.warn({ topic, err: err.message }, 'recovery failed');
      if (!session.closed) ws.end(CloseCode.RECOVERY_FAILED, 'recovery failed, reconnect');
    });
  }

  isRecovering(session: EnvelopeSession, topic: string): boolean {
    return this.find(session, topic) !== undefined;
  }

  /** The socket left the topic (unsubscribe): its recovery of it stops at the next step, sending nothing more. */
  cancel(session: EnvelopeSession, topic: string): void {
    const p = this.find(session, topic);
    if (p) this.detach(p);
  }

  private find(session: EnvelopeSession, topic: string): Pending | undefined {
    for (const p of this.pending.get(topic) ?? []) if (p.session === session) return p;
    return undefined;
  }

  /** The socket of `session` closed: its recoveries stop at their next step. */
  closed(session: EnvelopeSession): void {
    session.closed = true;
  }

  /** Worker stopping: drop every pending recovery and fence timer (a fence answered later finds nothing to do). */
  stop(): void {
    for (const set of [...this.pending.values()]) for (const p of [...set]) this.detach(p);
    for (const fence of this.fences.values()) {
      fence.settled = true;
      clearTimeout(fence.timer);
    }
    this.fences.clear();
  }

  private async recover(ws: RecoverySocket, session: EnvelopeSession, topic: string, since: number): Promise<void> {
    const { reader, broker } = this.deps;
    this.recoveries++;
    if (!broker.hasHistory(topic)) {
      this.gaps++;
      ws.send(encodeGap({ topic, since, first: null, current: 0, reason: 'no-history' }));
      ws.subscribe(envelopeTopic(topic));
      return;
    }
    const p: Pending = { ws, session, topic, buffer: [], overflow: false, count: 0 };
    ws.subscribe(holdTopic(topic));
    let set = this.pending.get(topic);
    if (!set) this.pending.set(topic, (set = new Set()));
    set.add(p);
    try {
      await broker.subscribe(topic);
      let last = since;
      for (let first = true; ; first = false) {
        if (this.gone(p)) return void this.detach(p);
        const view = await reader.read(topic, last + 1);
        if (this.gone(p)) return void this.detach(p);
        if (first) {
          const gap = findGap(topic, since, view.items[0]?.seq, view.current);
          if (gap) {
            this.gaps++;
            ws.send(encodeGap(gap));
          }
        }
        for (const item of view.items) {
          if (item.seq <= last) continue;
          if (!this.send(p, item.frame)) return void this.detach(p);
          last = item.seq;
          p.count++;
        }
        if (!view.more) break;
      }
      p.last = last;
      this.finishWhenCaughtUp(p);
    } catch (err) {
      this.detach(p);
      throw err;
    }
  }

  /**
   * History may hold messages this worker has not yet received live: the Lua
   * script's PUBLISH and the XRANGE reply travel on different connections. So
   * the switch to live waits until the live stream reaches the last history seq
   * (the buffer then holds everything after it); only then do buffered and live
   * messages continue the history without a duplicate. A seq published just
   * before this worker subscribed never arrives live, though: the broker's fence
   * tells when everything up to it that will arrive has arrived.
   */
  private finishWhenCaughtUp(p: Pending): void {
    if ((this.lastLive.get(p.topic) ?? 0) >= p.last! || p.buffer.some((m) => m.seq !== undefined && m.seq >= p.last!)) return this.finish(p);
    const { topic } = p;
    const shared = this.fences.get(topic);
    // A fence asked after a read that reached p.last or beyond covers p too: later publishes get higher seqs.
    if (shared && shared.upTo >= p.last!) return void shared.waiting.push(p);
    const fence: Fence = { upTo: p.last!, waiting: [p], settled: false };
    this.fences.set(topic, fence);
    const settle = (problem?: string) => {
      if (fence.settled) return;
      fence.settled = true;
      clearTimeout(fence.timer);
      if (this.fences.get(topic) === fence) this.fences.delete(topic);
      if (problem) this.deps.log.warn({ topic, last: fence.upTo, recoveries: fence.waiting.length, err: problem }, 'no fence from the broker; going live without knowing the live stream caught up with history');
      for (const waiting of fence.waiting) this.finish(waiting);
    };
    const timeoutMs = this.deps.fenceTimeoutMs ?? FENCE_TIMEOUT_MS;
    fence.timer = setTimeout(() => settle(`no answer within ${timeoutMs} ms`), timeoutMs);
    fence.timer.unref();
    this.deps.broker.fence(topic).then(
      () => settle(),
      (err: Error) => settle(err.message),
    );
  }

  /** The seam: synchronous, so no live message can slip in between. Idempotent. */
  private finish(p: Pending): void {
    if (!this.detach(p)) return;
    const { ws, topic } = p;
    if (p.overflow) return void ws.end(CloseCode.SLOW_CONSUMER, 'too far behind while recovering, reconnect');
    let last = p.last!;
    for (const m of p.buffer) {
      if (m.seq !== undefined && m.seq <= last) continue;
      if (!this.send(p, m.frame)) return;
      if (m.seq !== undefined) last = m.seq;
      p.count++;
    }
    ws.subscribe(envelopeTopic(topic));
    ws.unsubscribe(holdTopic(topic));
    ws.send(encodeRecovered(topic, last, p.count));
  }

  /** The socket closed, or the recovery was cancelled or finished. */
  private gone(p: Pending): boolean {
    return p.session.closed || !this.pending.get(p.topic)?.has(p);
  }

  /** Removes a pending recovery; false if it was already gone (or its socket closed). */
  private detach(p: Pending): boolean {
    const set = this.pending.get(p.topic);
    if (!set?.delete(p)) return false;
    if (set.size === 0) this.pending.delete(p.topic);
    return !p.session.closed;
  }

  /** A frame uWS drops for backpressure would be a silent hole: close instead, so the client resumes from its last seq. */
  private send(p: Pending, frame: string): boolean {
    if (p.ws.send(frame, false) !== uWS_DROPPED) return true;
    p.ws.end(CloseCode.SLOW_CONSUMER, 'send buffer full while recovering, reconnect');
    return false;
  }
}

/** Whether history starting at `head` (current = last seq given out) covers everything after `since`. */
export function findGap(topic: string, since: number, head: number | undefined, current: number): GapNotice | undefined {
  if (since > current) return { topic, since, first: head ?? null, current, reason: 'ahead' };
  if (head !== undefined ? head > since + 1 : current > since) return { topic, since, first: head ?? null, current, reason: 'expired' };
  return undefined;
}
