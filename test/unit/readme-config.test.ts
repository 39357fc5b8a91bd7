import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { configReference } from '../../scripts/config-reference';

describe('README configuration reference', () => {
  it('matches the schema (regenerate with node dist/scripts/config-reference.js)', () => {
    const readme = fs.readFileSync(path.join(__dirname, '..', '..', '..', 'README.md'), 'utf8');
    assert.ok(readme.includes(configReference()), 'README.md configuration table is out of date with src/config.ts');
  });
});
