/** Small helpers every benchmark report uses: medians, ratios, and the date stamp in result file names. */

/** Median of the numbers given (nulls skipped); null when there are none. */
export function median(xs: readonly (number | null)[]): number | null {
  const v = xs.filter((x): x is number => x !== null).sort((p, q) => p - q);
  if (!v.length) return null;
  return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
}

/** "1.23x", or "n/a" without both figures or with a zero below. */
export function ratio(a: number | null | undefined, b: number | null | undefined): string {
  return a != null && b != null && b > 0 ? `${(a / b).toFixed(2)}x` : 'n/a';
}

/** "20261126-2313" from a Date or an ISO string: result files are named by when the run started (UTC). */
export function fileStamp(date: Date | string = new Date()): string {
  return (typeof date === 'string' ? date : date.toISOString()).replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
}
