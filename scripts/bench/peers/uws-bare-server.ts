/**
 * Benchmark peer 4: bare uWebSockets.js, the floor of herald's own stack.
 *
 *   node dist/scripts/bench/peers/uws-bare-server.js --port 9001 --redis redis://127.0.0.1:6379 --processes 4
 *
 * WebSocket path /ws. Subscribe on open, one app.publish per Redis message,
 * nothing else. K processes listen on the same port: uSockets sets
 * SO_REUSEPORT on Linux listen sockets by default, so the kernel spreads
 * connections over them.
 */
import { fork } from 'node:child_process';
import * as uWS from 'uWebSockets.js';
import {
  exitWithParent,
  ipcChild,
  parsePeerArgs,
  reportReady,
  subscribeBroadcast,
  supervise,
} from './common';

const opts = parsePeerArgs();
const TOPIC = 'broadcast';

if (!process.env.HERALD_PEER_CHILD) {
  const children = [];
  for (let i = 0; i < opts.processes; i++) {
    const child = fork(__filename, process.argv.slice(2), {
      env: { ...process.env, HERALD_PEER_CHILD: '1' },
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(ipcChild(child));
  }
  // This supervisor only waits; its memory is not the server's.
  supervise({ peer: 'uws-bare', opts, children, includeSelf: false });
} else {
  exitWithParent();
  const app = uWS.App().ws('/ws', {
    compression: uWS.DISABLED,
    // Default 0 = no idle timeout and no automatic pings: ws and Netty peers
    // have none either, so idle connections cost the same work everywhere
    // (none). bench:floor sets herald's liveness here, for equal work.
    idleTimeout: opts.idleTimeout,
    sendPingsAutomatically: opts.idleTimeout > 0,
    open: (ws) => {
      ws.subscribe(TOPIC);
    },
  });
  app.listen(opts.host, opts.port, async (listenSocket) => {
    if (!listenSocket) {
      console.error(`[uws-bare ${process.pid}] cannot listen on ${opts.host}:${opts.port}`);
      process.exit(1);
    }
    await subscribeBroadcast(opts.redis, (data, isText) => {
      app.publish(TOPIC, data, !isText);
    });
    reportReady();
  });
}
