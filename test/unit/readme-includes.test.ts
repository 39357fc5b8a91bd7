import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const REPO = path.join(__dirname, '..', '..', '..');
const INCLUDE = /<!-- include:(\S+) -->\n```[^\n]*\n([\s\S]*?)```\n<!-- include:end -->/g;

describe('README includes', () => {
  it('shows each included file exactly as it is in the repository', () => {
    const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
    const includes = [...readme.matchAll(INCLUDE)];
    assert.ok(includes.length >= 1, 'the README includes scripts/proxy/haproxy-herald.cfg');
    for (const [, file, shown] of includes) {
      assert.equal(shown, fs.readFileSync(path.join(REPO, file), 'utf8'), `README's copy of ${file} differs from the file: copy the file into the README between its include markers`);
    }
  });
});
