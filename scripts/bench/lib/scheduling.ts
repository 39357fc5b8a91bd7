/**
 * The scheduling conditions of a benchmark run, recorded with its results.
 *
 * Every benchmark starts its servers and load clients in its own session
 * (process-groups.ts), so they compete as plain processes whatever
 * /proc/sys/kernel/sched_autogroup_enabled says. `--autogroup off` also turns
 * autogroups off for the run, so the run's processes compete one by one with
 * the rest of the box too, and restores the setting on every way out that runs
 * code (normal end, failure, SIGINT/SIGTERM, timeout: all end in
 * process.exit); only a SIGKILL of the harness itself leaves it off.
 */
import fs from 'node:fs';

const AUTOGROUP = '/proc/sys/kernel/sched_autogroup_enabled';

export type AutogroupMode = 'keep' | 'off';
export const AUTOGROUP_MODES: readonly AutogroupMode[] = ['keep', 'off'];

export interface Scheduling {
  /** sched_autogroup_enabled during the run ('absent' on kernels without it) */
  autogroupDuringRun: string;
  /** its value before the run, when the run changed it */
  autogroupRestoredTo: string | null;
  /** how servers and clients were started */
  processes: string;
}

export const SAME_SESSION = 'servers and load clients in the benchmark process\'s session (servers as process-group leaders via setpgid, not setsid)';

function read(): string {
  try {
    return fs.readFileSync(AUTOGROUP, 'utf8').trim();
  } catch {
    return 'absent';
  }
}

/** Applies `mode` for the rest of this process's life and says what the run ran under. */
export function applyScheduling(mode: AutogroupMode, log: (s: string) => void): Scheduling {
  const before = read();
  if (mode === 'keep' || before === 'absent' || before === '0') {
    return { autogroupDuringRun: before, autogroupRestoredTo: null, processes: SAME_SESSION };
  }
  try {
    fs.writeFileSync(AUTOGROUP, '0');
  } catch (e) {
    throw new Error(`--autogroup off: cannot write ${AUTOGROUP} (${(e as Error).message}); run as root or with --autogroup keep`);
  }
  log(`sched_autogroup_enabled ${before} -> 0 for this run (restored on exit)`);
  process.on('exit', () => {
    try {
      fs.writeFileSync(AUTOGROUP, before);
    } catch {
      /* nothing more can be done while exiting; the log line above says what to restore */
    }
  });
  return { autogroupDuringRun: read(), autogroupRestoredTo: before, processes: SAME_SESSION };
}

export function formatScheduling(s: Scheduling): string {
  const ag = s.autogroupRestoredTo === null
    ? `sched_autogroup_enabled=${s.autogroupDuringRun} (left as it was)`
    : `sched_autogroup_enabled=${s.autogroupDuringRun} for the run (was ${s.autogroupRestoredTo}, restored after)`;
  return `Scheduling: ${ag}; ${s.processes}.`;
}
