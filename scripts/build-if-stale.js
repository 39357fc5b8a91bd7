#!/usr/bin/env node
/**
 * Compiles herald only when dist/ is missing or older than a source. It runs
 * at install (`prepare`, so `npm ci` leaves a built tree) and before
 * `npm start` (`prestart`, a few stat calls when nothing changed), so a built
 * tree starts at once and a production box needs no compiler. Plain
 * JavaScript: it must run before anything is compiled.
 *   node scripts/build-if-stale.js          build if stale
 *   node scripts/build-if-stale.js --check  only say whether it is stale (exit 1 when it is)
 *   node scripts/build-if-stale.js --force  build in any case (npm run build)
 * Besides the gateway (tsconfig.json), the client package (herald/client) is built from
 * its own tsconfigs when they exist, into the outputs its package.json exports name.
 */
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

/** Every .ts file (not .d.ts) under `dir`, relative to `root`. */
function sources(root, dir) {
  const out = [];
  let entries = [];
  try {
    entries = fs.readdirSync(path.join(root, dir), { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const rel = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sources(root, rel));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel);
  }
  return out;
}

/** The client package's builds: its tsconfig, and the output whose age stands for the whole build. */
const PACKAGE_BUILDS = [
  { tsconfig: 'src/client/tsconfig.json', output: 'dist/pkg/cjs/client/index.js' },
  { tsconfig: 'src/client/tsconfig.esm.json', output: 'dist/pkg/esm/client/index.js' },
];

/** The client package compiles src/client and what it imports from src/: any newer source there makes it stale. */
function packageStaleReason(root) {
  const builds = PACKAGE_BUILDS.filter((b) => fs.existsSync(path.join(root, b.tsconfig)));
  if (builds.length === 0) return undefined;
  const newest = Math.max(...sources(root, 'src').map((src) => fs.statSync(path.join(root, src)).mtimeMs));
  for (const { output } of builds) {
    if (!fs.existsSync(path.join(root, output))) return `${output} is missing`;
    if (fs.statSync(path.join(root, output)).mtimeMs < newest) return `a source in src/ is newer than ${output}`;
  }
  return undefined;
}

/** Why dist/ is stale (the first reason found), or undefined when every output is newer than its source and tsconfig.json. */
function staleReason(root) {
  return gatewayStaleReason(root) ?? packageStaleReason(root);
}

function gatewayStaleReason(root) {
  const tsconfig = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.json'), 'utf8'));
  const outDir = tsconfig.compilerOptions.outDir;
  if (!fs.existsSync(path.join(root, outDir))) return `${outDir}/ has not been built`;
  const configTime = fs.statSync(path.join(root, 'tsconfig.json')).mtimeMs;
  for (const dir of tsconfig.include) {
    for (const src of sources(root, dir)) {
      const out = path.join(outDir, src.replace(/\.ts$/, '.js'));
      let outTime;
      try {
        outTime = fs.statSync(path.join(root, out)).mtimeMs;
      } catch {
        return `${out} is missing`;
      }
      if (outTime < fs.statSync(path.join(root, src)).mtimeMs) return `${src} is newer than ${out}`;
      if (outTime < configTime) return `tsconfig.json is newer than ${out}`;
    }
  }
  return undefined;
}

function findTsc(root) {
  try {
    return require.resolve('typescript/bin/tsc', { paths: [root] });
  } catch {
    return undefined;
  }
}

function main() {
  const root = path.join(__dirname, '..');
  const reason = process.argv.includes('--force') ? 'asked to' : staleReason(root);
  if (!reason) return 0;
  if (process.argv.includes('--check')) {
    process.stderr.write(`herald: the build is stale: ${reason}\n`);
    return 1;
  }
  const tsc = findTsc(root);
  if (!tsc) {
    process.stderr.write(
      `herald: the build is stale (${reason}) and TypeScript is not installed here (installed with --omit=dev?).\n` +
        'herald: build where the dev dependencies are: npm ci (it builds), then npm prune --omit=dev; see "Deploying" in README.md\n',
    );
    return 1;
  }
  if (reason !== 'asked to') process.stderr.write(`herald: building (${reason})\n`);
  const projects = ['tsconfig.json', ...PACKAGE_BUILDS.map((b) => b.tsconfig).filter((t) => fs.existsSync(path.join(root, t)))];
  for (const project of projects) {
    const status = spawnSync(process.execPath, [tsc, '-p', path.join(root, project)], { stdio: 'inherit' }).status ?? 1;
    if (status !== 0) return status;
  }
  return 0;
}

module.exports = { staleReason };

if (require.main === module) process.exit(main());
