/**
 * The planner behind scripts/tune-linux.sh: reads the kernel's current values
 * (from /proc/sys, or a copy of it), sizes src/capacity/kernel-limits.ts's
 * tables (the limits, then the settings herald relies on such as
 * tcp_migrate_req) for the target and prints a sysctl.d file in which every
 * changed line has its reason above it and unchanged ones are listed as
 * comments. It only raises, and prints in the tables' order, so the same
 * input gives the same output.
 *   node dist/scripts/tune-plan.js --connections 20000 [--workers 16] [--loopback [--sources 4]] [--proc-sys DIR]
 *   node dist/scripts/tune-plan.js --limits ...   the /etc/security/limits.d file instead (empty when nothing is needed)
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { nofileNeeded, planKernelTuning, PROCESS_RESERVE_FILES, type LimitPlan, type LimitTarget } from '../src/capacity/kernel-limits';
import { readOpenFileLimit } from '../src/capacity/fd-limits';
import { sysctlReader } from '../src/capacity/sysctl-reader';

export interface OpenFiles {
  soft: number;
  hard: number;
}

function describeTarget(t: LimitTarget): string {
  const clients = t.loopback ? `clients on this box too, dialling from ${t.sourceAddresses} source address${t.sourceAddresses === 1 ? '' : 'es'}` : 'clients elsewhere';
  return `${t.connections} connections, ${t.workers} herald workers, ${clients}`;
}

/** The sysctl.d file: `sysctl -p` applies its uncommented lines, and each is explained by the comment above it. */
export function sysctlPlanText(t: LimitTarget, plans: LimitPlan[], source: string, files: OpenFiles): string {
  const out = [
    `# herald: kernel limits for ${describeTarget(t)}.`,
    `# Planned by scripts/tune-linux.sh from ${source}. It only raises: every value below is at least the one the kernel had.`,
    '# Rerun it after changing the target, the RAM or the kernel: the values were computed from the ones found then.',
  ];
  for (const p of plans) {
    out.push('', `# ${p.key}: ${p.why}.`);
    if (p.ok) {
      out.push(`# now ${p.current}; needs ${p.needs}: enough, left as it is`);
    } else {
      out.push(`# now ${p.current}; needs ${p.needs}`, `${p.key} = ${p.next}`);
    }
  }
  const need = nofileNeeded(t);
  out.push(
    '',
    `# Open files per process (nofile, not a sysctl): each herald worker needs >= ${need} (its share of the connections plus ${PROCESS_RESERVE_FILES} of its own).`,
    `#   systemd: LimitNOFILE (scripts/herald.service sets 1048576); containers: --ulimit nofile=${need}:${need} or more.`,
    `#   login shells: /etc/security/limits.d/90-herald.conf (--persist writes it when needed).`,
    files.hard >= need
      ? `#   this shell: soft ${files.soft}, hard ${files.hard}: ${files.soft >= need ? 'enough' : `raise the soft limit with ulimit -n ${need}`}.`
      : `#   this shell: soft ${files.soft}, hard ${files.hard}: too low; where the hard limit cannot be raised, HERALD_WORKERS=${Math.ceil(t.connections / Math.max(1, files.hard - PROCESS_RESERVE_FILES))} spreads the target under it.`,
  );
  return `${out.join('\n')}\n`;
}

/** /etc/security/limits.d lines for login shells (systemd ignores them); empty when this shell's hard limit is already enough. */
export function limitsConfText(t: LimitTarget, files: OpenFiles): string {
  const need = nofileNeeded(t);
  if (files.hard >= need) return '';
  const lines = ['# written by herald scripts/tune-linux.sh: open files per process for login shells (root is not matched by *)'];
  for (const who of ['*', 'root']) for (const kind of ['soft', 'hard']) lines.push(`${who} ${kind} nofile ${need}`);
  return `${lines.join('\n')}\n`;
}

function positiveInt(name: string, value: string): number {
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new Error(`--${name} must be a positive integer, not "${value}"`);
  return Number(value);
}

function main(): void {
  const { values } = parseArgs({
    options: {
      connections: { type: 'string', default: '1000000' },
      workers: { type: 'string', default: String(os.availableParallelism()) },
      loopback: { type: 'boolean', default: false },
      sources: { type: 'string', default: '1' },
      'proc-sys': { type: 'string', default: process.env.HERALD_PROC_SYS || '/proc/sys' },
      limits: { type: 'boolean', default: false },
    },
  });
  const target: LimitTarget = {
    connections: positiveInt('connections', values.connections!),
    workers: positiveInt('workers', values.workers!),
    loopback: values.loopback!,
    clientProcesses: 0,
    sourceAddresses: positiveInt('sources', values.sources!),
  };
  const files = readOpenFileLimit();
  if (values.limits) {
    process.stdout.write(limitsConfText(target, files));
    return;
  }
  const root = values['proc-sys']!;
  const plans = planKernelTuning(target, sysctlReader(root));
  if (plans.length === 0) throw new Error(`no sysctl found under ${root}: is it a /proc/sys tree?`);
  process.stdout.write(sysctlPlanText(target, plans, root, files));
}

if (require.main === module) {
  try {
    main();
  } catch (err) {
    process.stderr.write(`tune-plan: ${(err as Error).message}\n`);
    process.exit(2);
  }
}
