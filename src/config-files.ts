import fs from 'node:fs';

/**
 * Reading configuration files and environment values before the schema sees
 * them, so that an error names the file (and the line) or the variable and its
 * value: convict's own messages say neither.
 */

/** Raised for a configuration problem a user can fix; the primary exits 78 on it. */
export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Line and column (1-based) of a character offset, for JSON errors. */
function lineAndColumn(text: string, offset: number): string {
  const before = text.slice(0, offset).split('\n');
  return `line ${before.length}, column ${before[before.length - 1].length + 1}`;
}

/** Parses one JSON config file; an empty file is an empty object (as convict allows). */
export function readConfigFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`${file}: cannot read: ${(err as Error).message}`);
  }
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const message = (err as Error).message;
    const at = /at position (\d+)/.exec(message);
    const where = at ? ` at ${lineAndColumn(text, Number(at[1]))}` : '';
    throw new ConfigError(`${file}: invalid JSON${where}: ${message.replace(/ in JSON at position \d+.*$/, '')}`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new ConfigError(`${file}: must hold a JSON object of settings`);
  return value as Record<string, unknown>;
}

/** What the schema declares: each key ("a.b" form) with the type of its default. */
export type SchemaTypes = ReadonlyMap<string, string>;

const WHOLE_NUMBER = /^\s*-?\d+\s*$/;

/**
 * Checks one file's settings against the schema, so the error names the file:
 * an undeclared key, or a number written as something else. The values
 * themselves are validated later, with everything merged.
 */
export function checkFileKeys(file: string, value: Record<string, unknown>, types: SchemaTypes, prefix = ''): void {
  for (const [name, child] of Object.entries(value)) {
    const key = prefix + name;
    const type = types.get(key);
    if (type === 'number' && !(typeof child === 'number' || (typeof child === 'string' && WHOLE_NUMBER.test(child)))) {
      throw new ConfigError(`${file}: ${key} must be a number: value was ${JSON.stringify(child)}`);
    }
    if (type !== undefined) continue;
    const isBranch = [...types.keys()].some((k) => k.startsWith(`${key}.`));
    if (!isBranch) throw new ConfigError(`${file}: "${key}" is not a configuration key (see the README's configuration table)`);
    if (!child || typeof child !== 'object' || Array.isArray(child)) throw new ConfigError(`${file}: ${key} must be an object of settings: value was ${JSON.stringify(child)}`);
    checkFileKeys(file, child as Record<string, unknown>, types, `${key}.`);
  }
}

/**
 * Numbers from environment variables must be whole numbers as written:
 * convict would read "abc" as NaN (reported without the value) and "80abc" as 80.
 */
export function checkNumericEnv(env: NodeJS.ProcessEnv, numericKeys: { key: string; env: string }[]): void {
  for (const { key, env: name } of numericKeys) {
    const raw = env[name];
    if (raw !== undefined && !WHOLE_NUMBER.test(raw)) {
      throw new ConfigError(`${key}: ${name} must be a whole number: value was ${JSON.stringify(raw)}`);
    }
  }
}
