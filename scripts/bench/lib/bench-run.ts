/**
 * The frame of a small benchmark: it holds the bench lock, stops by itself
 * (hard timeout), and kills every process group it started on any way out
 * (normal end, failure, Ctrl-C, SIGTERM, the timeout).
 */
import fs from 'node:fs';
import path from 'node:path';
import { acquireBenchLock, type HeldLock } from './bench-lock';
import { killAllGroups } from './process-groups';

export const log = (s: string): void => void process.stderr.write(`[bench] ${s}\n`);

export async function runBench(name: string, timeoutS: number, body: () => Promise<void>): Promise<void> {
  let lock: HeldLock | undefined;
  process.on('exit', killAllGroups);
  const abort = (why: string, code: number) => {
    log(`${name}: ${why}; killing everything this run started`);
    killAllGroups();
    lock?.release();
    process.exit(code);
  };
  process.on('SIGINT', () => abort('interrupted (SIGINT)', 130));
  process.on('SIGTERM', () => abort('terminated (SIGTERM)', 143));
  lock = await acquireBenchLock(undefined, (s) => void process.stderr.write(`${s}\n`));
  const hard = setTimeout(() => abort(`hard timeout of ${timeoutS} s reached`, 124), timeoutS * 1000);
  hard.unref();
  try {
    await body();
  } finally {
    clearTimeout(hard);
    killAllGroups();
    lock.release();
  }
}

/** Writes a new dated result file (never overwrites one) and returns its path. */
export function writeResult(dir: string, prefix: string, result: object): string {
  fs.mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 13);
  let file = path.join(dir, `${prefix}-${stamp}.json`);
  for (let n = 2; fs.existsSync(file); n++) file = path.join(dir, `${prefix}-${stamp}-${n}.json`);
  fs.writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}

/** Reads --name value options into `defaults`' types; --help prints `usage`. */
export function parseOptions<T extends Record<string, string | number | boolean>>(argv: string[], defaults: T, usage: string): T {
  const out: Record<string, string | number | boolean> = { ...defaults };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(`${usage}\n`);
      process.exit(0);
    }
    const key = arg.replace(/^--/, '').replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (!arg.startsWith('--') || !(key in defaults)) throw new Error(`unknown option ${arg}\n${usage}`);
    const kind = typeof defaults[key];
    if (kind === 'boolean') out[key] = true;
    else {
      const value = argv[++i];
      if (value === undefined) throw new Error(`${arg} needs a value`);
      if (kind === 'number' && !Number.isFinite(Number(value))) throw new Error(`${arg} must be a number`);
      out[key] = kind === 'number' ? Number(value) : value;
    }
  }
  return out as T;
}
