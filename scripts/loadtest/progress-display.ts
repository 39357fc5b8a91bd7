// Progress on stderr while a run goes on. On a terminal: one bar redrawn in
// place, cleared before any other line is written and drawn again after it. Not
// on a terminal: one plain line every intervalMs (and none in between).
import type { Progress } from './coordinator';
import { progressLine } from './report-text';

export interface ProgressOut {
  isTTY?: boolean;
  write(s: string): unknown;
}

export class ProgressDisplay {
  private bar = '';
  private lastLineMs = -Infinity;

  constructor(private readonly out: ProgressOut, private readonly intervalMs: number, private readonly quiet = false) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  update(p: Progress): void {
    if (this.quiet) return;
    if (this.tty) {
      this.bar = progressLine(p, true);
      this.out.write(`\r${this.bar}\x1b[K`);
    } else if (p.elapsedMs - this.lastLineMs >= this.intervalMs) {
      this.lastLineMs = p.elapsedMs;
      this.out.write(`${progressLine(p, false)}\n`);
    }
  }

  /** Writes a whole line without mangling the bar. */
  log(line: string): void {
    if (this.tty && this.bar) this.out.write(`\r\x1b[K${line}\n${this.bar}`);
    else this.out.write(`${line}\n`);
  }

  /** Removes the bar (before the report goes to stdout, which may be the same terminal). */
  end(): void {
    if (this.tty && this.bar) this.out.write('\r\x1b[K');
    this.bar = '';
  }
}
