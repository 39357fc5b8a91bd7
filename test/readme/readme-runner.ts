/**
 * Runs the README's shell blocks (see readme-blocks.ts) and prints one JSON
 * result per command on stdout. Started by test/process/readme-commands.test.ts
 * inside a private network namespace (unshare), so the README's own ports
 * (8080, 9090, Redis on 6379) are free and no machine service is reached:
 * every command runs exactly as written.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RedisServer } from '../../scripts/harness/redis-server';
import { sleep, waitFor } from '../../scripts/harness/ports';
import { backgrounded, expectedOutput, readmeBlocks, ruleFor, startsHerald, type Block, type Command } from './readme-blocks';

const REPO = path.join(__dirname, '..', '..', '..');
const COMMAND_TIMEOUT_MS = 180_000;

export interface CommandResult {
  line: number;
  heading: string;
  command: string;
  outcome: 'passed' | 'failed' | 'skipped';
  reason?: string;
  /** The README rule that made it skipped or replaced (its pattern's source). */
  rule?: string;
  detail?: string;
  /** A herald started for a `readme-test: needs` marker, not a README command. */
  marker?: boolean;
}

const home = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-readme-'));
// HOME is a fresh folder, so files an example writes under ~ stay out of the checkout.
const env: NodeJS.ProcessEnv = { ...process.env, HOME: home, NPM_CONFIG_UPDATE_NOTIFIER: 'false', NPM_CONFIG_FUND: 'false' };
delete env.NODE_ENV;
for (const key of Object.keys(env)) if (key.startsWith('HERALD_')) delete env[key];

/** A herald started by a block, in its own process group. */
interface Running {
  pgid: number;
  log: string;
  command: string;
  admin?: string;
}
let herald: Running | undefined;

const groupAlive = (pgid: number) => {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
};

async function stopGroup(pgid: number, timeoutMs = 40_000): Promise<boolean> {
  try {
    process.kill(-pgid, 'SIGTERM');
  } catch {
    return true;
  }
  const deadline = Date.now() + timeoutMs;
  while (groupAlive(pgid) && Date.now() < deadline) await sleep(100);
  if (!groupAlive(pgid)) return true;
  process.kill(-pgid, 'SIGKILL');
  return false;
}

async function connections(): Promise<number | undefined> {
  if (!herald?.admin) return undefined;
  try {
    return ((await (await fetch(`http://${herald.admin}/stats`)).json()) as { connections: number }).connections;
  } catch {
    return undefined;
  }
}

/** One block's shell: a bash with job control, fed one command at a time. */
class Shell {
  private readonly bash: ChildProcess;
  private out = '';
  private seq = 0;

