import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * Root logger of one process. `role` and `workerId` are stamped on every line so
 * the interleaved output of many workers can be told apart.
 */
export function createLogger(level: string, role: 'primary' | 'worker' | 'script', workerId?: number): Logger {
  return pino({
    level,
    base: { pid: process.pid, role, ...(workerId === undefined ? {} : { worker: workerId }) },
    // Synchronous writes: logs are rare on the hot path and must survive a crash or exit.
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
