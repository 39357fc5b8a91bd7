/**
 * One place per process where IPC messages are routed by their `type`. Every
 * part that talks over IPC registers its types here, where it is created; an
 * unknown type is reported rather than silently dropped.
 */
export type Typed = { type: string };

export class IpcDispatcher<In extends Typed, From = void> {
  private readonly handlers = new Map<string, (msg: In, from: From) => void>();

  constructor(private readonly onUnknown: (msg: unknown) => void) {}

  on<T extends In['type']>(type: T, handler: (msg: Extract<In, { type: T }>, from: From) => void): this {
    if (this.handlers.has(type)) throw new Error(`IPC type ${type} already has a handler`);
    this.handlers.set(type, handler as (msg: In, from: From) => void);
    return this;
  }

  /** Routes one received message; anything that is not `{ type: string }` with a handler goes to onUnknown. */
  dispatch(msg: unknown, from: From): void {
    const type = typeof msg === 'object' && msg !== null ? (msg as { type?: unknown }).type : undefined;
    const handler = typeof type === 'string' ? this.handlers.get(type) : undefined;
    if (handler) handler(msg as In, from);
    else this.onUnknown(msg);
  }
}
