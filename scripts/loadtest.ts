// CLI: npm run loadtest -- --connections 20000 --source-ips 127.0.0.2-127.0.0.11 ws://127.0.0.1:8080/ws
import { writeFileSync } from 'node:fs';
import { parseArgs, USAGE } from './loadtest/options';
import { LoadTest, sleep, type Progress } from './loadtest/coordinator';
import { progressLine, textReport } from './loadtest/report-text';
import { htmlReport } from './loadtest/report-html';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv.includes('--help') || argv.includes('-h')) { console.log(USAGE); return 0; }
  const opts = parseArgs(argv);
  const tty = process.stderr.isTTY === true;
  let lastLine = 0;
  const show = (p: Progress): void => {
    if (opts.quiet) return;
    if (tty) process.stderr.write(`\r${progressLine(p, true)}\x1b[K`);
    else if (Date.now() - lastLine >= 2000) { lastLine = Date.now(); process.stderr.write(progressLine(p, false) + '\n'); }
  };
  const lt = new LoadTest(opts);
  lt.on('progress', show);
  let interrupted = false;
  const onSigint = (): void => {
    if (interrupted) { lt.killNow(); process.exit(130); }
    interrupted = true;
    process.stderr.write('\ninterrupted: stopping client processes\n');
    lt.stop().then(() => process.exit(130), (e) => { console.error(e); lt.killNow(); process.exit(130); });
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  process.on('exit', () => lt.killNow());
  try {
    await lt.start();
    const p = await lt.waitConnected();
    if (tty && !opts.quiet) process.stderr.write('\n');
    if (p.connected < opts.connections) process.stderr.write(`only ${p.connected} of ${opts.connections} connections opened\n`);
    await sleep(200);
    const mem = await lt.measureMemory();
    if (!opts.quiet) process.stderr.write(`client memory: ${mem.bytesPerConnection} B RSS per idle connection\n`);
    if (opts.publishCount > 0) {
      for (let i = 1; i <= opts.publishCount; i++) {
        const pub = await lt.publish(i);
        if (!opts.quiet) process.stderr.write(`published seq=${pub.seq}${pub.receivers !== null ? ` (redis receivers: ${pub.receivers})` : ''}\n`);
        await sleep((i < opts.publishCount ? opts.publishInterval : opts.settle) * 1000);
      }
    } else {
      await sleep(opts.duration * 1000);
    }
    const result = await lt.collect();
    if (tty && !opts.quiet) process.stderr.write('\n');
    console.log(textReport(result));
    if (opts.out) writeFileSync(opts.out, JSON.stringify(result, null, 2));
    if (opts.html) writeFileSync(opts.html, htmlReport(result));
    return result.connections.connected === opts.connections && result.messages.lost === 0 ? 0 : 2;
  } finally {
    await lt.stop();
  }
}

main().then((code) => process.exit(code), (e) => {
  console.error(`loadtest failed: ${(e as Error).stack ?? e}`);
  process.exit(1);
});
