// One client process's connections: ramp at a rate with a cap on pending handshakes,
// retry failed connects with backoff, speak WebSocket, feed payloads to the tracker.
// All sockets share the pool's callbacks; a connection is one small Conn object plus
// its libuv handle.
import { errnoName, UV_EOF, type RawHandle, type RawSocketSink } from './raw-tcp';
import { TCP, tlsTransport, type Transport } from './tls-socket';
import { buildUpgradeRequest, parseHandshakeResponse, decodeFrames, encodeFrame, encodeClose, OP_CLOSE, OP_PING, OP_PONG, type FrameSink, type FrameState } from './ws-codec';
import type { MessageProtocol, ProtocolLink } from './message-protocol';
import { ClientStats, nowUs } from './client-stats';
import { PayloadTracker, type PublishedSeq, type SeqState } from './payload-tracker';
import type { Target } from './options';

export interface PoolConfig {
  count: number;
  targets: Target[];
  sourceIps: string[];
  /** this process's connection i has global index offset + i*stride (spreads src/dst pairs) */
  indexOffset: number;
  indexStride: number;
  rate: number;
  maxPending: number;
  connectTimeoutMs: number;
  retries: number;
  backoffMs: number;
  maxBackoffMs: number;
  protocol: MessageProtocol;
  /** PEM of the CA (or self-signed certificate) that wss:// targets must present; the system's CAs when absent. */
  caPem?: string;
  /** each connection's own topic, `{i}` its global index; null: none */
  topicTemplate: string | null;
}

const IDLE = 0, CONNECTING = 1, HANDSHAKE = 2, UPGRADED = 3, OPEN = 4, CLOSING = 5, DONE = 6;

class Conn implements FrameState, SeqState {
  h: RawHandle | null = null;
  st = IDLE;
  attempt = 0;
  startUs = 0;
  openUs = 0;
  firstSeq = -1;
  lastSeq = -1;
  rbuf: Buffer | null = null;
  frag: Buffer[] | null = null;
  fragOp = 0;
  /** target index, picks the upgrade request */
  ti = 0;
  /** global index when the connection has its own topic (topicTemplate), else -1 */
  user = -1;
  constructor(readonly index: number) {}
}

export interface PoolCounters { connected: number; pending: number; started: number; failed: number; dropped: number; errors: number; settled: boolean }

export class ConnectionPool implements RawSocketSink<Conn>, FrameSink<Conn>, ProtocolLink<Conn> {
  readonly stats = new ClientStats();
  private readonly tracker: PayloadTracker;
  private readonly conns: Conn[] = [];
  private readonly requests: Buffer[];
  /** per target: bare TCP for ws://, TLS for wss:// */
  private readonly transports: Transport[];
  private readonly pendingSet = new Set<Conn>();
  private retryQueue: { c: Conn; due: number }[] = [];
  private launched = 0;
  private startMs = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;
  connected = 0;
  /** connections that reached OPEN, ever (a dropped one stays counted) */
  opened = 0;
  errorCount = 0;

  constructor(private readonly cfg: PoolConfig) {
    if (cfg.targets.length === 0) throw new Error('no targets');
    this.tracker = new PayloadTracker(this.stats);
    this.requests = cfg.targets.map((t) => buildUpgradeRequest(t.hostHeader, cfg.protocol.requestPath(t.path)));
    const tls = cfg.targets.some((t) => t.tls) ? tlsTransport(cfg.caPem) : TCP;
    this.transports = cfg.targets.map((t) => (t.tls ? tls : TCP));
  }

  start(): void {
    this.startMs = Date.now();
    this.tick();
  }

  counters(): PoolCounters {
    return { connected: this.connected, pending: this.pendingSet.size, started: this.launched, failed: this.stats.failed, dropped: this.stats.dropped, errors: this.errorCount, settled: this.settled() };
  }

  /** true when every connection is open or has given up */
  settled(): boolean {
    return this.launched >= this.cfg.count && this.pendingSet.size === 0 && this.retryQueue.length === 0;
  }

