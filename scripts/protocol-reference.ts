/**
 * The README's table of command error codes, generated from src/protocol/command-errors.ts:
 *   node dist/scripts/protocol-reference.js            print it
 *   node dist/scripts/protocol-reference.js --write    rewrite it in README.md between the markers
 * test/unit/readme-protocol.test.ts checks that README.md carries this exact table.
 */
import { COMMAND_ERROR_DOCS, CommandErrorCode, type CommandErrorName } from '../src/protocol/command-errors';
import { parseCli, parseOrExit } from './lib/cli';
import { printOrWriteSection } from './lib/readme-section';

const START = '<!-- command-errors:start -->';
const END = '<!-- command-errors:end -->';

export function commandErrorTable(): string {
  const rows = (Object.keys(CommandErrorCode) as CommandErrorName[]).map((name) => {
    const { retry, meaning } = COMMAND_ERROR_DOCS[name];
    return `| \`${CommandErrorCode[name]}\` | ${retry} | ${meaning.replace(/\|/g, '\\|')} |`;
  });
  return ['| code | retry? | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

const USAGE = `usage: node dist/scripts/protocol-reference.js [--write]
  prints the README's command error table; --write puts it into README.md between the markers`;

if (require.main === module) {
  parseOrExit('protocol-reference', () => parseCli(process.argv.slice(2), { write: { type: 'boolean' } }, USAGE));
  printOrWriteSection(START, END, commandErrorTable());
}
