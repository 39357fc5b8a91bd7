import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);
const PUBLISH = path.join(__dirname, '..', '..', '..', 'scripts', 'publish');

/** Runs scripts/publish as a user would (NODE_ENV=test, no HERALD_HISTORY of ours); resolves with its exit code and both outputs whatever the code. */
export async function runPublishScript(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const { HERALD_HISTORY: _h, ...base } = process.env;
  try {
    const r = await execFileAsync(PUBLISH, args, { env: { ...base, NODE_ENV: 'test', ...env }, timeout: 20_000 });
    return { code: 0, ...r };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
