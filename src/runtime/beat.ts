/**
 * Periodic housekeeping that shares wake-ups. An idle worker's CPU is mostly
 * its event-loop wake-ups (each costs tens of microseconds of scheduler and
 * syscall time, more in a VM), and half a dozen housekeeping timers, each
 * waking the loop on its own schedule, made 60 idle workers cost about 0.2 of
 * a core. So every task whose period is a whole number of base periods (one
 * second) runs from one timer, on every k-th tick; any other period gets a
 * timer of its own, shared with the tasks of the same period.
 */
export interface BeatTask {
  run: () => void;
  /** runs on every `ticks`-th tick of its lane */
  ticks: number;
  left: number;
}

export class Beat {
  private readonly lanes = new Map<number, { timer: NodeJS.Timeout; tasks: Set<BeatTask> }>();

  constructor(private readonly baseMs = 1000) {}

  /** Runs `task` every `periodMs`; returns its cancel. */
  every(periodMs: number, task: () => void): () => void {
    const onBase = periodMs % this.baseMs === 0;
    const laneMs = onBase ? this.baseMs : periodMs;
    let lane = this.lanes.get(laneMs);
    if (!lane) {
      const tasks = new Set<BeatTask>();
      const timer = setInterval(() => runDueTasks(tasks), laneMs);
      timer.unref();
      this.lanes.set(laneMs, (lane = { timer, tasks }));
    }
    const ticks = onBase ? periodMs / this.baseMs : 1;
    const entry: BeatTask = { run: task, ticks, left: ticks };
    const { tasks, timer } = lane;
    tasks.add(entry);
    return () => {
      if (!tasks.delete(entry) || tasks.size > 0) return;
      clearInterval(timer);
      if (this.lanes.get(laneMs)?.tasks === tasks) this.lanes.delete(laneMs);
    };
  }

  /** Periods with a timer running (for tests). */
  get periods(): number[] {
    return [...this.lanes.keys()];
  }
}

/** One tick of a lane. A failing task neither starves the others of the tick nor is swallowed. */
export function runDueTasks(tasks: Set<BeatTask>): void {
  let failure: unknown;
  let failed = false;
  for (const t of tasks) {
    if (--t.left > 0) continue;
    t.left = t.ticks;
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
