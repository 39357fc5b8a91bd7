import type { ServerFrame } from '../../src/protocol/wire';
import { waitFor } from '../../scripts/harness/ports';
import { connect, type Client } from '../../scripts/harness/ws-clients';

type Reply = Extract<ServerFrame, { type: 'reply' }> & { error?: { code: string; message: string; retryAfterMs?: number } };

/** An envelope connection that sends commands and reads the frames it gets, parsed. */
export class CommandClient {
  private nextId = 1;

  constructor(readonly client: Client) {}

  static async open(wsUrl: string, options: { token?: string; query?: string } = {}): Promise<CommandClient> {
    const q = new URLSearchParams({ format: 'envelope' });
    if (options.token) q.set('token', options.token);
    return new CommandClient(await connect(`${wsUrl}?${q}${options.query ? `&${options.query}` : ''}`));
  }

  get frames(): (ServerFrame & Record<string, unknown>)[] {
    return this.client.messages.map((m) => JSON.parse(m.data.toString()));
  }

  /** Payloads of the data messages of a topic, in order. */
  data(topic: string): string[] {
    return this.frames.filter((f) => f.type === 'message' && f.topic === topic).map((f) => String(f.data));
  }

  seqs(topic: string): number[] {
    return this.frames.filter((f) => f.type === 'message' && f.topic === topic).map((f) => Number(f.seq));
  }

  /** Sends a command (an id is added) and resolves with its reply. */
  async command(body: Record<string, unknown>): Promise<Reply> {
    const id = this.nextId++;
    this.client.ws.send(JSON.stringify({ id, ...body }));
    return this.reply(id);
  }

  reply(id: number | string | null, timeoutMs = 10_000): Promise<Reply> {
    return waitFor(`reply to ${id}`, () => this.frames.find((f): f is Reply => f.type === 'reply' && f.id === id), timeoutMs, 10);
  }

  /** Waits for a frame that `match` accepts. */
  frame(what: string, match: (f: ServerFrame & Record<string, unknown>) => boolean, timeoutMs = 10_000) {
    return waitFor(what, () => this.frames.find(match), timeoutMs, 10);
  }

  /** The close code, once the connection closed (fails after `timeoutMs`). */
  closed(timeoutMs = 10_000): Promise<number> {
    return waitFor('connection closed', () => this.client.closeCode, timeoutMs, 10);
  }

  close(): void {
    this.client.ws.terminate();
  }
}
