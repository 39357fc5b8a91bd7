import type { Logger } from '../logger';

interface Closer {
  name: string;
  close: () => unknown;
  timeoutMs: number;
}

/** Default time one closer may take before the list moves on without it. */
export const CLOSE_TIMEOUT_MS = 5000;

/**
 * The ordered list of everything a process must close when it stops: listen
 * sockets, client connections, timers and sweepers, the broker, logs. Each
 * part registers itself where it is created; close() runs them in reverse
 * order of registration (what was built on top goes first: clients are drained
 * before the broker they listen through is closed), each with its own timeout,
 * and goes on past one that fails or hangs.
 */
export class ShutdownList {
  private readonly closers: Closer[] = [];
  private closing?: Promise<void>;

  constructor(private readonly log: Logger) {}

  /** Registers `close`; it runs before everything registered earlier. */
  add(name: string, close: () => unknown, timeoutMs = CLOSE_TIMEOUT_MS): void {
    this.closers.push({ name, close, timeoutMs });
  }

  /** Names in the order close() will run them (for logs and tests). */
  get order(): string[] {
    return this.closers.map((c) => c.name).reverse();
  }

  /** Runs every closer once, newest first; later calls get the same promise. */
  close(): Promise<void> {
    this.closing ??= this.run();
    return this.closing;
  }

  private async run(): Promise<void> {
    for (const closer of [...this.closers].reverse()) {
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), closer.timeoutMs);
      });
      try {
        const outcome = await Promise.race([Promise.resolve().then(closer.close), timedOut]);
        if (outcome === 'timeout') this.log.warn({ part: closer.name, timeoutMs: closer.timeoutMs }, 'did not close in time; going on');
      } catch (err) {
        this.log.error({ part: closer.name, err: (err as Error).message }, 'failed to close; going on');
      } finally {
        clearTimeout(timer);
      }
    }
  }
}
