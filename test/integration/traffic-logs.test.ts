import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { HeraldProcess } from '../../scripts/harness/herald-process';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { rawExchange } from '../helpers/raw-http';
import { closeAll, connect, connectMany } from '../../scripts/harness/ws-clients';

type Line = Record<string, unknown> & { level: number; msg: string };
const lines = (output: string): Line[] => output.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Line);
const events = (output: string, event: string) => lines(output).filter((l) => l.event === event);

describe('traffic logs', () => {
  it('at debug: a line per connect, refusal, 404, close (with code and reason), message and publish; a summary per worker', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_LOG_LEVEL: 'debug', HERALD_LOG_SUMMARY_INTERVAL: '1' } }).start();
    try {
      const client = await connect(`${herald.wsUrl}?topics=news`);
      await assert.rejects(connect(`${herald.wsUrl}?topics=bad%20topic`));
      await rawExchange(herald.port, 'GET /nowhere HTTP/1.1\r\nHost: x\r\n\r\n', 500);
      await herald.publish('news', 'hello');
      await waitFor('message received', () => client.messages.length === 1);
      client.ws.close(1000, 'bye');
      await client.closed;
      await waitFor('close line', () => events(herald.output, 'close').length === 1);

      assert.deepEqual(events(herald.output, 'connect').map((l) => [l.level, l.ip, l.topics]), [[20, '127.0.0.1', 1]]);
      assert.deepEqual(events(herald.output, 'refuse').map((l) => [l.status, l.reason ?? l.path]), [[400, 'bad_topics'], [404, '/nowhere']]);
      assert.deepEqual(events(herald.output, 'close').map((l) => [l.code, l.reason]), [[1000, 'bye']]);
      assert.deepEqual(events(herald.output, 'message').map((l) => [l.topic, l.bytes, l.sockets]), [['news', 5, 1]]);
      assert.deepEqual(events(herald.output, 'publish').map((l) => [l.role, l.topic, l.bytes]), [['primary', 'news', 5]]);

      const summary = await waitFor('a summary', () => lines(herald.output).find((l) => l.msg === 'traffic summary' && (l.upgrades as number) > 0));
      assert.equal(summary.level, 30);
      assert.deepEqual(summary.refused, { bad_topics: 1 });
      assert.equal(summary.messagesIn, 1);
      assert.equal(summary.messagesOut, 1);
    } finally {
      await herald.stop();
    }
  });

  it('at debug, at most log.eventsPerSecond lines per kind per second, then how many were left out', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_LOG_LEVEL: 'debug', HERALD_LOG_EVENTS_PER_SECOND: '5' } }).start();
    try {
      const started = Date.now();
      const clients = await connectMany(herald.wsUrl, 60);
      const took = Date.now() - started;
      await sleep(1100);
      clients.push(await connect(herald.wsUrl)); // the first event of a new second reports the skipped ones
      closeAll(clients);
      // Every connect is either written or counted in a `traffic events not logged` line.
      const count = () => {
        const skipped = lines(herald.output).filter((l) => l.msg.startsWith('traffic events not logged'));
        return { written: events(herald.output, 'connect').length, skipped: skipped.reduce((n, l) => n + ((l.skipped as Record<string, number>).connect ?? 0), 0) };
      };
      await waitFor('61 connects written or counted', () => count().written + count().skipped === 61);
      const seconds = Math.ceil(took / 1000) + 2;
      assert.ok(count().written <= 5 * seconds, `${count().written} connect lines in about ${seconds} s`);
      assert.ok(count().skipped > 0);
    } finally {
      await herald.stop();
    }
  });

  it('at info: no traffic lines', async () => {
    const herald = await new HeraldProcess({ env: { HERALD_WORKERS: '1', HERALD_LOG_LEVEL: 'info' } }).start();
    try {
      const client = await connect(herald.wsUrl);
      await herald.publish('broadcast', 'x');
      await waitFor('message', () => client.messages.length === 1);
      client.ws.close();
      await client.closed;
    } finally {
      await herald.stop();
    }
    assert.deepEqual(lines(herald.output).filter((l) => l.event !== undefined), []);
  });
});
