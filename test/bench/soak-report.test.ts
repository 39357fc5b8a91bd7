// The soak's memory verdict: a heap sawing between major collections is not growth;
// troughs that rise with the churn are.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { churnGrowth, type Sample, type SoakResult } from '../../scripts/bench/lib/soak-report';

const MB = 1048576;
const TOTAL = 100_000;

function run(rssAt: (churned: number) => number): SoakResult {
  const series: Sample[] = [];
  for (let churned = 0; churned <= TOTAL; churned += 2_500) series.push({ t: churned / 500, churned, connections: 2500, workers: [{ pid: 7, rssBytes: rssAt(churned), heapUsedBytes: 0, fds: 0 }] });
  return { series, marks: { start: series[0], middle: null, end: series.at(-1)! } } as unknown as SoakResult;
}

/** 60 MB plus a saw: +1 MB per 2,500 churned, back down every 20,000 (a major collection). */
const saw = (churned: number) => 60 * MB + ((churned % 20_000) / 2_500) * MB;

test('a heap sawing between collections is not growth, though single samples differ by 7 MB', () => {
  const [g] = churnGrowth(run(saw), TOTAL);
  assert.equal(g.rss, 0);
  assert.equal(g.pid, 7);
});

test('troughs rising with the churn are growth', () => {
  const [g] = churnGrowth(run((c) => saw(c) + (c / TOTAL) * 20 * MB), TOTAL);
  assert.ok(g.rss > 5 * MB, `${g.rss / MB} MB`);
});
