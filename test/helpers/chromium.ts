import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

/** Debian's chromium; installed on the spot when missing and apt-get is usable (CI runs as root). */
export function findChromium(): string | undefined {
  if (fs.existsSync(CHROMIUM)) return CHROMIUM;
  if (process.getuid?.() === 0 && fs.existsSync('/usr/bin/apt-get')) {
    spawnSync('sh', ['-c', 'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium'], { stdio: 'inherit', timeout: 300_000 });
  }
  return fs.existsSync(CHROMIUM) ? CHROMIUM : undefined;
}

/** Flags for a quiet headless run that fetches nothing on its own. */
export const HEADLESS_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** Headless Chromium with a fresh profile; close() also removes the profile. */
export async function launchChromium(executablePath: string, viewport = { width: 1200, height: 720 }): Promise<{ browser: BrowserContext; close(): Promise<void> }> {
  // playwright passes the profile as --user-data-dir.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'herald-chromium-'));
  const browser = await chromium.launchPersistentContext(profile, { timeout: 30_000, executablePath, headless: true, viewport, args: HEADLESS_ARGS });
  return {
    browser,
    close: async () => {
      await browser.close();
      fs.rmSync(profile, { recursive: true, force: true });
    },
  };
}
