import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { FUZZ_SEED, httpRequest, malformedHttp, Rng } from '../helpers/fuzz';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { waitFor } from '../../scripts/harness/ports';
import { rawExchange, type RawAnswer, type RawOptions } from '../helpers/raw-http';
import { closeAll, connect } from '../../scripts/harness/ws-clients';

/**
 * Thousands of generated requests against both HTTP servers of one herald. Each must be
 * answered with a documented status, or closed, within the servers' timeouts (uWS closes a
 * request it cannot parse only at its ~10 s HTTP timeout; the admin server's headers timeout
 * is 10 s), and herald must stay up with nothing leaked. Inputs come from a seeded generator:
 * HERALD_FUZZ_SEED reproduces a failure.
 */

/** Longest a connection may stay unanswered and open: the servers' 10 s timeouts plus uWS's 4 s timer tick. */
const HELD_LIMIT_MS = 16_000;
const LANES = 500;

/** Runs every request, LANES at a time; returns the ones whose outcome `ok` rejects, with why. */
async function exchangeAll<R extends string | Buffer>(port: number, requests: R[], options: RawOptions, ok: (a: RawAnswer, request: R) => boolean): Promise<string[]> {
  const bad: string[] = [];
  let next = 0;
  const lane = async () => {
    while (next < requests.length) {
      const i = next++;
      const answer = await rawExchange(port, requests[i], HELD_LIMIT_MS, options);
      if (!ok(answer, requests[i])) bad.push(`#${i} ${JSON.stringify(String(requests[i]).slice(0, 160))} -> ${answer.status ?? answer.ended}`);
    }
  };
  await Promise.all(Array.from({ length: LANES }, lane));
  return bad;
}

const GATEWAY_ANSWERS = new Set([101, 400, 404, 426]);

/** A 101 is right only for a GET of /ws with every handshake header as RFC 6455 wants it (checked here independently of herald's code). */
function mayUpgrade(request: string): boolean {
  const [head] = request.split('\r\n\r\n');
  const [line, ...fields] = head.split('\r\n');
  const header = (name: string) => fields.find((f) => f.toLowerCase().startsWith(`${name}:`))?.slice(name.length + 1).trim() ?? '';
  const tokens = (name: string) => header(name).toLowerCase().split(',').map((t) => t.trim());
  const [method, target] = line.split(' ');
  const [path, query = ''] = target.split('?');
  return (
    method === 'GET' &&
    path === '/ws' &&
    !/%(?![0-9A-Fa-f]{2})/.test(query) &&
    tokens('upgrade').includes('websocket') &&
    tokens('connection').includes('upgrade') &&
    /^[A-Za-z0-9+/]{22}==$/.test(header('sec-websocket-key')) &&
    header('sec-websocket-version') === '13'
  );
}
const ADMIN_ANSWERS = new Set([200, 202, 400, 404, 405, 408, 413, 415, 417, 431]);

describe(`HTTP fuzzing of both servers (seed ${FUZZ_SEED})`, () => {
  let herald: HeraldProcess;

  before(async () => {
    herald = await new HeraldProcess({ env: { HERALD_WORKERS: '2', HERALD_MAX_PUBLISH_BYTES: '256' } }).start();
  });
  after(async () => {
    await herald?.stop();
  });

  const stillServing = async () => {
    assert.equal(herald.child.exitCode, null, 'primary still running');
    assert.doesNotMatch(herald.output, /worker died|primary failed|request handler failed|connection handler failed/);
    assert.equal((await herald.health()).status, 200);
    await waitFor('fuzz connections all gone', async () => (await herald.stats()).connections === 0, 20_000);
    const client = await connect(herald.wsUrl);
    assert.equal((await herald.publish('broadcast', 'still here')).status, 202);
    await waitFor('delivered after the fuzz', () => client.messages.length === 1);
    closeAll([client]);
  };

  // One test, all four sets at once: the held connections of each set then share one 10 s wait.
  it('2000 gateway and 1500 admin requests with fuzzed targets, methods and headers, and 300 malformed byte streams to each', { timeout: 120_000 }, async () => {
    const gatewayRequests = Array.from({ length: 2000 }, ((rng) => () => httpRequest(rng, { upgradeBias: true }))(new Rng(FUZZ_SEED)));
    const adminRequests = Array.from({ length: 1500 }, ((rng) => () => httpRequest(rng))(new Rng(FUZZ_SEED + 1)));
    const malformed = Array.from({ length: 300 }, ((rng) => () => malformedHttp(rng))(new Rng(FUZZ_SEED + 2)));
    const sets = await Promise.all([
      // uWS answers a request it can route; it closes an unknown method at once and holds a target
      // that does not start with "/" until its HTTP timeout. Never a status outside the README's table.
      exchangeAll(herald.port, gatewayRequests, { hangUpAfter: (s) => s === 101 || s === 404 }, (a, request) =>
        a.status === undefined ? a.ended === 'closed' : GATEWAY_ANSWERS.has(a.status) && a.ended !== 'timeout' && (a.status !== 101 || mayUpgrade(request)),
      ),
      exchangeAll(herald.adminPort, adminRequests, { hangUpAfter: () => true }, (a) => a.status !== undefined && ADMIN_ANSWERS.has(a.status)),
      // Broken framing may get an answer or just a close, but never a 500 and never an endless wait.
      ...[herald.port, herald.adminPort].map((port) => exchangeAll(port, malformed, { hangUpAfter: () => true }, (a) => a.ended !== 'timeout' && a.status !== 500)),
    ]);
    ['gateway', 'admin', 'gateway (malformed)', 'admin (malformed)'].forEach((name, i) => {
      assert.deepEqual(sets[i].slice(0, 10), [], `${name}: ${sets[i].length} bad outcomes (HERALD_FUZZ_SEED=${FUZZ_SEED})`);
    });
    await stillServing();
  });
});
