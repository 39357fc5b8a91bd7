import type { HistoryReader } from '../history/history-reader';
import type { HistoryRules } from '../history/history-rules';
import { encodeGap, encodeRecovered, envelopeTopic, holdTopic, type GapNotice } from '../history/envelope';
import type { Logger } from '../logger';
import { CloseCode } from '../protocol/close-codes';
import { BROADCAST_TOPIC, isValidTopic } from '../protocol/topics';

/** What recovery needs of a uWS WebSocket. */
export interface RecoverySocket {
  send(message: string, isBinary?: boolean): number;
  subscribe(topic: string): boolean;
  unsubscribe(topic: string): boolean;
  end(code?: number, reason?: string): void;
}

/** Per-connection state of an envelope-mode connection (lives in the uWS user data). */
export interface EnvelopeSession {
  /** Topic -> last seq the client saw, from ?since=. */
  readonly since: ReadonlyMap<string, number>;
  closed: boolean;
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
  timer?: NodeJS.Timeout;
}

export type RecoveryQuery = { ok: true; session?: EnvelopeSession } | { ok: false; reason: string };

/** Live messages buffered per recovering socket and topic before it is closed (4002) to reconnect later. */
const MAX_BUFFERED = 10_000;
const uWS_DROPPED = 2;
/** Longest wait at the seam for the live stream to catch up with what history returned (see finishWhenCaughtUp). */
const CATCH_UP_MS = 2000;

/**
 * Parses ?format= and ?since= at upgrade (synchronously, as uWS requires).
 * since=broadcast:1234,user:42:17 - the seq follows the LAST ':' since topic
 * names may contain ':'. Every since topic must be one the connection listens to.
 */
export function parseRecoveryQuery(format: string, since: string, topics: readonly string[]): RecoveryQuery {
  if (format !== '' && format !== 'raw' && format !== 'envelope') return { ok: false, reason: 'format must be raw or envelope' };
  if (format !== 'envelope') {
    return since === '' ? { ok: true } : { ok: false, reason: 'since needs format=envelope (positions are seqs, which only envelopes carry)' };
  }
  const positions = new Map<string, number>();
  for (const part of since === '' ? [] : since.split(',')) {
    const cut = part.lastIndexOf(':');
    const topic = part.slice(0, cut);
    const seq = part.slice(cut + 1);
    if (cut < 1 || !isValidTopic(topic) || !/^\d{1,15}$/.test(seq)) return { ok: false, reason: `since entry "${part.slice(0, 60)}" must be topic:seq` };
    if (topic !== BROADCAST_TOPIC && !topics.includes(topic)) return { ok: false, reason: `since names topic "${topic}" which is not in topics` };
    positions.set(topic, Number(seq));
  }
  return { ok: true, session: { since: positions, closed: false } };
}

export interface RecoveryDeps {
  rules: HistoryRules;
  /** Absent when history is unavailable (local broker): every since gets a no-history gap. */
  reader?: HistoryReader;
  whenSubscribed?: (topic: string) => Promise<void>;
  log: Logger;
}

/**
 * Envelope connections and their recovery after reconnect. A recovering socket
 * holds the topic (so this worker stays subscribed in Redis), waits for Redis to
 * confirm that subscription, reads history, and meanwhile buffers the live
 * messages the fan-out hands it. It then sends, in one synchronous step, the
 * history after its position and the buffered live messages after the last
 * history seq, and subscribes to the live envelope topic: no gap (history was
 * read after the subscription took effect) and no duplicate (seq filter).
 */
export class RecoveryManager {
  private readonly pending = new Map<string, Set<Pending>>();
  /** Highest seq this worker has received live per watched topic. */
  private readonly lastLive = new Map<string, number>();
  recoveries = 0;
  gaps = 0;

  constructor(private readonly deps: RecoveryDeps) {}

  /** The fan-out asks this per message; true only while some socket recovers the topic or a read of it is cached. */
  wants(topic: string): boolean {
    return this.pending.has(topic) || (this.deps.reader?.watches(topic) ?? false);
  }

  live(topic: string, seq: number | undefined, frame: string): void {
    if (seq !== undefined) {
      this.deps.reader?.noteLive(topic, seq, frame);
      if (seq > (this.lastLive.get(topic) ?? 0)) this.lastLive.set(topic, seq);
    }
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
    for (const [topic, since] of session.since) {
      this.recover(ws, session, topic, since).catch((err: Error) => {
        this.deps.log.warn({ topic, err: err.message }, 'recovery failed');
        if (!session.closed) ws.end(CloseCode.RECOVERY_FAILED, 'recovery failed, reconnect');
      });
    }
  }

  close(session: EnvelopeSession): void {
    session.closed = true;
  }

  private async recover(ws: RecoverySocket, session: EnvelopeSession, topic: string, since: number): Promise<void> {
    const { reader, whenSubscribed } = this.deps;
    this.recoveries++;
    if (!reader || !whenSubscribed || !this.deps.rules.ruleFor(topic)) {
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
      await whenSubscribed(topic);
      let last = since;
      for (let first = true; ; first = false) {
        if (session.closed) return void this.detach(p);
        const view = await reader.read(topic, last + 1);
        if (session.closed) return void this.detach(p);
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
   * messages continue the history without a duplicate.
   */
  private finishWhenCaughtUp(p: Pending): void {
    if ((this.lastLive.get(p.topic) ?? 0) >= p.last! || p.buffer.some((m) => m.seq !== undefined && m.seq >= p.last!)) return this.finish(p);
    p.timer = setTimeout(() => {
      this.deps.log.warn({ topic: p.topic, last: p.last }, 'live stream did not catch up with history; going live');
      this.finish(p);
    }, CATCH_UP_MS);
    p.timer.unref();
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

  /** Removes a pending recovery; false if it was already gone (or its socket closed). */
  private detach(p: Pending): boolean {
    const set = this.pending.get(p.topic);
    if (!set?.delete(p)) return false;
    clearTimeout(p.timer);
    if (set.size === 0) {
      this.pending.delete(p.topic);
      if (!this.deps.reader?.watches(p.topic)) this.lastLive.delete(p.topic);
    }
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
