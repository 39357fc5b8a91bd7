import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { after, before, describe, it } from 'node:test';
import { FUZZ_SEED, Rng } from '../helpers/fuzz';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { RawWs, type FrameSpec } from '../helpers/raw-ws';
import { closeAll, connect } from '../../scripts/harness/ws-clients';

/**
 * Every client frame header combination after an upgrade (opcode, FIN, RSV bits, length
 * encoding, masked or not) on its own connection, each with the outcome the README documents:
 * valid frames leave the connection working (a ping right after is answered), protocol errors
 * drop it at once without a close frame (clients see 1006), close frames are answered with a
 * close frame, oversized data frames get 1009, and unmasked frames (which uWS cannot detect)
 * end by the idle timeout at the latest.
 */

const MAX_BYTES = 64;
const IDLE_SECONDS = 8;
const SIZES = [0, 1, 2, 5, 64, 65, 125, 126, 200, 1000];

type Expected = 'works' | 'dropped' | 'close-answered' | 'close-1009' | 'ends';

function expected(spec: Required<Omit<FrameSpec, 'payload'>> & { payload: Buffer }): Expected {
  const { opcode, fin, rsv, mask, length, payload } = spec;
  if (!mask) return 'ends';
  const control = opcode >= 8;
  const known = opcode <= 2 || (opcode >= 8 && opcode <= 10);
  if (rsv !== 0 || !known || opcode === 0) return 'dropped';
  if (control && (!fin || payload.length > 125 || length !== 'shortest')) return 'dropped';
  if (opcode === 8) return 'close-answered';
  if (control) return 'works';
  if (!fin) return 'works'; // the first fragment of a message: a ping may come between fragments
  if (payload.length > MAX_BYTES) return 'close-1009';
  if (opcode === 1 && !isUtf8(payload)) return 'dropped';
  return 'works';
}

/** Sends a ping with a marker and waits for the matching pong: the stream is still read correctly. */
async function answersPing(ws: RawWs): Promise<boolean> {
  const marker = Buffer.from('still-in-sync');
  ws.send({ opcode: 0x9, payload: marker });
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline) {
    if (ws.frames.some((f) => f.opcode === 0xa && f.payload.equals(marker))) return true;
    if (!ws.isOpen) return false;
    await sleep(20);
  }
  return false;
}

async function outcome(ws: RawWs, want: Expected): Promise<string | undefined> {
  const endedWithin = (ms: number) => Promise.race([ws.ended.then(() => true), sleep(ms).then(() => false)]);
  switch (want) {
    case 'works':
      return (await answersPing(ws)) ? undefined : `no pong (close ${ws.closeCode ?? 'none'})`;
    case 'dropped':
      if (!(await endedWithin(3000))) return 'still open';
      return ws.count(0x8) === 0 ? undefined : `close frame ${ws.closeCode}`;
    case 'close-answered':
      if (!(await endedWithin(3000))) return 'still open';
      return ws.count(0x8) === 1 ? undefined : 'no close frame';
    case 'close-1009':
      if (!(await endedWithin(3000))) return 'still open';
      return ws.closeCode === 1009 ? undefined : `close ${ws.closeCode ?? 'none'}`;
    case 'ends':
      return (await endedWithin((IDLE_SECONDS * 2 + 4) * 1000)) ? undefined : 'still open past the idle timeout';
  }
}

describe(`WebSocket frame fuzzing (seed ${FUZZ_SEED})`, () => {
  let herald: HeraldProcess;

  before(async () => {
    herald = await new HeraldProcess({
      env: { HERALD_WORKERS: '2', HERALD_MAX_CLIENT_FRAME_BYTES: String(MAX_BYTES), HERALD_IDLE_TIMEOUT: String(IDLE_SECONDS) },
    }).start();
  });
  after(async () => {
    await herald?.stop();
  });

  it('every opcode, FIN, RSV, length encoding and mask combination gets its documented outcome', { timeout: 120_000 }, async () => {
    const rng = new Rng(FUZZ_SEED + 3);
    const cases: (Required<Omit<FrameSpec, 'payload'>> & { payload: Buffer })[] = [];
    for (let opcode = 0; opcode < 16; opcode++) {
      for (const fin of [true, false]) {
        for (let rsv = 0; rsv < 8; rsv++) {
          for (const length of ['shortest', '16', '64'] as const) {
            const size = rng.pick(SIZES);
            // Text payloads: valid UTF-8 most of the time, random bytes otherwise.
            const payload = opcode === 1 && rng.chance(0.7) ? Buffer.from('é'.repeat(size).slice(0, size)) : rng.bytes(size);
            cases.push({ opcode, fin, rsv, length, mask: true, payload });
            // Unmasked frames all end the same way (uWS misreads them); a sample is enough.
            if (rng.chance(0.1)) cases.push({ opcode, fin, rsv, length, mask: false, payload });
          }
        }
      }
    }
    const bad: string[] = [];
    let next = 0;
    const lane = async () => {
      while (next < cases.length) {
        const spec = cases[next++];
        const want = expected(spec);
        const ws = await RawWs.open(herald.port);
        ws.send(spec);
        const problem = await outcome(ws, want);
        if (problem) bad.push(`${JSON.stringify({ ...spec, payload: spec.payload.length })}: wanted ${want}, got ${problem}`);
        ws.destroy();
      }
    };
    await Promise.all(Array.from({ length: 300 }, lane));
    assert.deepEqual(bad.slice(0, 10), [], `${bad.length} of ${cases.length} frames with the wrong outcome (HERALD_FUZZ_SEED=${FUZZ_SEED})`);

    assert.equal(herald.child.exitCode, null);
    assert.doesNotMatch(herald.output, /worker died|connection handler failed/);
    await waitFor('every fuzz connection accounted for', async () => (await herald.stats()).connections === 0, 20_000);
    const client = await connect(herald.wsUrl);
    await herald.publish('broadcast', 'after the frames');
    await waitFor('delivered', () => client.messages.length === 1);
    closeAll([client]);
  });
});
