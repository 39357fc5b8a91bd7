import fs from 'node:fs';
import pino, { type DestinationStream, type Logger } from 'pino';

export type { Logger };

/** How long one log line may wait for a full stdout pipe before it is dropped. */
const FULL_PIPE_WAIT_MS = 1000;
const pause = new Int32Array(new SharedArrayBuffer(4));

/**
 * Synchronous writes to stdout (logs are rare on the hot path and must survive a
 * crash or exit) that give up instead of spinning. pino's own destination
 * retries a failed write forever when it flushes at exit, so a worker whose
 * primary, and with it the read end of its log pipe, is gone (EPIPE) could
 * never exit. Here a closed stdout ends logging, and a pipe that stays full
 * drops the line after FULL_PIPE_WAIT_MS.
 */
export function stdoutDestination(fd = 1): DestinationStream {
  let closed = false;
  return {
    write(line: string): void {
      if (closed) return;
      let rest = Buffer.from(line);
      const giveUpAt = Date.now() + FULL_PIPE_WAIT_MS;
      while (rest.length > 0) {
        try {
          rest = rest.subarray(fs.writeSync(fd, rest));
        } catch (err) {
          const code = (err as NodeJS.ErrnoException).code;
          if (code !== 'EAGAIN' || Date.now() > giveUpAt) {
            closed = code !== 'EAGAIN';
            return;
          }
          Atomics.wait(pause, 0, 0, 5); // a full non-blocking pipe: give the reader a moment
        }
      }
    },
  };
}

/**
 * Root logger of one process. `role` and `workerId` are stamped on every line so
 * the interleaved output of many workers can be told apart.
 */
export function createLogger(level: string, role: 'primary' | 'worker' | 'script', workerId?: number): Logger {
  return pino(
    {
      level,
      base: { pid: process.pid, role, ...(workerId === undefined ? {} : { worker: workerId }) },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    stdoutDestination(),
  );
}
