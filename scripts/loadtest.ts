// CLI: npm run loadtest -- --connections 20000 --source-ips 127.0.0.2-127.0.0.11 ws://127.0.0.1:8080/ws
// (USAGE in loadtest/options.ts). Ctrl-C or SIGTERM ends the run early with the report
// of what was measured; a second one stops at once.
import { writeFileSync } from 'node:fs';
import { parseOrExit } from './lib/cli';
import { LoadTest, sleep } from './loadtest/coordinator';
import { parseLoadArgs, type LoadOptions } from './loadtest/options';
import { ProgressDisplay } from './loadtest/progress-display';
import { htmlReport } from './loadtest/report-html';
import { textReport } from './loadtest/report-text';

/** Exit codes: 0 every connection held and nothing lost; 2 otherwise; 1 the run failed; 64 bad usage; 130 stopped by a second signal. */
const EXIT_SHORT = 2, EXIT_KILLED = 130;

async function run(opts: LoadOptions): Promise<number> {
  const display = new ProgressDisplay(process.stderr, opts.progressIntervalMs, opts.quiet);
  const say = (line: string): void => { if (!opts.quiet) display.log(line); };
  const lt = new LoadTest(opts);
  lt.on('progress', (p) => display.update(p));
  const stop = new AbortController();
  const onSignal = (): void => {
    if (stop.signal.aborted) { lt.killNow(); process.exit(EXIT_KILLED); }
    stop.abort();
    say('interrupted: reporting what was measured (again to stop at once)');
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', () => lt.killNow());
  const { signal } = stop;
  try {
    await lt.start();
    say(`client processes: ${Math.ceil(opts.connections / opts.perProcess)} started`);
    const p = await lt.waitConnected(opts.connections, 600_000, signal);
    display.update(p); // fresher than the last sample: the bar shows the state the lines below follow
    if (p.connected < opts.connections && !signal.aborted) say(`only ${p.connected} of ${opts.connections} connections opened`);
    if (!signal.aborted) {
      await sleep(200, signal);
      const mem = await lt.measureMemory();
      say(`client memory: ${mem.bytesPerConnection} B RSS per idle connection`);
    }
    for (let i = 1; i <= opts.publishCount && !signal.aborted; i++) {
      const pub = await lt.publish(i);
      say(`published seq=${pub.seq}${pub.receivers !== null ? ` (redis receivers: ${pub.receivers})` : ''}`);
      await sleep((i < opts.publishCount ? opts.publishInterval : opts.settle) * 1000, signal);
    }
    // --duration 0: hold until a signal.
    if (opts.publishCount === 0) await sleep(opts.duration > 0 ? opts.duration * 1000 : 2 ** 31 - 1, signal);
    const result = await lt.collect();
    display.end();
    console.log(textReport(result));
    if (opts.out) writeFileSync(opts.out, JSON.stringify(result, null, 2));
    if (opts.html) writeFileSync(opts.html, htmlReport(result));
    return result.connections.connected === opts.connections && result.messages.lost === 0 ? 0 : EXIT_SHORT;
  } finally {
    display.end();
    await lt.stop();
  }
}

async function main(): Promise<number> {
  return run(parseOrExit('loadtest', () => parseLoadArgs(process.argv.slice(2))));
}

main().then((code) => process.exit(code), (e) => {
  console.error(`loadtest failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
