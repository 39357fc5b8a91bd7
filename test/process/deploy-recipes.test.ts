import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { CONFIG_DIR, describeSchema } from '../../src/config';
import { trackChild } from '../../scripts/harness/children';
import { freePort, waitFor } from '../../scripts/harness/ports';
import { RedisServer } from '../../scripts/harness/redis-server';

const run = promisify(execFile);
const REPO = path.join(__dirname, '..', '..', '..');
const UNIT = path.join(REPO, 'scripts', 'herald.service');
const DOCKERFILE = path.join(REPO, 'scripts', 'container', 'Dockerfile');
const PACKAGE = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string>; engines: { node: string } };
const START_FILE = /^node (\S+)$/.exec(PACKAGE.scripts.start)![1];

/** `Key=value` lines of a unit file section (the last one wins, as in systemd). */
function unitKeys(text: string): Map<string, string> {
  const keys = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^([A-Za-z]+)=(.*)$/.exec(line);
    if (m) keys.set(m[1], m[2]);
  }
  return keys;
}

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions per stage (continuation lines joined, comments dropped). */
function dockerStages(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const line of text.replace(/\\\n\s*/g, '').split('\n')) {
    const m = /^([A-Z]+)\s+(.*)$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === 'FROM') stages.push([]);
    stages[stages.length - 1]?.push({ op: m[1], args: m[2] });
  }
  return stages;
}

/** COPY's options, sources and destination. */
function copyParts(args: string): { from?: string; sources: string[]; dest: string } {
  const words = args.split(/\s+/);
  const from = words.find((w) => w.startsWith('--from='))?.slice('--from='.length);
  const paths = words.filter((w) => !w.startsWith('--'));
  return { from, sources: paths.slice(0, -1), dest: paths[paths.length - 1] };
}

describe('scripts/herald.service', () => {
  const unit = fs.readFileSync(UNIT, 'utf8');
  const keys = unitKeys(unit);

  it('passes systemd-analyze verify without a warning', () => {
    const r = spawnSync('systemd-analyze', ['verify', UNIT], { encoding: 'utf8', timeout: 60_000 });
    assert.ok(!r.error, `systemd-analyze is missing (.ci/run installs Debian's systemd package): ${r.error?.message}`);
    // Only lines about this unit count: a fresh systemd may also comment on units it ships.
    assert.deepEqual(r.stderr.split('\n').filter((l) => /herald/.test(l)), [], 'no warning about the unit');
    assert.equal(r.status, 0, r.stderr);
  });

  it('starts what npm start starts, reloads with SIGHUP and stops within herald\'s own drain', () => {
    assert.match(keys.get('ExecStart')!, new RegExp(` ${START_FILE.replace(/\./g, '\\.')}$`));
    assert.ok(fs.existsSync(path.join(REPO, START_FILE)), `${START_FILE} is built`);
    assert.equal(keys.get('ExecReload'), '/bin/kill -HUP $MAINPID');
    assert.equal(keys.get('KillSignal'), 'SIGTERM');
    assert.equal(keys.get('KillMode'), 'mixed', 'SIGTERM to the primary only; it stops its workers');
    const drain = describeSchema().find((r) => r.key === 'shutdown.timeoutSeconds')!.default as number;
    assert.ok(Number(keys.get('TimeoutStopSec')) > drain, `TimeoutStopSec covers shutdown.timeoutSeconds (${drain})`);
    assert.equal(keys.get('RestartPreventExitStatus'), '78', 'an invalid configuration is not restarted in a loop');
    assert.equal(keys.get('Restart'), 'on-failure');
    assert.ok(Number(keys.get('LimitNOFILE')) >= 65536);
    assert.equal(keys.get('User'), 'herald');
    assert.ok(keys.get('WorkingDirectory') && keys.get('EnvironmentFile'));
  });
});

