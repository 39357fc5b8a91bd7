// How the coordinator reaches a share of the connections: a forked client process
// (load-worker.ts), over IPC.
//
// Why the coordinator holds no share itself (which would save one process and its
// ~50 ms of start-up CPU per run): its RSS moves with everything else it does (the
// publisher, V8's memory reducer), and the per-connection memory figure of such a
// share came out at 195 B instead of ~1,500 B.
import { fork } from 'node:child_process';
import * as path from 'node:path';
import type { FromWorker, ToWorker } from './worker-messages';

const WORKER = path.join(__dirname, 'load-worker.js');

export interface ShareLink {
  /** "client process <pid>", for error messages */
  readonly label: string;
  readonly pid: number;
  readonly exited: boolean;
  send(m: ToWorker): void;
  /** Asks the share to stop and waits for it (a process is SIGKILLed after graceMs). */
  stop(graceMs: number): Promise<void>;
  /** Synchronous last resort. */
  killNow(): void;
}

export interface LinkEvents {
  onMessage(m: FromWorker): void;
  /** the share failed on its own (a process exited, could not be reached) */
  onFailure(e: Error): void;
}

export function forkedShare(execArgv: string[], ev: LinkEvents): ShareLink {
  const proc = fork(WORKER, [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const label = `client process ${proc.pid}`;
  let exited = false, stopping = false;
  const gone = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  proc.on('message', (m: FromWorker) => ev.onMessage(m));
  proc.on('exit', (code, signal) => {
    exited = true;
    if (!stopping && (code !== 0 || signal)) ev.onFailure(new Error(`${label} exited (${signal ?? code})`));
  });
  proc.on('error', (e) => ev.onFailure(e));
  return {
    label,
    pid: proc.pid!,
    get exited() { return exited; },
    send(m) {
      proc.send(m, (e) => { if (e) ev.onFailure(new Error(`${label}: ${e.message}`)); });
    },
    async stop(graceMs) {
      stopping = true;
      if (exited) return;
      if (proc.connected) proc.send({ type: 'stop' } satisfies ToWorker, () => { /* exit or kill below */ });
      const t = setTimeout(() => proc.kill('SIGKILL'), graceMs);
      await gone;
      clearTimeout(t);
    },
    killNow() {
      if (!exited) proc.kill('SIGKILL');
    },
  };
}
