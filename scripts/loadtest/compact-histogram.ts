// A small log-linear histogram for the client processes. Why not hdr-histogram-js there:
// loading it (WebAssembly build, pako) adds ~16 MB RSS to every process, and a 1M run
// needs 50+ client processes. Precision is ~0.1% (1024 sub-buckets per power of two),
// like HDR with 3 significant digits; the coordinator replays the buckets into HDR.
const SUB = 1024;
const LINEAR = 2 * SUB; // values below this are exact
const MAX_EXP = 32; // up to 2^42 us, far beyond any latency

export class CompactHistogram {
  private counts = new Float64Array(LINEAR + MAX_EXP * SUB);
  total = 0;

  record(v: number): void {
    this.counts[indexOf(v)]++;
    this.total++;
  }

  /** sparse [bucket value, count] pairs for IPC */
  toPairs(): [number, number][] {
    const out: [number, number][] = [];
    const c = this.counts;
    for (let i = 0; i < c.length; i++) if (c[i]) out.push([valueOf(i), c[i]]);
    return out;
  }
}

export function indexOf(value: number): number {
  const v = Math.max(0, Math.floor(value));
  if (v < LINEAR) return v;
  if (v < 0x80000000) {
    // The same as below with integer ops (this runs for every message; log2 and ** do not inline).
    const e = 21 - Math.clz32(v); // 31 - clz32 = floor(log2 v); minus 10
    return LINEAR + (e - 1) * SUB + ((v >>> e) - SUB);
  }
  const e = Math.min(MAX_EXP, Math.floor(Math.log2(v)) - 10); // v / 2^e in [1024, 2048)
  const m = Math.min(LINEAR - 1, Math.floor(v / 2 ** e));
  return LINEAR + (e - 1) * SUB + (m - SUB);
}

/** Midpoint of a bucket, so rounding errs neither high nor low. */
export function valueOf(i: number): number {
  if (i < LINEAR) return i;
  const e = Math.floor((i - LINEAR) / SUB) + 1;
  const m = ((i - LINEAR) % SUB) + SUB;
  return Math.floor(m * 2 ** e + 2 ** (e - 1));
}
