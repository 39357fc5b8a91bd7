// Test fixtures: a bare uWebSockets.js broadcast server (stand-in for herald until its
// primary exists) and a real redis-server on a free port.
import Redis from 'ioredis';
// eslint-disable-next-line @typescript-eslint/no-require-imports
const uWS = require('uWebSockets.js');

export interface Fixture {
  port: number;
  url: string;
  publish(payload: string | Buffer): void;
  /** published payloads received through redis or HTTP */
  received: string[];
  close(): Promise<void>;
}

export interface FixtureOptions {
  redisUrl?: string;
  /** answer the first N upgrades with 503 (a worker at capacity) */
  reject503?: number;
  /** drop broadcasts whose seq is in this list (simulates loss) */
  dropSeqs?: number[];
  apiKey?: string;
}

export async function startFixture(o: FixtureOptions = {}): Promise<Fixture> {
  const received: string[] = [];
  let rejects = o.reject503 ?? 0;
  const app = uWS.App();
  const fanout = (payload: string): void => {
    received.push(payload);
    let seq = -1;
    try { seq = JSON.parse(payload).seq; } catch { /* non-JSON payloads are fanned out as they are */ }
    if (!o.dropSeqs?.includes(seq)) app.publish('broadcast', payload, false);
  };
  app.ws('/ws', {
    idleTimeout: 0,
    upgrade: (res: any, req: any, ctx: any) => {
      if (rejects > 0) { rejects--; res.writeStatus('503 Service Unavailable').end('at capacity'); return; }
      res.upgrade({}, req.getHeader('sec-websocket-key'), req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), ctx);
    },
    open: (ws: any) => ws.subscribe('broadcast'),
  });
  app.post('/publish', (res: any, req: any) => {
    const auth = req.getHeader('authorization');
    const chunks: Buffer[] = [];
    let aborted = false;
    res.onAborted(() => { aborted = true; });
    res.onData((chunk: ArrayBuffer, last: boolean) => {
      chunks.push(Buffer.from(chunk.slice(0)));
      if (!last || aborted) return;
      if (o.apiKey && auth !== `Bearer ${o.apiKey}`) { res.writeStatus('401 Unauthorized').end('no'); return; }
      fanout(Buffer.concat(chunks).toString('utf8'));
      res.end('{"ok":true}');
    });
  });
  const listen: any = await new Promise((resolve, reject) => app.listen('127.0.0.1', 0, (s: any) => (s ? resolve(s) : reject(new Error('listen failed')))));
  const port = uWS.us_socket_local_port(listen);
  let sub: Redis | null = null;
  if (o.redisUrl) {
    sub = new Redis(o.redisUrl);
    await sub.subscribe('herald:broadcast');
    sub.on('message', (_ch: string, msg: string) => fanout(msg));
  }
  return {
    port, url: `ws://127.0.0.1:${port}/ws`, received,
    publish: (p) => app.publish('broadcast', p, false),
    async close() {
      if (sub) await sub.quit();
      uWS.us_listen_socket_close(listen);
      app.close?.();
    },
  };
}
