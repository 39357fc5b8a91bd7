import fs from 'node:fs';
import path from 'node:path';

/** README.md of the checkout (scripts run from dist/scripts/ and dist/scripts/lib/). */
export const README = path.join(__dirname, '..', '..', '..', 'README.md');

/**
 * For the README's generated tables: prints `body`, or with --write replaces
 * what README.md holds between the two markers with it.
 */
export function printOrWriteSection(start: string, end: string, body: string, argv = process.argv): void {
  if (!argv.includes('--write')) return void process.stdout.write(`${body}\n`);
  const text = fs.readFileSync(README, 'utf8');
  const from = text.indexOf(start);
  const to = text.indexOf(end);
  if (from < 0 || to < from) throw new Error(`README.md lacks the ${start} ... ${end} markers`);
  fs.writeFileSync(README, `${text.slice(0, from + start.length)}\n${body}\n${text.slice(to)}`);
}
