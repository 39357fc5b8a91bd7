import type { Broker } from '../broker/broker';
import type { Logger } from '../logger';

/** Wall-clock time in microseconds; performance.now() adds the sub-millisecond part. */
export function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/**
 * The C1M article's scenario: push the server time to every client every N
 * seconds. `t` is stamped once per broadcast, before publishing, so a client's
 * latency includes the whole fan-out; `seq` lets it notice gaps.
 */
export function clockPayload(seq: number, micros = nowMicros()): Buffer {
  return Buffer.from(JSON.stringify({ t: micros, seq, time: new Date(micros / 1000).toISOString() }));
}

export function startClock(opts: { publisher: Pick<Broker, 'publish'>; topic: string; intervalSeconds: number; log: Logger }): () => void {
  let seq = 0;
  const timer = setInterval(() => {
    seq++;
    opts.publisher.publish(opts.topic, clockPayload(seq)).catch((err: Error) => {
      opts.log.warn({ seq, err: err.message }, 'clock tick not published');
    });
  }, opts.intervalSeconds * 1000);
  return () => clearInterval(timer);
}
