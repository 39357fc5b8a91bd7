/**
 * How a long benchmark runs and stops: it holds /tmp/herald-bench.lock, arms a hard
 * timeout once the lock is its own, and on every way out (the end, a failure, Ctrl-C,
 * SIGTERM, the timeout, the process exiting) kills every process group it started
 * (process-groups.ts), writes what it has and releases the lock.
 */
import { acquireBenchLock, type HeldLock } from './bench-lock';
import { killAllGroups } from './process-groups';
import { childPids, cmdline } from './proc-stats';

export interface BenchRun {
  timeoutS: number;
  /** another lock file than /tmp/herald-bench.lock: for small smoke runs that need not wait for a big job */
  lockFile?: string;
  log: (line: string) => void;
  /** The measurement; throws on failure. */
  run: () => Promise<void>;
  /** Orderly stop of what `run` started (after an end or a failure, not after an abort). */
  teardown: () => Promise<void>;
  /** Records why the run failed or stopped short. */
  fail: (why: string) => void;
  /** Writes the result files; called once, unless the run never got the lock. */
  write: () => void;
}

/** Kills every process group the run started, and a `flock` still waiting for the lock on our behalf. */
function hardKill(): void {
  killAllGroups();
  for (const pid of childPids(process.pid)) {
    if (cmdline(pid).startsWith('flock ')) try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ }
  }
}

export async function runBenchmark(b: BenchRun): Promise<void> {
  let lock: HeldLock | null = null;
  let finished = false;
  let started = false;
  process.on('exit', hardKill);
  const abort = (why: string, code: number): void => {
    if (finished) return;
    finished = true;
    b.log(`ABORT: ${why}; killing everything this run started`);
    b.fail(why);
    hardKill();
    try {
      if (started) b.write();
    } catch (e) {
      b.log(`could not write results: ${(e as Error).message}`);
    }
    lock?.release();
    process.exit(code);
  };
  process.on('SIGINT', () => abort('interrupted (SIGINT)', 130));
  process.on('SIGTERM', () => abort('terminated (SIGTERM)', 143));
  let hard: NodeJS.Timeout | undefined;
  try {
    lock = await acquireBenchLock(b.lockFile, b.log);
    // The hard limit runs from when the lock is ours: waiting for another benchmark is not this run's time.
    hard = setTimeout(() => abort(`hard timeout of ${b.timeoutS} s reached`, 124), b.timeoutS * 1000);
    hard.unref();
    started = true;
    await b.run();
  } catch (e) {
    b.fail((e as Error).message);
    b.log(`FAILED: ${(e as Error).message}`);
  } finally {
    if (!finished) {
      finished = true;
      await b.teardown();
      if (started) b.write();
      lock?.release();
      clearTimeout(hard);
    }
  }
}
