import { spawnSync } from 'node:child_process';

/**
 * The README's shell examples as the README test runs them. Every ```sh block
 * is a shell session of its own ("in another shell"), run line by line, in
 * README order; a herald started by one block (`npm start`,
 * `node dist/workers/primary.js`) keeps running for the blocks after it, until
 * another one is started. A trailing `# prints "text"` on a command says what
 * it must print (for a background command, by the end of its block).
 *
 * Marking a new block, with a line just above it:
 * - `<!-- readme-test: skip <reason> -->` skips the whole block with that reason;
 * - `<!-- readme-test: needs `<command>` -->` runs the block against a herald
 *   started by that command (e.g. `npm start`, when the prose says "with herald
 *   running"), starting it unless the running one was started by it.
 * Single lines that cannot run here are listed in SKIPPED_LINES below, each with its reason.
 */

export interface Command {
  /** The command as written (continuation lines and multi-line quotes joined). */
  text: string;
  /** 1-based README line of its first line. */
  line: number;
}

export interface Block {
  /** The heading the block sits under. */
  heading: string;
  line: number;
  commands: Command[];
  /** Set by a `<!-- readme-test: skip ... -->` marker. */
  skip?: string;
  /** Set by a `<!-- readme-test: needs `...` -->` marker: the herald the block runs against. */
  needs?: string;
}

export interface LineRule {
  /** Matches the whole command (trailing comment included). */
  pattern: RegExp;
  reason: string;
  /** Run this instead of skipping (e.g. the part of the line that can run here). */
  instead?: string;
}

/**
 * What cannot run in the test, and why. Kept short on purpose: a new entry
 * needs a reason a reader accepts, and the test fails when an entry matches no
 * README line any more.
 */
export const SKIPPED_LINES: LineRule[] = [
  { pattern: /^npm ci && npm start\b/, instead: 'npm start', reason: 'npm ci would reinstall node_modules, which the test shares with the checkout; .ci/run runs npm ci before the tests' },
  { pattern: /^npm test\b/, reason: 'the suite that runs this test' },
  { pattern: /^npm ci && npm prune --omit=dev/, reason: 'would remove the dev packages (TypeScript, the test runner\'s helpers) from the shared node_modules' },
  { pattern: /^cd \/opt\/herald && npm ci/, reason: 'a system install under /opt (root); the production start it leads to runs from this checkout below' },
  { pattern: /^(useradd|install |systemctl|journalctl)/, reason: 'needs root and systemd as init; the unit is checked by systemd-analyze verify in test/process/deploy-recipes.test.ts' },
  { pattern: /^docker /, reason: 'no Docker engine here; test/process/deploy-recipes.test.ts checks the recipe and starts its runtime stage' },
  { pattern: /^scripts\/tune-linux\.sh (?!--dry-run)/, reason: 'changes this machine\'s kernel settings (root); its plan (--dry-run) runs, and test/unit/kernel-limits.test.ts tests it on copies of /proc/sys' },
  { pattern: /^(npm run bench:|node dist\/scripts\/bench\/)/, reason: 'a benchmark takes the machine for minutes and needs it quiet; test/bench/ runs each one small' },
];

const FENCE = /^```(\S*)\s*$/;
const SKIP_MARKER = /^<!--\s*readme-test:\s*skip\s+(.+?)\s*-->$/;
const NEEDS_MARKER = /^<!--\s*readme-test:\s*needs\s+`(.+)`\s*-->$/;

/** True when bash can parse `text` as complete commands (no open quote, $( or continuation). */
function complete(text: string): boolean {
  if (/\\$/.test(text)) return false;
  return spawnSync('bash', ['-n', '-c', text]).status === 0;
}

export function readmeBlocks(markdown: string): Block[] {
  const lines = markdown.split('\n');
  const blocks: Block[] = [];
  let heading = '';
  for (let i = 0; i < lines.length; i++) {
    const fence = FENCE.exec(lines[i]);
    if (!fence) {
      if (/^#{1,6} /.test(lines[i])) heading = lines[i].replace(/^#+ /, '');
      continue;
    }
    const start = i;
    let end = i + 1;
    while (end < lines.length && !FENCE.test(lines[end])) end++;
    i = end;
    if (fence[1] !== 'sh') continue;
    const above = [lines[start - 1] ?? '', lines[start - 2] ?? ''];
    const marker = above.map((l) => SKIP_MARKER.exec(l)).find(Boolean);
    const needs = above.map((l) => NEEDS_MARKER.exec(l)).find(Boolean);
    const commands: Command[] = [];
    let pending: Command | undefined;
    for (let j = start + 1; j < end; j++) {
      const text = lines[j];
      if (!pending && (text.trim() === '' || text.trim().startsWith('#'))) continue;
      pending = pending ? { text: `${pending.text}\n${text}`, line: pending.line } : { text, line: j + 1 };
      if (complete(pending.text)) {
        commands.push(pending);
        pending = undefined;
      }
    }
    if (pending) commands.push(pending);
    blocks.push({ heading, line: start + 1, commands, ...(marker ? { skip: marker[1] } : {}), ...(needs ? { needs: needs[1] } : {}) });
  }
  return blocks;
}

/** The rule for a command, if it cannot run as written. */
export function ruleFor(command: string): LineRule | undefined {
  return SKIPPED_LINES.find((rule) => rule.pattern.test(command));
}

/** `# prints "text"` at the end of a command: what its output must hold. */
export function expectedOutput(command: string): string | undefined {
  return /#\s*prints\s+"([^"]+)"\s*$/.exec(command)?.[1];
}

/** A command that starts herald: it runs in the background, and the next lines wait until herald is ready. */
export function startsHerald(command: string): boolean {
  return /(^|\s)(npm start|node dist\/workers\/primary\.js)\s*&?\s*(#.*)?$/.test(command);
}

/** The command without a trailing `&` (and comment) when it runs in the background. */
export function backgrounded(command: string): string | undefined {
  const m = /^([\s\S]*[^&])&\s*(#.*)?$/.exec(command);
  return m ? m[1].trim() : undefined;
}
