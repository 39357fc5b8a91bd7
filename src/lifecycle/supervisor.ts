import { fork, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { LocalBrokerWire } from '../broker/local-broker';
import type { HeraldConfig } from '../config';
import type { Logger } from '../logger';
import type { WorkerSnapshot, WorkerStats } from '../metrics/worker-stats';
import type { DrainMode } from '../runtime/drain-mode';
import { IpcDispatcher } from '../runtime/ipc-dispatcher';
import type { ToPrimary, ToWorker } from './ipc';

/**
 * A gateway worker process. Plain child_process.fork, not node:cluster: uWS shares the port
 * itself (SO_REUSEPORT), and a cluster worker exits at once when its IPC channel closes,
 * so a killed primary would drop every client without a close frame instead of draining.
 */
type Worker = ChildProcess;

const WORKER_SCRIPT = path.join(__dirname, '..', '..', 'workers', 'gateway-worker.js');

const isDead = (worker: Worker) => worker.exitCode !== null || worker.signalCode !== null;

/** A worker slot: the slot survives its worker, so a respawn keeps the id and the crash history. */
interface Slot {
  id: number;
  worker?: Worker;
  listening: boolean;
  startedAt: number;
  crashesInARow: number;
  respawnTimer?: NodeJS.Timeout;
  /** Settles when the current worker listens (true) or dies first (false). */
  started: Promise<boolean>;
  settleStarted: (listening: boolean) => void;
}

/** A worker that has run this long is healthy; its next crash starts the backoff over. */
const STABLE_AFTER_MS = 30_000;
const STATS_TIMEOUT_MS = 1000;

export interface RollOptions {
  /** Each old worker's clients are closed with 4000 spread over this window. */
  drainWindowSeconds: number;
  /** A replacement that does not listen within this time abandons the roll. */
  readyTimeoutSeconds: number;
}

export interface SupervisorDeps {
  config: HeraldConfig;
  workerCount: number;
  log: Logger;
}

/**
 * Forks the gateway workers, respawns crashed ones with exponential backoff,
 * answers stats queries and runs the ordered shutdown. Owns no client socket.
 */
export class Supervisor {
  private readonly slots: Slot[] = [];
  private shuttingDown = false;
  private rolling = false;
  private everReady = false;
  private nextRequestId = 1;
  /** Answers awaited from workers (stats, metrics), by request id. */
  private readonly pending = new Map<number, (answer: unknown) => void>();
  private readonly ipc: IpcDispatcher<ToPrimary, Slot>;
  private readonly exitHandlers: ((pid: number) => void)[] = [];
  private resolveReady!: () => void;
  private rejectReady!: (err: Error) => void;
  /** Resolves once every worker listens for the first time; rejects on a start-up failure. */
  readonly ready = new Promise<void>((resolve, reject) => {
    this.resolveReady = resolve;
    this.rejectReady = reject;
  });

  constructor(private readonly deps: SupervisorDeps) {
    this.ipc = new IpcDispatcher<ToPrimary, Slot>((msg) => deps.log.warn({ msg }, 'unknown message from a worker'))
      .on('listening', (_msg, slot) => this.onListening(slot))
      .on('stats', (msg) => this.pending.get(msg.id)?.(msg.stats))
      .on('metrics', (msg) => this.pending.get(msg.id)?.(msg.metrics))
      .on('fatal', (msg, slot) => {
        // A worker that cannot start (port taken, no native transport, bad config) will not
        // start on a retry either; respawning it would only loop.
        deps.log.fatal({ worker: slot.id, error: msg.message }, 'worker failed to start');
        this.rejectReady(new Error(msg.message));
      });
  }

  /** Serves workers' broker requests (the local broker's publish and history); `reply` answers the asking worker. */
  serveBroker(types: readonly ('broker:publish' | 'broker:history')[], serve: (msg: LocalBrokerWire, reply: (answer: LocalBrokerWire) => void) => void): void {
    for (const type of types) {
      this.ipc.on(type, (msg, slot) => {
        const worker = slot.worker;
        serve(msg, (answer) => {
          if (worker?.connected) worker.send(answer);
        });
      });
    }
  }

  /** Routes one more kind of worker message (presence reports) to `handler`, with the worker's pid. */
  onWorkerMessage<T extends 'presence'>(type: T, handler: (msg: Extract<ToPrimary, { type: T }>) => void): void {
    this.ipc.on(type, (msg) => handler(msg));
  }

  /** Told of every worker process that exits (crashed, drained, or replaced by a rolling restart), with its pid. */
  onWorkerExit(handler: (pid: number) => void): void {
    this.exitHandlers.push(handler);
  }

  start(): void {
    for (let id = 0; id < this.deps.workerCount; id++) {
      const slot = { id, listening: false, startedAt: 0, crashesInARow: 0 } as Slot;
      this.slots.push(slot);
      this.fork(slot);
    }
  }

  /** Hands one message to every live worker (the local broker's relay). */
  sendToAll(msg: ToWorker): void {
    for (const slot of this.slots) {
      if (slot.worker?.connected) slot.worker.send(msg);
    }
  }

  /** Current state of every slot, with fresh stats from each live worker (1 s timeout). */
  async snapshot(): Promise<WorkerSnapshot[]> {
    return Promise.all(
      this.slots.map(async (slot) => {
        const worker = slot.worker;
        const up = Boolean(worker?.connected && slot.listening);
        if (!worker || !up) return { id: slot.id, pid: worker?.pid, up: false };
        const stats = await this.ask<WorkerStats>(worker, (id) => ({ type: 'stats-request', id }));
        return { id: slot.id, pid: worker.pid, up: stats !== undefined, stats };
      }),
    );
  }

  /** Ordered shutdown: every worker drains (1001) and exits; stragglers are killed after the timeout. */
  async shutdown(): Promise<{ forced: boolean }> {
    const { config, log } = this.deps;
    this.shuttingDown = true;
    const live = this.slots.filter((s) => s.worker && !isDead(s.worker));
    for (const slot of this.slots) clearTimeout(slot.respawnTimer);
    const exits = live.map((s) => new Promise<void>((resolve) => s.worker!.once('exit', () => resolve())));
    for (const slot of live) this.drain(slot.worker!, 'shutdown', config.shutdown.drainWindowSeconds);
    const forced = await Promise.race([Promise.all(exits).then(() => false), delay(config.shutdown.timeoutSeconds * 1000).then(() => true)]);
    if (forced) {
      log.warn({ timeoutSeconds: config.shutdown.timeoutSeconds }, 'workers did not stop in time: killing them');
      this.killAll();
    }
    return { forced };
  }

  /**
   * Rolling restart: one slot at a time, fork the replacement, wait until it
   * listens (SO_REUSEPORT lets old and new share the port, so nobody is refused),
   * then have the old worker stop accepting and close its clients with 4000
   * spread over the drain window, and wait for it to exit. New workers read the
   * configuration files afresh. A replacement that fails leaves the old worker
   * in place and ends the roll. Returns false when the roll did not complete.
   */
  async rollingRestart(options: RollOptions): Promise<boolean> {
    const { log } = this.deps;
    if (this.rolling || this.shuttingDown) {
      log.warn('rolling restart already running or shutting down: ignored');
      return false;
    }
    this.rolling = true;
    try {
      log.info({ workers: this.slots.length, drainWindowSeconds: options.drainWindowSeconds }, 'rolling restart started');
      for (const slot of this.slots) {
        if (this.shuttingDown) return false;
        if (!(await this.replace(slot, options))) return false;
      }
      log.info('rolling restart done');
      return true;
    } finally {
      this.rolling = false;
    }
  }

  /** Immediate stop, for a second signal. */
  killAll(): void {
    for (const slot of this.slots) {
      clearTimeout(slot.respawnTimer);
      if (slot.worker && !isDead(slot.worker)) slot.worker.kill('SIGKILL');
    }
  }

  /** prom-client JSON from every live worker; a worker that does not answer within 1 s is left out. */
  async metricsSnapshot(): Promise<object[][]> {
    const live = this.slots.filter((s) => s.worker?.connected && s.listening).map((s) => s.worker!);
    const answers = await Promise.all(live.map((w) => this.ask<object[]>(w, (id) => ({ type: 'metrics-request', id }))));
    return answers.filter((a): a is object[] => a !== undefined);
  }

  /** Worker slots configured and currently listening. */
  counts(): { configured: number; up: number } {
    return { configured: this.slots.length, up: this.slots.filter((s) => s.worker?.connected && s.listening).length };
  }

  private async replace(slot: Slot, options: RollOptions): Promise<boolean> {
    const { config, log } = this.deps;
    const old = slot.worker;
    if (!old || isDead(old) || !slot.listening) {
      log.warn({ worker: slot.id }, 'slot not running; left to the respawn logic');
      return true;
    }
    this.fork(slot);
    const fresh = slot.worker!;
    const listening = await Promise.race([slot.started, delay(options.readyTimeoutSeconds * 1000).then(() => false)]);
    if (!listening || this.shuttingDown) {
      log.error({ worker: slot.id, pid: fresh.pid }, 'replacement worker did not start listening: rolling restart abandoned, old worker kept');
      slot.worker = old;
      slot.listening = true;
      if (!isDead(fresh)) fresh.kill('SIGKILL');
      return false;
    }
    log.info({ worker: slot.id, oldPid: old.pid, newPid: fresh.pid }, 'replacement listening; draining old worker');
    const exited = new Promise<void>((resolve) => old.once('exit', () => resolve()));
    this.drain(old, 'restart', options.drainWindowSeconds);
    const timer = setTimeout(() => {
      log.warn({ worker: slot.id, pid: old.pid }, 'old worker did not drain in time: killing it');
      old.kill('SIGKILL');
    }, (options.drainWindowSeconds + config.shutdown.timeoutSeconds) * 1000);
    await exited;
    clearTimeout(timer);
    return true;
  }

  private drain(worker: Worker, mode: DrainMode, windowSeconds: number): void {
    if (worker.connected) worker.send({ type: 'drain', mode, windowSeconds } satisfies ToWorker);
    else worker.kill('SIGTERM');
  }

  private fork(slot: Slot): void {
    const worker = fork(WORKER_SCRIPT, [], {
      env: { ...process.env, HERALD_WORKER_ID: String(slot.id) },
      execArgv: workerExecArgv(process.execArgv, this.deps.config),
      serialization: 'advanced',
    });
    // A send racing the worker's exit fails with an 'error' event; unhandled, it would kill the primary.
    worker.on('error', (err) => this.deps.log.warn({ worker: slot.id, err: err.message }, 'worker IPC error'));
    slot.worker = worker;
    slot.listening = false;
    slot.startedAt = Date.now();
    slot.started = new Promise((resolve) => (slot.settleStarted = resolve));
    worker.on('message', (msg: unknown) => this.ipc.dispatch(msg, slot));
    worker.on('exit', (code, signal) => {
      for (const handler of this.exitHandlers) handler(worker.pid!);
      this.onExit(slot, worker, code, signal);
    });
  }

  private onListening(slot: Slot): void {
    slot.listening = true;
    slot.settleStarted(true);
    if (!this.everReady && this.slots.every((s) => s.listening)) {
      this.everReady = true;
      this.resolveReady();
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    slot.listening = false;
    slot.settleStarted(false);
    if (this.shuttingDown) return;
    // A start-up failure of the first generation stops herald (see 'fatal'); later ones back off.
    if (code === 78 && !this.everReady) return;
    const ranFor = Date.now() - slot.startedAt;
    slot.crashesInARow = ranFor > STABLE_AFTER_MS ? 1 : slot.crashesInARow + 1;
    const { minDelayMs, maxDelayMs } = this.deps.config.respawn;
    const wait = Math.min(maxDelayMs, minDelayMs * 2 ** (slot.crashesInARow - 1));
    this.deps.log.error({ worker: slot.id, pid: worker.pid, code, signal, ranForMs: ranFor, respawnInMs: wait }, 'worker died; respawning');
    slot.respawnTimer = setTimeout(() => {
      if (!this.shuttingDown) this.fork(slot);
    }, wait);
  }

  /** Sends a request and waits for the answer with the same id, or undefined after the timeout. */
  private ask<T>(worker: Worker, request: (id: number) => ToWorker): Promise<T | undefined> {
    const id = this.nextRequestId++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve(undefined);
      }, STATS_TIMEOUT_MS);
      this.pending.set(id, (answer) => {
        clearTimeout(timer);
        this.pending.delete(id);
        resolve(answer as T);
      });
      worker.send(request(id));
    });
  }
}

/** A timer that does not keep the process alive. */
function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A worker's Node flags: the primary's own, then workerNodeOptions, and --expose-gc for the quiet collection. */
export function workerExecArgv(primaryArgv: readonly string[], config: Pick<HeraldConfig, 'workerNodeOptions' | 'quietCollectSeconds'>): string[] {
  const flags = [...primaryArgv, ...config.workerNodeOptions.split(' ').filter(Boolean)];
  if (config.quietCollectSeconds > 0 && !flags.includes('--expose-gc')) flags.push('--expose-gc');
  return flags;
}