  private tick = (): void => {
    this.timer = null;
    if (this.stopped) return;
    const now = Date.now();
    const cfg = this.cfg;
    // Timeouts: no timer per socket. The set iterates in insertion order, which is
    // launch order, so the expired attempts are at its head.
    const deadline = nowUs() - cfg.connectTimeoutMs * 1000;
    for (const c of this.pendingSet) {
      if (c.startUs >= deadline) break;
      this.fail(c, 'timeout');
    }
    if (this.retryQueue.length) {
      const due = this.retryQueue.filter((r) => r.due <= now);
      if (due.length) this.retryQueue = this.retryQueue.filter((r) => r.due > now);
      for (const r of due) {
        if (this.pendingSet.size >= cfg.maxPending) { this.retryQueue.push(r); continue; }
        this.launch(r.c);
      }
    }
    const allowed = Math.min(cfg.count, Math.floor((cfg.rate * (now - this.startMs)) / 1000) + 1);
    while (this.launched < allowed && this.pendingSet.size < cfg.maxPending) {
      const c = new Conn(this.launched++);
      this.conns.push(c);
      this.launch(c);
    }
    // Once settled the loop stops; fail() restarts it when a retry is queued.
    if (!this.settled()) this.timer = setTimeout(this.tick, 10);
  };

  private launch(c: Conn): void {
    const cfg = this.cfg;
    const g = cfg.indexOffset + c.index * cfg.indexStride;
    const nSrc = cfg.sourceIps.length;
    const src = nSrc ? cfg.sourceIps[g % nSrc] : undefined;
    const ti = Math.floor(g / Math.max(1, nSrc)) % cfg.targets.length;
    const t = cfg.targets[ti];
    if (cfg.topicTemplate !== null) c.user = g;
    c.st = CONNECTING;
    c.startUs = nowUs();
    c.rbuf = null;
    c.frag = null;
    this.pendingSet.add(c);
    try {
      c.ti = ti;
      c.h = this.transports[ti].connect(this, c, t.host, t.port, src);
    } catch (e) {
      this.fail(c, kindOf((e as { code?: string }).code ?? 'connect_error'));
    }
  }

  onConnect(c: Conn, status: number): void {
    if (c.st !== CONNECTING) return;
    if (status < 0) { this.fail(c, kindOf(errnoName(status))); return; }
    c.st = HANDSHAKE;
    const err = this.transports[c.ti].write(c.h!, c.user < 0 ? this.requests[c.ti] : this.ownTopicRequest(c));
    if (err) this.fail(c, kindOf(errnoName(err)));
  }

  /** The upgrade request of a connection with its own topic, built when it is sent (nothing kept per connection). */
  private ownTopicRequest(c: Conn): Buffer {
    const t = this.cfg.targets[c.ti];
    const topic = this.cfg.topicTemplate!.replace('{i}', String(c.user));
    return buildUpgradeRequest(t.hostHeader, this.cfg.protocol.requestPath(`${t.path}${t.path.includes('?') ? '&' : '?'}topics=${topic}`));
  }

  onData(c: Conn, data: Buffer, length: number): void {
    if (c.st === UPGRADED || c.st === OPEN) {
      decodeFrames(c, data, 0, length, this);
    } else if (c.st === HANDSHAKE) {
      this.handshake(c, data, length);
    }
  }

  private handshake(c: Conn, data: Buffer, length: number): void {
    // The response head nearly always comes in one read; a split one is kept in c.rbuf.
    const buf = c.rbuf ? Buffer.concat([c.rbuf, data.subarray(0, length)]) : data;
    const end = c.rbuf ? buf.length : length;
    const hs = parseHandshakeResponse(buf, end);
    if (!hs) {
      if (end > 16384) this.fail(c, 'bad_handshake');
      else c.rbuf = Buffer.from(buf.subarray(0, end));
      return;
    }
    c.rbuf = null;
    if (hs.status !== 101) { this.fail(c, `http_${hs.status || 'invalid'}`); return; }
    if (!hs.acceptOk) { this.fail(c, 'bad_accept'); return; }
    c.st = UPGRADED;
    if (this.cfg.protocol.readyOnUpgrade) this.ready(c);
    if (hs.bodyStart < end) decodeFrames(c, buf, hs.bodyStart, end, this);
  }

