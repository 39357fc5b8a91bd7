/**
 * The README's table of command error codes, generated from src/protocol/command-errors.ts:
 *   node dist/scripts/protocol-reference.js            print it
 *   node dist/scripts/protocol-reference.js --write    rewrite it in README.md between the markers
 * test/unit/readme-protocol.test.ts checks that README.md carries this exact table.
 */
import fs from 'node:fs';
import path from 'node:path';
import { COMMAND_ERROR_DOCS, CommandErrorCode, type CommandErrorName } from '../src/protocol/command-errors';

const START = '<!-- command-errors:start -->';
const END = '<!-- command-errors:end -->';

export function commandErrorTable(): string {
  const rows = (Object.keys(CommandErrorCode) as CommandErrorName[]).map((name) => {
    const { retry, meaning } = COMMAND_ERROR_DOCS[name];
    return `| \`${CommandErrorCode[name]}\` | ${retry} | ${meaning.replace(/\|/g, '\\|')} |`;
  });
  return ['| code | retry? | meaning |', '| --- | --- | --- |', ...rows].join('\n');
}

if (require.main === module) {
  if (process.argv.includes('--write')) {
    const readme = path.join(__dirname, '..', '..', 'README.md');
    const text = fs.readFileSync(readme, 'utf8');
    const from = text.indexOf(START);
    const to = text.indexOf(END);
    if (from < 0 || to < from) throw new Error(`README.md lacks the ${START} ... ${END} markers`);
    fs.writeFileSync(readme, `${text.slice(0, from + START.length)}\n${commandErrorTable()}\n${text.slice(to)}`);
  } else {
    process.stdout.write(`${commandErrorTable()}\n`);
  }
}
