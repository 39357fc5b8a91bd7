/**
 * The exclusive benchmark lock, /tmp/herald-bench.lock, shared with the C1M
 * benchmark so two big jobs never share the 2 cores.
 *
 * Node has no flock(2), so a `flock` child holds it: `flock -x FILE cat` keeps
 * the lock while `cat` waits on our stdin pipe. When this process exits for any
 * reason (even SIGKILL), the pipe closes, `cat` ends, and the kernel drops the
 * lock: it can never be left behind by a crashed run.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';

export const BENCH_LOCK = '/tmp/herald-bench.lock';

export interface HeldLock {
  release(): void;
}

/** Takes the lock, printing a visible message while another job holds it. */
export async function acquireBenchLock(file = BENCH_LOCK, log: (s: string) => void = console.error): Promise<HeldLock> {
  // Non-blocking probe first, only to know whether to say we are waiting.
  const probe = spawnSync('flock', ['-n', '-x', file, 'true']);
  if (probe.status !== 0) log(`[bench] waiting for ${file}: another benchmark (C1M or compare) holds it...`);
  const started = Date.now();
  const holder: ChildProcess = spawn('flock', ['-x', file, 'sh', '-c', 'echo locked; exec cat >/dev/null'], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const waitLog = setInterval(() => log(`[bench] still waiting for ${file} (${Math.round((Date.now() - started) / 1000)} s)`), 30_000);
  try {
    await new Promise<void>((resolve, reject) => {
      holder.once('error', reject);
      holder.once('exit', (code) => reject(new Error(`flock exited (${code}) before taking ${file}`)));
      holder.stdout!.once('data', () => resolve());
    });
  } finally {
    clearInterval(waitLog);
  }
  if (probe.status !== 0) log(`[bench] got ${file} after ${Math.round((Date.now() - started) / 1000)} s`);
  return {
    release() {
      holder.stdin!.end();
      holder.kill('SIGTERM');
    },
  };
}