  onEnd(c: Conn, errno: number): void {
    if (c.st === CONNECTING || c.st === HANDSHAKE || c.st === UPGRADED) {
      this.fail(c, errno === UV_EOF ? 'closed_during_handshake' : kindOf(errnoName(errno)));
    } else if (c.st === OPEN) {
      this.drop(c, errno === UV_EOF ? 'closed_eof' : kindOf(errnoName(errno)));
    } else if (c.st === CLOSING) {
      this.closeHandle(c);
      c.st = DONE;
    }
  }

  // FrameSink
  onMessage(c: Conn, opcode: number, buf: Buffer, start: number, end: number): void {
    if (c.st !== OPEN && c.st !== UPGRADED) return;
    if (this.cfg.protocol.onMessage(c, opcode, buf, start, end, this) && c.st === OPEN) this.tracker.track(c, buf, start, end, nowUs());
  }

  onControl(c: Conn, opcode: number, payload: Buffer): void {
    if (opcode === OP_PING) this.send(c, encodeFrame(OP_PONG, payload));
    else if (opcode === OP_CLOSE) {
      const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      this.send(c, encodeClose(code === 1005 ? 1000 : code));
      if (c.st === OPEN) this.drop(c, `closed_${code}`);
      else this.fail(c, `closed_${code}`);
    }
  }

  onProtocolError(c: Conn, reason: string): void {
    void reason;
    if (c.st === OPEN) this.drop(c, 'protocol_error');
    else this.fail(c, 'protocol_error');
  }

  // ProtocolLink
  send(c: Conn, frame: Buffer): void {
    if (!c.h) return;
    const err = this.transports[c.ti].write(c.h, frame);
    if (err && c.st === OPEN) this.drop(c, kindOf(errnoName(err)));
  }

  ready(c: Conn): void {
    if (c.st !== UPGRADED) return;
    c.st = OPEN;
    c.openUs = nowUs();
    this.pendingSet.delete(c);
    this.connected++;
    this.opened++;
    this.stats.handshake.record(Math.max(1, c.openUs - c.startUs));
  }

  private fail(c: Conn, kind: string): void {
    this.closeHandle(c);
    this.pendingSet.delete(c);
    this.stats.error(kind);
    this.errorCount++;
    if (this.stopped) { c.st = DONE; return; }
    if (c.attempt < this.cfg.retries) {
      c.attempt++;
      c.st = IDLE;
      const backoff = Math.min(this.cfg.maxBackoffMs, this.cfg.backoffMs * 2 ** (c.attempt - 1));
      this.retryQueue.push({ c, due: Date.now() + backoff * (0.5 + Math.random()) });
      if (!this.timer) this.timer = setTimeout(this.tick, 10);
    } else {
      c.st = DONE;
      this.stats.failed++;
    }
  }

  private drop(c: Conn, kind: string): void {
    // An established connection lost: counted, not reconnected, so the run shows it.
    this.connected--;
    this.stats.dropped++;
    this.stats.error(kind);
    this.errorCount++;
    c.st = CLOSING;
    this.closeHandle(c);
    c.st = DONE;
  }

  private closeHandle(c: Conn): void {
    if (c.h) { this.transports[c.ti].close(c.h); c.h = null; }
    c.rbuf = null;
    c.frag = null;
  }

  /** Counts published seqs a still-open connection never saw (see PayloadTracker.finalize). */
  finalize(published: PublishedSeq[]): void {
    if (!published.length) return;
    for (const c of this.conns) if (c.st === OPEN) this.tracker.finalize(c, published);
  }

  /** Closes everything; sockets are closed without a close handshake to stop fast. */
  stop(): void {
    this.stopped = true;
    if (this.timer) { clearTimeout(this.timer); this.timer = null; }
    for (const c of this.conns) {
      if (c.st === OPEN) this.connected--;
      this.closeHandle(c);
      c.st = DONE;
    }
    this.pendingSet.clear();
    this.retryQueue = [];
  }
}

/** Error kinds as the report names them. */
function kindOf(code: string): string {
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ETIMEDOUT') return 'timeout';
  if (code === 'ECONNRESET') return 'reset';
  if (code === 'EADDRNOTAVAIL' || code === 'EADDRINUSE') return 'no_source_port';
  return code.toLowerCase();
}
