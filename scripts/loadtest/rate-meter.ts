// Events per second over about the last second, from a cumulative count sampled
// now and then. Each client process measures its own connect rate on its own
// clock: a rate the coordinator derived from counts arriving every 200 ms would
// alias against its own 250 ms sampling (it showed 0/s, or 3,248/s for --rate 2000).
export class RateMeter {
  private readonly samples: { ms: number; count: number }[] = [];

  constructor(private readonly windowMs = 1000) {}

  sample(ms: number, count: number): number {
    const s = this.samples;
    s.push({ ms, count });
    // Keep the newest sample at least windowMs old as the start of the window.
    while (s.length > 2 && ms - s[1].ms >= this.windowMs) s.shift();
    const first = s[0];
    return ms > first.ms ? ((count - first.count) * 1000) / (ms - first.ms) : 0;
  }
}
