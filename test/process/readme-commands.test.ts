import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { trackChild } from '../../scripts/harness/children';
import { readmeBlocks, SKIPPED_LINES } from '../readme/readme-blocks';
import type { CommandResult } from '../readme/readme-runner';

const REPO = path.join(__dirname, '..', '..', '..');
const RUNNER = path.join(__dirname, '..', 'readme', 'readme-runner.js');

/**
 * Runs the README's runner in a network namespace of its own (unshare, from
 * util-linux; no root needed where user namespaces are allowed, as on Debian):
 * the README's ports and its Redis on 6379 are then free and private, so every
 * command runs exactly as a user would type it.
 */
function runReadme(): Promise<{ code: number | null; results: CommandResult[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = trackChild(
      spawn('unshare', ['--net', '--map-root-user', '--', 'sh', '-c', 'ip link set lo up && exec "$0" "$@"', process.execPath, RUNNER], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d));
    child.stderr!.on('data', (d: Buffer) => (stderr += d));
    child.once('error', reject);
    child.once('exit', (code) => {
      const results = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as CommandResult);
      resolve({ code, results, stderr });
    });
  });
}

describe('README commands', () => {
  const readme = fs.readFileSync(path.join(REPO, 'README.md'), 'utf8');

  it('every command of every shell block runs as written, except the listed few', { timeout: 600_000 }, async () => {
    const { code, results, stderr } = await runReadme();
    assert.equal(code, 0, `the runner failed: ${stderr}`);
    const commands = readmeBlocks(readme).flatMap((b) => b.commands);
    assert.equal(results.filter((r) => !r.marker).length, commands.length, 'a result for every command');
    const failed = results.filter((r) => r.outcome === 'failed').map((r) => `README line ${r.line} (${r.heading}): ${r.command}\n  ${r.detail}`);
    assert.deepEqual(failed, [], failed.join('\n\n'));
    const unused = SKIPPED_LINES.filter((rule) => !results.some((r) => r.rule === rule.pattern.source)).map((rule) => rule.pattern.source);
    assert.deepEqual(unused, [], 'every entry of the skip list still matches a README line (remove the others)');
    // Whole blocks marked skip say why in the README itself; of the rest, the skip list may excuse only a few lines.
    const unmarked = results.filter((r) => !r.marker && !(r.outcome === 'skipped' && r.rule === undefined));
    const ran = unmarked.filter((r) => r.outcome === 'passed').length;
    assert.ok(ran >= unmarked.length / 2, `${ran} of ${unmarked.length} commands outside skipped blocks ran`);
  });
});
