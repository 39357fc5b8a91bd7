// Command lines are parsed by node:util parseArgs: every option by name, --opt=value,
// positionals where allowed, and a clear error naming the option otherwise.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { UsageError } from '../../scripts/lib/cli';
import { parseLoadArgs } from '../../scripts/loadtest/options';
import { parseCompareArgs } from '../../scripts/bench/compare';

test('load client: flags, --opt=value, positional URLs and source ranges', () => {
  const o = parseLoadArgs(['-c', '2500', '--rate=800', '--source-ips', '127.0.0.2-127.0.0.4,127.0.1.9', '--duration', '0',
    '--publish-via', 'redis://127.0.0.1:6400', '--publish-count', '3', '-q', 'ws://127.0.0.1:9000/ws', '--url', 'ws://127.0.0.1:9001/ws']);
  assert.equal(o.connections, 2500);
  assert.equal(o.rate, 800);
  assert.deepEqual(o.sourceIps, ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.1.9']);
  assert.equal(o.duration, 0);
  assert.equal(o.publishCount, 3);
  assert.equal(o.quiet, true);
  assert.deepEqual(o.urls, ['ws://127.0.0.1:9001/ws', 'ws://127.0.0.1:9000/ws']);
  assert.deepEqual(parseLoadArgs([]).urls, ['ws://127.0.0.1:8080/ws']);
});

test('load client: mistakes are UsageErrors that name the option', () => {
  const bad: [string[], RegExp][] = [
    [['--connections', '0'], /--connections must be an integer >= 1, got "0"/],
    [['--per-process', '30000'], /--per-process must be an integer 1\.\.19000/],
    [['--rate'], /--rate/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--protocol', 'mqtt'], /--protocol must be one of ws, socketio/],
    [['--publish-count', '2'], /--publish-count needs --publish-via/],
    [['http://127.0.0.1:8080/ws'], /only ws:\/\/ and wss:\/\/ URLs/],
    [['--ca', '/nonexistent.pem'], /--ca: no such file/],
  ];
  for (const [argv, re] of bad) assert.throws(() => parseLoadArgs(argv), (e: Error) => e instanceof UsageError && re.test(e.message), argv.join(' '));
});

test('bench:compare: lists, numbers and the scheduling mode', () => {
  const a = parseCompareArgs(['--connections', '500,1000', '--servers', 'herald,ws', '--idle', '1.5', '--autogroup', 'off']);
  assert.deepEqual(a.connections, [500, 1000]);
  assert.deepEqual(a.servers, ['herald', 'ws']);
  assert.equal(a.scenario.idleMs, 1500);
  assert.equal(a.autogroup, 'off');
  assert.throws(() => parseCompareArgs(['--servers', 'nginx']), /unknown server nginx/);
  assert.throws(() => parseCompareArgs(['--autogroup', 'maybe']), /--autogroup must be one of keep, off/);
});
