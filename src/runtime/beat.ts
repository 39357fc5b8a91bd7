/**
 * Periodic housekeeping that shares wake-ups: every task with the same period
 * runs from one timer. An idle worker's CPU is mostly its event-loop wake-ups
 * (each one costs tens of microseconds of scheduler and syscall time, more in
 * a VM), and half a dozen housekeeping timers waking the loop each on its own
 * schedule made 60 idle workers cost about 0.2 of a core.
 */
export class Beat {
  private readonly lanes = new Map<number, { timer: NodeJS.Timeout; tasks: Set<{ run: () => void }> }>();

  /** Runs `task` every `periodMs` with the other tasks of that period; returns its cancel. */
  every(periodMs: number, task: () => void): () => void {
    let lane = this.lanes.get(periodMs);
    if (!lane) {
      const tasks = new Set<{ run: () => void }>();
      const timer = setInterval(() => runAllTasks(tasks), periodMs);
      timer.unref();
      this.lanes.set(periodMs, (lane = { timer, tasks }));
    }
    const entry = { run: task };
    const { tasks, timer } = lane;
    tasks.add(entry);
    return () => {
      if (!tasks.delete(entry) || tasks.size > 0) return;
      clearInterval(timer);
      if (this.lanes.get(periodMs)?.tasks === tasks) this.lanes.delete(periodMs);
    };
  }

  /** Periods with a timer running (for tests). */
  get periods(): number[] {
    return [...this.lanes.keys()];
  }
}

/** One task's exception must not starve the others of its period, nor be swallowed. */
export function runAllTasks(tasks: Set<{ run: () => void }>): void {
  let failure: unknown;
  let failed = false;
  for (const t of tasks) {
    try {
      t.run();
    } catch (err) {
      if (!failed) [failure, failed] = [err, true];
    }
  }
  if (failed) throw failure;
}

/** The beat the gateway's housekeeping shares unless a test passes its own. */
export const processBeat = new Beat();
