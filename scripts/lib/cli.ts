// Command lines of the scripts: node:util parseArgs (strict: unknown options and
// missing values are errors), plus what it leaves to the caller: --help, and
// numbers and lists with their checks. Every error names the option.
import { parseArgs, type ParseArgsConfig } from 'node:util';

export class UsageError extends Error {}

type Options = NonNullable<ParseArgsConfig['options']>;

export interface ParsedCli {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

/**
 * Parses argv against `options` (plus -h/--help, which prints `usage` and exits 0).
 * Throws UsageError with the usage text appended on any mistake.
 */
export function parseCli(argv: string[], options: Options, usage: string, allowPositionals = false): ParsedCli {
  let r: ParsedCli;
  try {
    r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals, strict: true }) as ParsedCli;
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n\n${usage}`);
  }
  if (r.values.help) {
    console.log(usage);
    process.exit(0);
  }
  return r;
}

export interface NumberRule { min?: number; max?: number; integer?: boolean }

/** Runs `parse`; on a UsageError prints it as `<name>: <message>` and exits 64 (EX_USAGE). */
export function parseOrExit<T>(name: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${name}: ${e.message}`);
    process.exit(64);
  }
}

/** The number given for --name, or `dflt` when it was not given. */
export function numberOption(values: ParsedCli['values'], name: string, dflt: number, rule: NumberRule = {}): number {
  const v = values[name];
  if (v === undefined) return dflt;
  return toNumber(`--${name}`, String(v), rule);
}

export function toNumber(what: string, text: string, { min = 0, max = Infinity, integer = false }: NumberRule = {}): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n))) {
    const range = max === Infinity ? `>= ${min}` : `${min}..${max}`;
    throw new UsageError(`${what} must be ${integer ? 'an integer' : 'a number'} ${range}, got "${text}"`);
  }
  return n;
}

/** The string given for --name, or `dflt`. */
export function stringOption<T extends string | null>(values: ParsedCli['values'], name: string, dflt: T): string | T {
  const v = values[name];
  return v === undefined ? dflt : String(v);
}

/** Comma-separated values of --name (or of every --name given when the option is `multiple`). */
export function listOption(values: ParsedCli['values'], name: string, dflt: string[]): string[] {
  const v = values[name];
  if (v === undefined) return dflt;
  const parts = (Array.isArray(v) ? v : [String(v)]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (!parts.length) throw new UsageError(`--${name} needs at least one value`);
  return parts;
}

/** One of `allowed` for --name. */
export function choiceOption<T extends string>(values: ParsedCli['values'], name: string, allowed: readonly T[], dflt: T): T {
  const v = values[name];
  if (v === undefined) return dflt;
  if (!allowed.includes(v as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${v}"`);
  return v as T;
}
