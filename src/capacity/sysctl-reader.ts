import fs from 'node:fs';
import path from 'node:path';

/** Reads one sysctl as the kernel prints it (runs of blanks collapsed to one space); undefined when absent. */
export type SysctlReader = (key: string) => string | undefined;

/**
 * A reader over a /proc/sys tree. `root` may be a copy of it (tests, or the
 * tune script's HERALD_PROC_SYS), so planning never needs the real one.
 */
export function sysctlReader(root = '/proc/sys'): SysctlReader {
  return (key) => {
    try {
      return fs.readFileSync(path.join(root, ...key.split('.')), 'utf8').trim().replace(/\s+/g, ' ');
    } catch {
      return undefined;
    }
  };
}
