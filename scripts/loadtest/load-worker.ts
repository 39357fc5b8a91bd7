// One load-client process: holds one share of the connections (client-share.ts)
// and reports to the coordinator over IPC. Started by coordinator.ts, never by hand.
import { ClientShare } from './client-share';
import type { FromWorker, ToWorker } from './worker-messages';

function send(m: FromWorker): void {
  if (process.connected) process.send!(m);
}

const share = new ClientShare(send);

function shutdown(code: number): void {
  share.stop();
  // Exit once the IPC channel has flushed what was sent.
  if (process.connected) process.disconnect();
  setImmediate(() => process.exit(code));
}

process.on('message', (m: ToWorker) => {
  try {
    share.handle(m);
    if (m.type === 'stop') shutdown(0);
  } catch (e) {
    send({ type: 'fatal', error: (e as Error).stack ?? String(e) });
    shutdown(1);
  }
});
// The coordinator died or closed the channel: never outlive it.
process.on('disconnect', () => shutdown(0));
process.on('SIGINT', () => { /* the coordinator handles Ctrl-C and stops us */ });
