/**
 * Benchmark peer 1: the `ws` package on Node's cluster module.
 *
 *   node dist/scripts/bench/peers/ws-server.js --port 9001 --redis redis://127.0.0.1:6379 --processes 4
 *
 * WebSocket path /ws. This is how ws users scale past one process and one
 * file table: the cluster primary accepts connections and hands them round
 * robin to K workers (Node 20 has no SO_REUSEPORT for net servers), and every
 * worker subscribes to Redis itself and broadcasts to its own clients.
 */
import cluster from 'node:cluster';
import { WebSocketServer, WebSocket } from 'ws';
import {
  exitWithParent,
  ipcChild,
  parsePeerArgs,
  reportReady,
  subscribeBroadcast,
  supervise,
} from './common';

const opts = parsePeerArgs();

if (cluster.isPrimary) {
  const children = [];
  for (let i = 0; i < opts.processes; i++) children.push(ipcChild(cluster.fork().process));
  // The primary does the accept()s, so it counts as part of the server.
  supervise({ peer: 'ws', opts, children, includeSelf: true });
} else {
  exitWithParent();
  const wss = new WebSocketServer({
    host: opts.host,
    port: opts.port,
    path: '/ws',
    // Off, as the benchmark asks: deflate costs ~300 KB per connection in zlib state.
    perMessageDeflate: false,
  });
  // Clients never send anything meaningful; errors on single sockets are not fatal.
  wss.on('connection', (ws) => ws.on('error', () => undefined));
  wss.on('listening', async () => {
    await subscribeBroadcast(opts.redis, (data, isText) => {
      // The broadcast loop from ws's own README. ws frames the payload per
      // client (a small header + the shared payload buffer, written with writev),
      // which is as cheap as it gets without reaching into private fields.
      for (const client of wss.clients) {
        if (client.readyState === WebSocket.OPEN) client.send(data, { binary: !isText });
      }
    });
    reportReady();
  });
}
