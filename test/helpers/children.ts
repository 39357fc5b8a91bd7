import type { ChildProcess } from 'node:child_process';

/** Every process a test starts is killed when the test process exits, whatever happened. */
const children = new Set<ChildProcess>();

export function trackChild<T extends ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

process.once('exit', () => {
  for (const child of children) {
    // Herald's primary kills its workers; a negative pid also reaches a detached group.
    try {
      child.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
});
