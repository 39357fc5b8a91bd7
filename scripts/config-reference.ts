/**
 * The README's configuration reference, generated from the schema itself:
 *   node dist/scripts/config-reference.js            print it
 *   node dist/scripts/config-reference.js --write    rewrite it in README.md between the markers
 * test/unit/readme-config.test.ts checks that README.md carries this exact table.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describeSchema } from '../src/config';
import { parseCli, parseOrExit } from './lib/cli';

const START = '<!-- config-reference:start -->';
const END = '<!-- config-reference:end -->';

export function configReference(): string {
  const rows = describeSchema().map((r) => {
    const value = typeof r.default === 'string' ? (r.default === '' ? '""' : `\`${r.default}\``) : `\`${JSON.stringify(r.default)}\``;
    return `| \`${r.key}\` | \`${r.env}\` | ${value} | ${r.doc.replace(/\|/g, '\\|')} |`;
  });
  return ['| key | env | default | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

const USAGE = `usage: node dist/scripts/config-reference.js [--write]
  prints the README's configuration table from the schema; --write puts it into README.md between the markers`;

if (require.main === module) {
  const { values } = parseOrExit('config-reference', () => parseCli(process.argv.slice(2), { write: { type: 'boolean' } }, USAGE));
  if (values.write) {
    const readme = path.join(__dirname, '..', '..', 'README.md');
    const text = fs.readFileSync(readme, 'utf8');
    const from = text.indexOf(START);
    const to = text.indexOf(END);
    if (from < 0 || to < from) throw new Error(`README.md lacks the ${START} ... ${END} markers`);
    fs.writeFileSync(readme, `${text.slice(0, from + START.length)}\n${configReference()}\n${text.slice(to)}`);
  } else {
    process.stdout.write(`${configReference()}\n`);
  }
}
