import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';

/**
 * Every process a test starts is killed, and every scratch folder removed, when
 * the test process exits: normally, on an uncaught error, or on SIGINT/SIGTERM
 * (a runner's timeout, Ctrl-C).
 */
const children = new Set<ChildProcess>();
const tempDirs = new Set<string>();

export function trackChild<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** A scratch folder (e.g. cluster and sentinel config files) removed at exit if the test did not remove it. */
export function trackTempDir(dir: string): string {
  tempDirs.add(dir);
  return dir;
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
  tempDirs.delete(dir);
}

function cleanUp(): void {
  for (const child of children) {
    // Herald's primary kills its workers; a negative pid also reaches a detached group.
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
}

process.once('exit', cleanUp);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    cleanUp();
    process.kill(process.pid, signal); // the default action now that the handler is gone: die of the signal
  });
}
