import type { Connection, ConnectionObserver } from './connection-data';

/**
 * The worker's open connections. uWS offers no way to iterate its sockets, and
 * two jobs need one: closing connections at a bounded rate on drain, and
 * finding slow consumers. A Set costs a few dozen bytes per connection.
 */
export class ConnectionRegistry implements ConnectionObserver {
  private readonly sockets = new Set<Connection>();

  get size(): number {
    return this.sockets.size;
  }

  has(ws: Connection): boolean {
    return this.sockets.has(ws);
  }

  opened(ws: Connection): void {
    this.sockets.add(ws);
  }

  closed(ws: Connection): void {
    this.sockets.delete(ws);
  }

  /** Forgets a connection herald is closing itself (its close handler follows). */
  delete(ws: Connection): void {
    this.sockets.delete(ws);
  }

  /**
   * Connections whose send buffer is over `limitBytes`: uWS is already skipping
   * messages for them. One native call per connection, so callers run it
   * rarely (once a second at most, and only after messages went out).
   */
  overBuffered(limitBytes: number): Connection[] {
    const slow: Connection[] = [];
    for (const ws of this.sockets) if (ws.getBufferedAmount() > limitBytes) slow.push(ws);
    return slow;
  }

  /** Closes every connection, `perSecond` at most, and resolves when none is left. */
  closeAll(code: number, reason: string, perSecond: number): Promise<void> {
    const tickMs = 50;
    const perTick = Math.max(1, Math.ceil((perSecond * tickMs) / 1000));
    return new Promise((resolve) => {
      const tick = () => {
        let closed = 0;
        for (const ws of this.sockets) {
          if (closed++ >= perTick) break;
          this.sockets.delete(ws);
          ws.end(code, reason);
        }
        if (this.sockets.size === 0) return resolve();
        setTimeout(tick, tickMs);
      };
      tick();
    });
  }
}
