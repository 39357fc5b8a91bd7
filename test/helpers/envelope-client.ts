import { connect, type Client } from '../../scripts/harness/ws-clients';

/** One frame of the envelope format, parsed. */
export interface EnvelopeFrame {
  type: 'message' | 'gap' | 'recovered';
  topic: string;
  seq?: number;
  data?: string;
  b64?: string;
  since?: number;
  first?: number | null;
  current?: number;
  reason?: string;
  count?: number;
}

/** The frames an envelope client received so far, parsed in order. */
export function frames(client: Client): EnvelopeFrame[] {
  return client.messages.map((m) => JSON.parse(m.data.toString()) as EnvelopeFrame);
}

/** Seqs of the data messages of a topic, in arrival order. */
export function seqsOf(client: Client, topic: string): number[] {
  return frames(client)
    .filter((f) => f.type === 'message' && f.topic === topic)
    .map((f) => f.seq!);
}

/** Opens an envelope client; `since` is "topic:seq,...". */
export function connectEnvelope(wsUrl: string, topics: string[], since?: string): Promise<Client> {
  const q = new URLSearchParams({ format: 'envelope' });
  if (topics.length > 0) q.set('topics', topics.join(','));
  if (since) q.set('since', since);
  return connect(`${wsUrl}?${q.toString()}`);
}

export function range(from: number, to: number): number[] {
  return Array.from({ length: to - from + 1 }, (_, i) => from + i);
}
