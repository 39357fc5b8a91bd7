/**
 * Benchmark peer 2: Socket.IO with @socket.io/redis-adapter on Node's cluster module.
 *
 *   node dist/scripts/bench/peers/socketio-server.js --port 9001 --redis redis://127.0.0.1:6379 --processes 4
 *
 * Path /socket.io/ (Socket.IO's default), WebSocket transport only:
 *   ws://HOST:PORT/socket.io/?EIO=4&transport=websocket
 * Clients get the Engine.IO open packet `0{...}`, send `40`, get `40{...}`, then
 * receive every broadcast as the event `42["message",<string>]` (or, for a
 * payload that is not UTF-8, `451-["message",{"_placeholder":true,"num":0}]`
 * followed by one binary frame), and must answer ping `2` with `3` (every 25 s).
 *
 * Sticky sessions are only needed for HTTP long-polling; with websocket-only
 * clients each connection lives in one worker from its first request, so the
 * cluster primary's plain round robin is enough.
 *
 * Message path (why each worker subscribes and emits locally): in a Socket.IO
 * cluster the redis adapter already works this way; a producer publishes once
 * (io.emit elsewhere, or @socket.io/redis-emitter), every node's adapter
 * receives it from Redis and delivers to its own sockets. Here the benchmark's
 * publisher writes raw bytes to `herald:broadcast` instead of the adapter's
 * msgpack channel, so each worker subscribes to that channel and calls
 * io.local.emit: the same single Redis hop as the real adapter path and as
 * every other peer. Having one worker call io.emit instead would add a second
 * Redis round trip (bench -> worker -> adapter channel -> workers) that no
 * Socket.IO deployment using the emitter pays. The adapter stays installed, as
 * in any real cluster deployment (it costs two Redis connections per worker).
 */
import cluster from 'node:cluster';
import http from 'node:http';
import Redis from 'ioredis';
import { Server } from 'socket.io';
import { createAdapter } from '@socket.io/redis-adapter';
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
  supervise({ peer: 'socketio', opts, children, includeSelf: true });
} else {
  exitWithParent();
  const httpServer = http.createServer((req, res) => {
    // Socket.IO answers its own path; anything else is not ours.
    res.writeHead(404).end();
  });
  const pub = new Redis(opts.redis);
  const sub = pub.duplicate();
  const io = new Server(httpServer, {
    path: '/socket.io/',
    transports: ['websocket'],
    serveClient: false,
    perMessageDeflate: false, // already the default; stated for parity with the ws peer
    adapter: createAdapter(pub, sub),
  });

  httpServer.listen(opts.port, opts.host, async () => {
    await subscribeBroadcast(opts.redis, (data, isText) => {
      // Text goes out as a JSON string argument; anything else as a binary attachment.
      io.local.emit('message', isText ? data.toString('utf8') : data);
    });
    reportReady();
  });
}
