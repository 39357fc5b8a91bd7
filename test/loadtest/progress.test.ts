// Progress output: the terminal bar is cleared before any other line and drawn again
// after it; plain lines come once per interval; the rate is measured per client
// process on its own clock, so it neither reads 0 nor doubles.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Progress } from '../../scripts/loadtest/coordinator';
import { ProgressDisplay } from '../../scripts/loadtest/progress-display';
import { RateMeter } from '../../scripts/loadtest/rate-meter';

const p = (connected: number, elapsedMs: number, rate = 0): Progress => ({
  target: 100, connected, pending: 0, started: connected, failed: 0, dropped: 0, errors: 0, messages: 0, settled: false, elapsedMs, rate,
});

function sink(isTTY: boolean): { out: { isTTY: boolean; write(s: string): void }; text: () => string } {
  const parts: string[] = [];
  return { out: { isTTY, write: (s: string) => void parts.push(s) }, text: () => parts.join('') };
}

test('on a terminal: a line written while the bar shows clears it first and redraws it after', () => {
  const s = sink(true);
  const d = new ProgressDisplay(s.out, 2000);
  d.update(p(40, 1000, 2000));
  d.log('published seq=1');
  d.end();
  const bar = s.text().split('\r')[1];
  assert.match(bar, /^\[#+\.+\] 40\.0% 40\/100 connected .*rate=2000\/s/);
  assert.equal(s.text(), `\r${bar}\r\x1b[Kpublished seq=1\n${bar.replace(/\x1b\[K$/, '')}\r\x1b[K`);
});

test('not on a terminal: one plain line per interval, other lines as they come', () => {
  const s = sink(false);
  const d = new ProgressDisplay(s.out, 2000);
  for (let ms = 0; ms <= 4500; ms += 250) d.update(p(ms / 50, ms, 1234.4));
  d.log('client memory: 1500 B RSS per idle connection');
  const lines = s.text().trim().split('\n');
  assert.deepEqual(lines.map((l) => l.split(' ')[0]), ['0/100', '40/100', '80/100', 'client']);
  assert.match(lines[1], /rate=1234\/s/);
  assert.doesNotMatch(s.text(), /\r|\x1b/);
});

test('quiet: nothing at all', () => {
  const s = sink(true);
  const d = new ProgressDisplay(s.out, 2000, true);
  d.update(p(1, 100));
  d.end();
  assert.equal(s.text(), '');
});

test('rate meter: opens per second over about the last second, from irregular samples', () => {
  const m = new RateMeter(1000);
  assert.equal(m.sample(0, 0), 0);
  // 2,000 per second, sampled every 200 ms with a late sample in between
  let last = 0;
  for (const ms of [200, 400, 650, 800, 1000, 1200, 1400, 1600]) last = m.sample(ms, ms * 2);
  assert.equal(last, 2000);
  // the ramp ends: the rate falls to 0 once the window has passed
  for (const ms of [1800, 2000, 2200, 2400, 2600, 2800]) last = m.sample(ms, 3200);
  assert.equal(last, 0);
});
