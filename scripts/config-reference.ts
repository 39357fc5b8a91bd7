/**
 * The README's configuration reference, generated from the schema itself:
 *   node dist/scripts/config-reference.js            print it
 *   node dist/scripts/config-reference.js --write    rewrite it in README.md between the markers
 * test/unit/readme-config.test.ts checks that README.md carries this exact table.
 */
import { describeSchema } from '../src/config';
import { parseCli, parseOrExit } from './lib/cli';
import { printOrWriteSection } from './lib/readme-section';

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
  parseOrExit('config-reference', () => parseCli(process.argv.slice(2), { write: { type: 'boolean' } }, USAGE));
  printOrWriteSection(START, END, configReference());
}
