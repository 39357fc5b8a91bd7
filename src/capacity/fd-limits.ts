import fs from 'node:fs';

/** Soft RLIMIT_NOFILE of this process, read from /proc (Node has no getrlimit). */
export function readOpenFileLimit(pid: number | 'self' = 'self'): { soft: number; hard: number } {
  const text = fs.readFileSync(`/proc/${pid}/limits`, 'utf8');
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(text);
  if (!match) throw new Error('cannot read "Max open files" from /proc/self/limits');
  const parse = (v: string) => (v === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(v));
  return { soft: parse(match[1]), hard: parse(match[2]) };
}

/** Descriptors open in this process now. */
export function countOpenFds(): number {
  return fs.readdirSync('/proc/self/fd').length;
}

/**
 * WebSocket connections one worker can take: the open-file limit minus what the
 * process already uses and a reserve for Redis, logs and in-flight handshakes.
 * An explicit cap wins when it is lower.
 */
export function connectionCapacity(opts: { softLimit: number; fdsInUse: number; reserve: number; configuredMax: number }): number {
  const byFds = Math.max(0, opts.softLimit - opts.fdsInUse - opts.reserve);
  return opts.configuredMax > 0 ? Math.min(opts.configuredMax, byFds) : byFds;
}
