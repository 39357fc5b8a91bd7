import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { commandErrorTable } from '../../scripts/protocol-reference';
import { CLOSE_CODE_DOCS, CloseCode, type CloseCodeName } from '../../src/protocol/close-codes';

const readme = () => fs.readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');

describe('README protocol reference', () => {
  it('carries the command error table (regenerate with node dist/scripts/protocol-reference.js --write)', () => {
    assert.ok(readme().includes(commandErrorTable()), 'README.md command error table is out of date with src/protocol/command-errors.ts');
  });

  it('lists every close code with its reconnect meaning', () => {
    const text = readme();
    for (const name of Object.keys(CloseCode) as CloseCodeName[]) {
      const row = text.split('\n').find((line) => line.startsWith(`| ${CloseCode[name]} |`));
      assert.ok(row, `close code ${CloseCode[name]} (${name}) missing from the README table`);
      assert.match(row!, CLOSE_CODE_DOCS[name].reconnect ? /\| yes/ : /\| (no|after)/, `${CloseCode[name]}: ${row}`);
    }
  });
});
