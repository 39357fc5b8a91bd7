/**
 * The frame of the small benchmarks (commands, presence): the shared run harness
 * (bench lock, hard timeout, every process group killed on any way out), a
 * command line from a table of defaults, and a new dated result file.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseCli, parseOrExit, toNumber } from '../../lib/cli';
import { runBenchmark } from './bench-run';
import { killAllGroups } from './process-groups';
import { fileStamp } from './figures';

export const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);

/** Runs `body` under the benchmark lock and hard timeout; throws what `body` threw. */
export async function runBench(name: string, timeoutS: number, body: () => Promise<void>): Promise<void> {
  let failure: string | undefined;
  await runBenchmark({
    timeoutS,
    log,
    run: body,
    teardown: async () => killAllGroups(),
    fail: (why) => (failure = why),
    write: () => {},
  });
  if (failure !== undefined) throw new Error(`${name}: ${failure}`);
}

/** Writes a new dated result file (never overwrites one) and returns its path. */
export function writeResult(dir: string, prefix: string, result: object): string {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = fileStamp();
  let file = path.join(dir, `${prefix}-${stamp}.json`);
  for (let n = 2; fs.existsSync(file); n++) file = path.join(dir, `${prefix}-${stamp}-${n}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/** The command line as `defaults`' keys in kebab case (--per-second for perSecond), typed like the defaults; --help prints `usage`. */
export function parseOptions<T extends Record<string, string | number | boolean>>(argv: string[], defaults: T, usage: string): T {
  const options = Object.fromEntries(Object.entries(defaults).map(([key, value]) => [kebab(key), { type: typeof value === 'boolean' ? ('boolean' as const) : ('string' as const) }]));
  const { values } = parseOrExit('bench', () => parseCli(argv, options, usage));
  const out: Record<string, string | number | boolean> = { ...defaults };
  for (const [key, dflt] of Object.entries(defaults)) {
    const given = values[kebab(key)];
    if (given === undefined) continue;
    out[key] = typeof dflt === 'number' ? parseOrExit('bench', () => toNumber(`--${kebab(key)}`, String(given))) : (given as string | boolean);
  }
  return out as T;
}
