/**
 * The connections of each user (token `sub`) on this worker, for server-side
 * control (admin subscribe, unsubscribe, disconnect). Kept only when auth is
 * on. Most users hold one connection, so an entry is the connection itself
 * until a second one comes: one Map entry per user, a Set only past one.
 */
export class UserIndex<S extends { getUserData(): { sub?: string } }> {
  private readonly users = new Map<string, S | Set<S>>();

  /** Connection observer: indexes a connection that has a user. */
  opened(ws: S): void {
    const sub = ws.getUserData().sub;
    if (sub !== undefined) this.add(sub, ws);
  }

  closed(ws: S): void {
    const sub = ws.getUserData().sub;
    if (sub !== undefined) this.remove(sub, ws);
  }

  /** Distinct users with a connection here. */
  get size(): number {
    return this.users.size;
  }

  add(sub: string, socket: S): void {
    const held = this.users.get(sub);
    if (held === undefined) this.users.set(sub, socket);
    else if (held instanceof Set) held.add(socket);
    else if (held !== socket) this.users.set(sub, new Set([held, socket]));
  }

  remove(sub: string, socket: S): void {
    const held = this.users.get(sub);
    if (held === socket) this.users.delete(sub);
    else if (held instanceof Set && held.delete(socket)) {
      if (held.size === 1) this.users.set(sub, held.values().next().value as S);
    }
  }

  /** A copy: acting on a connection (closing it) may change the index. */
  connections(sub: string): S[] {
    const held = this.users.get(sub);
    if (held === undefined) return [];
    return held instanceof Set ? [...held] : [held];
  }
}
