import { isValidTopic } from '../protocol/topics';

/**
 * Which topics keep a history, and how much of it. A rule names a topic pattern
 * (`*` matches any run of characters) with a length and an age bound; the first
 * matching rule wins. Topics no rule matches keep no history: their messages are
 * delivered live only (at most once), exactly as before history existed.
 */

export interface HistoryRule {
  pattern: string;
  /** Entries kept per topic (approximately: Redis trims whole stream nodes). */
  maxLength: number;
  /** Entries older than this are trimmed; 0 keeps them until maxLength pushes them out. */
  maxAgeSeconds: number;
}

const PATTERN = /^[A-Za-z0-9_.:*-]{1,128}$/;
const MAX_LENGTH = 10_000_000;
const MAX_AGE = 365 * 86_400;

/**
 * Parses the compact form used in HERALD_HISTORY:
 *   "broadcast=1000/300,user:*=100/60"  (pattern=maxLength/maxAgeSeconds, comma-separated)
 * Throws with a reason naming the bad rule.
 */
export function parseHistoryRules(text: string): HistoryRule[] {
  if (text.trim() === '') return [];
  return text.split(',').map((part) => {
    const m = /^\s*([^=\s]+)=(\d+)\/(\d+)\s*$/.exec(part);
    if (!m) throw new Error(`history rule "${part}" must look like pattern=maxLength/maxAgeSeconds`);
    return { pattern: m[1], maxLength: Number(m[2]), maxAgeSeconds: Number(m[3]) };
  });
}

/** Throws a reason when `value` is not a valid list of rules (convict validator). */
export function validateHistoryRules(value: unknown): void {
  if (!Array.isArray(value)) throw new Error('must be a list of {pattern, maxLength, maxAgeSeconds} or "pattern=maxLength/maxAgeSeconds,..."');
  for (const rule of value as Partial<HistoryRule>[]) {
    const keys = Object.keys(rule ?? {}).sort().join(',');
    if (keys !== 'maxAgeSeconds,maxLength,pattern') throw new Error(`rule ${JSON.stringify(rule)} must have exactly pattern, maxLength, maxAgeSeconds`);
    if (typeof rule.pattern !== 'string' || !PATTERN.test(rule.pattern)) throw new Error(`pattern "${rule.pattern}" must be 1 to 128 characters of [A-Za-z0-9_.:-] and *`);
    if (!Number.isInteger(rule.maxLength) || rule.maxLength! < 1 || rule.maxLength! > MAX_LENGTH) throw new Error(`maxLength of "${rule.pattern}" must be an integer from 1 to ${MAX_LENGTH}`);
    if (!Number.isInteger(rule.maxAgeSeconds) || rule.maxAgeSeconds! < 0 || rule.maxAgeSeconds! > MAX_AGE) throw new Error(`maxAgeSeconds of "${rule.pattern}" must be an integer from 0 to ${MAX_AGE}`);
  }
}

function toRegExp(pattern: string): RegExp {
  const body = pattern.split('*').map((s) => s.replace(/[.\\^$+?()[\]{}|-]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}

/** Looks up the rule of a topic; results are memoised because topics repeat on every publish. */
export class HistoryRules {
  private readonly compiled: { rule: HistoryRule; re: RegExp }[];
  private readonly memo = new Map<string, HistoryRule | null>();

  constructor(readonly list: readonly HistoryRule[]) {
    this.compiled = list.map((rule) => ({ rule, re: toRegExp(rule.pattern) }));
  }

  get enabled(): boolean {
    return this.compiled.length > 0;
  }

  ruleFor(topic: string): HistoryRule | undefined {
    let hit = this.memo.get(topic);
    if (hit === undefined) {
      // Internal topics (control, outside the topic alphabet) never have history, whatever the patterns.
      hit = isValidTopic(topic) ? this.compiled.find((c) => c.re.test(topic))?.rule ?? null : null;
      // Topic names are client-chosen; keep the memo from growing without bound.
      if (this.memo.size > 100_000) this.memo.clear();
      this.memo.set(topic, hit);
    }
    return hit ?? undefined;
  }
}