describe('scripts/container/Dockerfile (no Docker engine here: checked, and its runtime stage assembled and started)', () => {
  const stages = dockerStages(fs.readFileSync(DOCKERFILE, 'utf8'));
  const [build, runtime] = stages;
  const ignored = fs.readFileSync(`${DOCKERFILE}.dockerignore`, 'utf8').split('\n').filter((l) => l && !l.startsWith('#'));
  let redis: RedisServer;
  let tree: string;

  before(async () => {
    redis = await new RedisServer().start();
  });
  after(async () => {
    await redis?.stop();
    if (tree) fs.rmSync(tree, { recursive: true, force: true });
  });

  it('has a build and a runtime stage on the Node major of package.json', () => {
    assert.equal(stages.length, 2);
    const major = /^>=(\d+)/.exec(PACKAGE.engines.node)![1];
    for (const stage of stages) assert.match(stage[0].args, new RegExp(`^node:${major}-bookworm-slim\\b`));
  });

  it('copies files that exist and are not ignored, and runs npm scripts that exist', () => {
    for (const stage of stages) {
      for (const { op, args } of stage) {
        if (op === 'COPY' && !copyParts(args).from) {
          for (const src of copyParts(args).sources) {
            assert.ok(fs.existsSync(path.join(REPO, src)), `${src} exists`);
            assert.ok(!ignored.some((i) => src === i || src.startsWith(`${i}/`)), `${src} is not in the .dockerignore`);
          }
        }
        for (const m of args.matchAll(/npm run (\S+)/g)) assert.ok(PACKAGE.scripts[m[1]], `npm run ${m[1]} exists`);
      }
    }
    const tsconfig = JSON.parse(fs.readFileSync(path.join(REPO, 'tsconfig.json'), 'utf8')) as { include: string[] };
    const copied = build.filter((i) => i.op === 'COPY').flatMap((i) => copyParts(i.args).sources);
    for (const dir of tsconfig.include) assert.ok(copied.includes(dir), `the build stage copies ${dir} (tsconfig.json compiles it)`);
  });

  it('runs the built tree the way npm start does, with the files herald reads at run time', () => {
    const cmd = JSON.parse(runtime.find((i) => i.op === 'CMD')!.args) as string[];
    assert.deepEqual(cmd, ['node', START_FILE]);
    const copied = runtime.filter((i) => i.op === 'COPY').flatMap((i) => copyParts(i.args).sources.map((s) => s.replace(/^\/opt\/herald\//, '')));
    for (const file of [CONFIG_DIR, path.join(REPO, 'scripts', 'publish')]) {
      assert.ok(copied.includes(path.relative(REPO, file)), `runtime stage copies ${path.relative(REPO, file)}`);
    }
  });

  it('its runtime stage, assembled from this checkout, starts herald, passes its HEALTHCHECK, publishes with history and drains', async () => {
    // The COPY lines of the runtime stage, applied to a temporary folder (node_modules linked: only its size differs).
    tree = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-container-'));
    for (const { op, args } of runtime) {
      if (op !== 'COPY') continue;
      const { sources, dest } = copyParts(args);
      for (const src of sources) {
        const rel = src.replace(/^\/opt\/herald\//, '');
        const target = path.join(tree, dest.endsWith('/') ? path.join(dest, path.basename(rel)) : dest);
        fs.mkdirSync(path.dirname(target), { recursive: true });
        if (rel === 'node_modules') fs.symlinkSync(path.join(REPO, rel), target);
        else fs.cpSync(path.join(REPO, rel), target, { recursive: true });
      }
    }
    const env: Record<string, string> = {};
    for (const { args } of runtime.filter((i) => i.op === 'ENV')) {
      const [k, v] = args.split('=');
      env[k] = v;
    }
    assert.equal(env.NODE_ENV, 'production');
    const adminPort = await freePort();
    Object.assign(env, {
      PATH: process.env.PATH!,
      HERALD_REDIS_URL: redis.url,
      HERALD_HISTORY: 'broadcast=100/60',
      HERALD_HOST: '127.0.0.1',
      HERALD_PORT: String(await freePort()),
      HERALD_ADMIN_PORT: String(adminPort),
      HERALD_WORKERS: '1',
    });
    const cmd = JSON.parse(runtime.find((i) => i.op === 'CMD')!.args) as string[];
    const herald = trackChild(spawn(cmd[0], cmd.slice(1), { cwd: tree, env, stdio: ['ignore', 'pipe', 'pipe'] }));
    let output = '';
    herald.stdout!.on('data', (d: Buffer) => (output += d.toString()));
    herald.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => herald.once('exit', resolve));
    try {
      const health = JSON.parse(/CMD (\[.*\])$/.exec(runtime.find((i) => i.op === 'HEALTHCHECK')!.args)![1]) as string[];
      await waitFor('the HEALTHCHECK command passes', () => {
        if (herald.exitCode !== null) throw new Error(`herald exited: ${output}`);
        return spawnSync(health[0], health.slice(1), { cwd: tree, env, timeout: 5_000 }).status === 0;
      }, 30_000, 200);
      const { stdout } = await run(path.join(tree, 'scripts', 'publish'), ['--message', 'from the image'], { cwd: tree, env });
      assert.match(stdout, /with seq 1\b/);
      const res = await fetch(`http://127.0.0.1:${adminPort}/publish?topic=broadcast`, { method: 'POST', body: 'via admin' });
      assert.equal(res.status, 202, 'herald itself loads the Lua script from its tree');
      const client = redis.client();
      try {
        assert.equal(await client.xlen('herald:{broadcast}:history'), 2);
      } finally {
        client.disconnect();
      }
    } finally {
      herald.kill('SIGTERM');
    }
    assert.equal(await exited, 0, output);
  });
});
