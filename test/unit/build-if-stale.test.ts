import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

const REPO = path.join(__dirname, '..', '..', '..');
const SCRIPT = path.join(REPO, 'scripts', 'build-if-stale.js');
const { staleReason } = require(SCRIPT) as { staleReason(root: string): string | undefined };

describe('build only when stale (prepare and prestart)', () => {
  let root: string;
  const at = (rel: string, seconds: number) => fs.utimesSync(path.join(root, rel), seconds, seconds);
  const run = (...args: string[]) => {
    const r = spawnSync(process.execPath, [path.join(root, 'scripts', 'build-if-stale.js'), ...args], { encoding: 'utf8', timeout: 30_000 });
    return { code: r.status, err: r.stderr };
  };

  before(() => {
    // A tree of its own: a copy of the script, one source and its output, and no TypeScript anywhere up the path.
    root = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-build-'));
    for (const dir of ['scripts', 'src', 'dist/src']) fs.mkdirSync(path.join(root, dir), { recursive: true });
    fs.copyFileSync(SCRIPT, path.join(root, 'scripts', 'build-if-stale.js'));
    fs.writeFileSync(path.join(root, 'tsconfig.json'), JSON.stringify({ compilerOptions: { outDir: 'dist' }, include: ['src'] }));
    fs.writeFileSync(path.join(root, 'src', 'a.ts'), 'export const a = 1;\n');
    fs.writeFileSync(path.join(root, 'src', 'types.d.ts'), 'export {};\n');
    fs.writeFileSync(path.join(root, 'dist', 'src', 'a.js'), 'exports.a = 1;\n');
  });
  after(() => fs.rmSync(root, { recursive: true, force: true }));

  it('finds this checkout built by the test run: npm start will not compile', () => {
    assert.equal(staleReason(REPO), undefined);
  });

  it('is up to date when every output is newer than its source and tsconfig.json', () => {
    at('tsconfig.json', 1000);
    at('src/a.ts', 2000);
    at('dist/src/a.js', 3000);
    assert.equal(staleReason(root), undefined);
    assert.equal(run('--check').code, 0);
    assert.equal(run().code, 0, 'nothing to build, no compiler needed');
  });

  it('names the first stale output: an edited source, a newer tsconfig.json, a missing output', () => {
    at('src/a.ts', 4000);
    assert.equal(staleReason(root), `src/a.ts is newer than ${path.join('dist', 'src', 'a.js')}`);
    at('src/a.ts', 2000);
    at('tsconfig.json', 5000);
    assert.match(staleReason(root)!, /^tsconfig\.json is newer than/);
    at('tsconfig.json', 1000);
    fs.writeFileSync(path.join(root, 'src', 'b.ts'), 'export const b = 2;\n');
    assert.equal(staleReason(root), `${path.join('dist', 'src', 'b.js')} is missing`);
    const check = run('--check');
    assert.equal(check.code, 1);
    assert.match(check.err, /the build is stale: dist\/src\/b\.js is missing/);
  });

  it('without TypeScript (npm ci --omit=dev), a stale tree fails with what to do instead', () => {
    const r = run();
    assert.equal(r.code, 1);
    assert.match(r.err, /TypeScript is not installed here \(installed with --omit=dev\?\)/);
    assert.match(r.err, /npm ci \(it builds\), then npm prune --omit=dev/);
  });
});
