/**
 * The benchmark peers, in one table for the comparison harness and the smoke
 * script: which launcher to run and how a client connects to it.
 *
 * Every launcher takes `--port P --redis URL --processes K [--host H]`, prints
 * one JSON line `{"ready":true,"pids":[...],...}` when all K processes listen
 * and are subscribed, and stops all of them on SIGTERM/SIGINT. `pids` are the
 * processes whose RSS and CPU count as the server (cluster primaries included,
 * pure supervisors not).
 */
import path from 'node:path';

export type PeerProtocol = 'ws' | 'socketio';

export interface PeerSpec {
  name: string;
  /** Compiled launcher (run with `node`). */
  launcher: string;
  protocol: PeerProtocol;
  url(host: string, port: number): string;
}

const wsUrl = (host: string, port: number) => `ws://${host}:${port}/ws`;

export const PEERS: Record<string, PeerSpec> = {
  ws: { name: 'ws', launcher: path.join(__dirname, 'ws-server.js'), protocol: 'ws', url: wsUrl },
  socketio: {
    name: 'socketio',
    launcher: path.join(__dirname, 'socketio-server.js'),
    protocol: 'socketio',
    url: (host, port) => `ws://${host}:${port}/socket.io/?EIO=4&transport=websocket`,
  },
  netty: { name: 'netty', launcher: path.join(__dirname, 'netty-server.js'), protocol: 'ws', url: wsUrl },
  'uws-bare': {
    name: 'uws-bare',
    launcher: path.join(__dirname, 'uws-bare-server.js'),
    protocol: 'ws',
    url: wsUrl,
  },
};
