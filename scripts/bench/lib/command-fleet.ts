/**
 * The client side of the command benchmarks: several client processes (one
 * process holds at most PER_PROCESS connections, under the 20,000-file limit),
 * each spawned detached like herald, so both compete for the cores the same
 * way (sched_autogroup).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { FleetReport, FleetRequest, JoinMode } from './command-fleet-worker';
import { track } from './process-groups';

export const PER_PROCESS = 9000;
const WORKER = path.join(__dirname, 'command-fleet-worker.js');

export interface OpenPlan {
  url: string;
  connections: number;
  mode: JoinMode;
  /** Connection i joins room:<i mod rooms>. */
  rooms: number;
  /** With a secret, connection i carries a token for user u<i mod users>. */
  secret?: string;
  users: number;
}

export interface ChurnFigures {
  sent: number;
  replies: number;
  codes: Record<string, number>;
  p50: number;
  p99: number;
  max: number;
}

/** Source address blocks already used by this process's fleets (127.2 to 127.254; 127.0 and 127.1 are left to others). */
let lastBlock = 1;

export class CommandFleet {
  private readonly children: ChildProcess[] = [];
  /** Its own 127.<block>.0.0/16 of source addresses. */
  private readonly sourceBlock = (lastBlock = lastBlock >= 254 ? 2 : lastBlock + 1);

  get pids(): number[] {
    return this.children.map((c) => c.pid!);
  }

  /** Opens the connections (split over processes) and joins their rooms; resolves with the totals. */
  async open(plan: OpenPlan): Promise<{ connections: number; errors: number; joinErrors: number }> {
    const processes = Math.max(1, Math.ceil(plan.connections / PER_PROCESS));
    const per = Math.ceil(plan.connections / processes);
    const reports = await Promise.all(
      Array.from({ length: processes }, (_, p) => {
        const child = track(spawn(process.execPath, [WORKER], { detached: true, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
        this.children.push(child);
        const count = Math.min(per, plan.connections - p * per);
        return this.ask<Extract<FleetReport, { type: 'opened' }>>(child, { type: 'open', url: plan.url, count, mode: plan.mode, rooms: plan.rooms, first: p * per, secret: plan.secret, users: plan.users, concurrency: 100, sourceBlock: this.sourceBlock });
      }),
    );
    return reports.reduce((a, r) => ({ connections: a.connections + r.connections, errors: a.errors + r.errors, joinErrors: a.joinErrors + r.joinErrors }), { connections: 0, errors: 0, joinErrors: 0 });
  }

  /** `perSecond` subscribe/unsubscribe commands in total, for `seconds`, on `connections` sockets (spread over the processes). */
  async churn(perSecond: number, seconds: number, connections: number, topics: number, prefix = 'extra:'): Promise<ChurnFigures> {
    const n = this.children.length;
    const reports = await Promise.all(
      this.children.map((child) => this.ask<Extract<FleetReport, { type: 'churned' }>>(child, { type: 'churn', perSecond: perSecond / n, seconds, topics, prefix, connections: Math.ceil(connections / n) })),
    );
    const latencies = reports.flatMap((r) => r.latenciesMs).sort((a, b) => a - b);
    const codes: Record<string, number> = {};
    for (const r of reports) for (const [k, v] of Object.entries(r.codes)) codes[k] = (codes[k] ?? 0) + v;
    const at = (q: number) => (latencies.length === 0 ? 0 : latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]);
    return { sent: reports.reduce((a, r) => a + r.sent, 0), replies: latencies.length, codes, p50: at(0.5), p99: at(0.99), max: latencies.at(-1) ?? 0 };
  }

  close(): void {
    for (const child of this.children) if (child.connected) child.send({ type: 'close' } satisfies FleetRequest);
  }

  private ask<T extends FleetReport>(child: ChildProcess, request: FleetRequest): Promise<T> {
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`client process exited (${code})`));
      child.once('exit', onExit);
      child.once('message', (msg: T) => {
        child.off('exit', onExit);
        resolve(msg);
      });
      child.send(request);
    });
  }
}
