/**
 * The envelope wire format, for connections opened with ?format=envelope.
 * Every frame is a JSON text frame:
 *
 *   {"type":"message","topic":"user:42","seq":17,"data":"<payload as text>"}
 *   {"type":"message","topic":"user:42","seq":17,"b64":"<payload, base64>"}   (payload not valid UTF-8)
 *   {"type":"message","topic":"broadcast","data":"..."}                          (no seq: published without history)
 *   {"type":"gap","topic":"t","since":5,"first":40,"current":90,"reason":"expired"}
 *   {"type":"recovered","topic":"t","seq":90,"count":85}
 *
 * Raw connections (the default) never see any of this: they get the payload bytes.
 */
import { isUtf8 } from 'node:buffer';
import type { GapReason } from './wire';

export function encodeMessage(topic: string, seq: number | undefined, payload: Buffer, isBinary = !isUtf8(payload)): string {
  const body: Record<string, unknown> = { type: 'message', topic };
  if (seq !== undefined) body.seq = seq;
  if (isBinary) body.b64 = payload.toString('base64');
  else body.data = payload.toString('utf8');
  return JSON.stringify(body);
}

export type { GapReason };

export interface GapNotice {
  topic: string;
  since: number;
  /** Oldest seq still retained (null when none is). Messages since+1 .. first-1 are lost. */
  first: number | null;
  /** Last seq given out for the topic when history was read. */
  current: number;
  reason: GapReason;
}

export function encodeGap(gap: GapNotice): string {
  return JSON.stringify({ type: 'gap', ...gap });
}

export function encodeRecovered(topic: string, seq: number, count: number): string {
  return JSON.stringify({ type: 'recovered', topic, seq, count });
}