  constructor() {
    this.bash = spawn('bash', ['--norc', '--noprofile'], { cwd: REPO, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.bash.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    this.bash.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    // Job control: each background job gets its own process group, which can be stopped as a whole.
    this.bash.stdin!.write('set -m\n');
  }

  /** Runs `text` and returns its exit status and output. */
  async run(text: string, timeoutMs = COMMAND_TIMEOUT_MS): Promise<{ status: number; output: string }> {
    const marker = `__readme_done_${++this.seq}`;
    const from = this.out.length;
    this.bash.stdin!.write(`${text}\n__s=$?; echo; echo "${marker} $__s"; echo "${marker}" >&2\n`);
    // stdout and stderr are separate pipes: wait for the marker on each, in whatever order they come.
    const status = new RegExp(`${marker} (\\d+)\\n`);
    const flushed = new RegExp(`(^|\\n)${marker}\\n`);
    await waitFor(`the command to finish: ${text}`, () => status.test(this.out.slice(from)) && flushed.test(this.out.slice(from)), timeoutMs, 20);
    const chunk = this.out.slice(from);
    const output = chunk.replace(status, '').replace(flushed, '\n');
    return { status: Number(status.exec(chunk)![1]), output };
  }

  /** Starts `text` as a background job writing to `file`; returns its process group. */
  async background(text: string, file: string): Promise<number> {
    const { output } = await this.run(`( ${text} ) > ${JSON.stringify(file)} 2>&1 &\necho "__pid $!"`);
    return Number(/__pid (\d+)/.exec(output)![1]);
  }

  close(): void {
    this.bash.stdin!.end('exit\n');
  }
}

async function startHerald(shell: Shell, command: string, results: CommandResult[], base: CommandResult): Promise<void> {
  if (herald) await stopGroup(herald.pgid);
  const log = path.join(home, `herald-${base.line}.log`);
  const pgid = await shell.background(backgrounded(command) ?? command, log);
  herald = { pgid, log, command };
  try {
    const ready = await waitFor('herald ready', () => {
      const text = fs.existsSync(log) ? fs.readFileSync(log, 'utf8') : '';
      if (!groupAlive(pgid)) throw new Error(`herald exited: ${text.slice(-2000)}`);
      return text.split('\n').find((l) => l.includes('"msg":"herald ready"'));
    }, 60_000, 100);
    herald.admin = (JSON.parse(ready) as { admin: string }).admin;
    results.push({ ...base, outcome: 'passed' });
  } catch (err) {
    results.push({ ...base, outcome: 'failed', detail: (err as Error).message });
    herald = undefined;
  }
}

async function runBlock(block: Block, results: CommandResult[]): Promise<void> {
  const shell = new Shell();
  const jobs: { pgid: number; file: string; expect?: string; result: CommandResult }[] = [];
  try {
    if (block.needs && herald?.command !== block.needs) {
      await startHerald(shell, block.needs, results, { line: block.line, heading: block.heading, command: block.needs, outcome: 'passed', marker: true });
    }
    for (const command of block.commands) await runCommand(shell, block, command, jobs, results);
    for (const job of jobs) {
      if (!job.expect) continue;
      const expect = job.expect;
      try {
        await waitFor(`"${expect}" from the background command`, () => fs.existsSync(job.file) && fs.readFileSync(job.file, 'utf8').includes(expect), 15_000);
      } catch {
        Object.assign(job.result, { outcome: 'failed', detail: `never printed "${expect}"; it printed: ${fs.existsSync(job.file) ? fs.readFileSync(job.file, 'utf8').slice(-1000) : ''}` });
      }
    }
  } finally {
    for (const job of jobs) await stopGroup(job.pgid, 5000);
    shell.close();
  }
}

async function runCommand(shell: Shell, block: Block, command: Command, jobs: { pgid: number; file: string; expect?: string; result: CommandResult }[], results: CommandResult[]): Promise<void> {
  const base = { line: command.line, heading: block.heading, command: command.text };
  const rule = ruleFor(command.text);
  if (rule && rule.instead === undefined) {
    results.push({ ...base, outcome: 'skipped', reason: rule.reason, rule: rule.pattern.source });
    return;
  }
  const text = rule?.instead ?? command.text;
  const replaced = rule ? { reason: `ran "${text}": ${rule.reason}`, rule: rule.pattern.source } : {};
  if (startsHerald(text)) return startHerald(shell, text, results, { ...base, ...replaced } as CommandResult);
  const expect = expectedOutput(text);
  const inBackground = backgrounded(text);
  if (inBackground !== undefined) {
    const before = await connections();
    const file = path.join(home, `job-${command.line}.out`);
    const result: CommandResult = { ...base, ...replaced, outcome: 'passed' };
    results.push(result);
    jobs.push({ pgid: await shell.background(inBackground, file), file, expect, result });
    // As a person would: the next line is typed once this one is up (a client counted by herald).
    if (before !== undefined) await waitFor('the background client to connect', async () => ((await connections()) ?? 0) > before, 15_000).catch(() => {});
    return;
  }
  const { status, output } = await shell.run(text);
  const missing = expect !== undefined && !output.includes(expect);
  results.push({
    ...base,
    ...replaced,
    outcome: status === 0 && !missing ? 'passed' : 'failed',
    ...(status !== 0 || missing ? { detail: `exit ${status}${missing ? `, no "${expect}" in the output` : ''}: ${output.slice(-2000)}` } : {}),
  });
}

async function main(): Promise<void> {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');
  const redis = new RedisServer();
  redis.port = 6379; // the README's Redis; this network namespace has its own port space
  await redis.start();
  const results: CommandResult[] = [];
  try {
    for (const block of readmeBlocks(readme)) {
      if (block.skip) {
        for (const c of block.commands) results.push({ line: c.line, heading: block.heading, command: c.text, outcome: 'skipped', reason: block.skip });
        continue;
      }
      await runBlock(block, results);
    }
  } finally {
    if (herald) await stopGroup(herald.pgid);
    await redis.stop();
    fs.rmSync(home, { recursive: true, force: true });
  }
  for (const r of results) process.stdout.write(`${JSON.stringify(r)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`readme runner failed: ${err.stack}\n`);
  process.exit(1);
});
