/**
 * The least a Node.js WebSocket load client can do, for `npm run bench:client
 * -- --clients ts,c,node-min`: it splits the TypeScript client's cost over the C
 * client's into what Node itself costs per connect and per read (this client
 * against C) and what the load client's own work costs (npm run loadtest
 * against this client).
 *
 * It uses the same raw libuv TCP handles (loadtest/raw-tcp.ts) and the same
 * frame decoder (loadtest/ws-codec.ts) as npm run loadtest, and does nothing
 * else: connect at --rate with at most --max-pending handshakes in flight,
 * send the upgrade, take any 101, count data messages, answer pings. No
 * latency stamps, no histogram, no retries, one process (so at most 19,000
 * connections under this machine's file limit).
 *
 * Progress and start lines are the C client's (see lib/client-runner.ts):
 *   node dist/scripts/bench/peers/node-min-client.js -c 19000 -s 127.0.0.2,127.0.0.3 ws://127.0.0.1:9001/ws
 */
import { parseCli, numberOption, parseOrExit, stringOption, UsageError } from '../../lib/cli';
import { rawClose, rawConnect, rawWrite, type RawHandle, type RawSocketSink } from '../../loadtest/raw-tcp';
import { buildUpgradeRequest, decodeFrames, encodeFrame, OP_CLOSE, OP_PING, OP_PONG, parseHandshakeResponse, type FrameSink, type FrameState } from '../../loadtest/ws-codec';

const MAX_CONNECTIONS = 19_000;
const USAGE = `usage: node dist/scripts/bench/peers/node-min-client.js [options] ws://HOST:PORT/PATH

  -c, --connections N   connections to open, at most ${MAX_CONNECTIONS} (one process) (default 1000)
  -s, --source-ips LIST loopback source addresses, comma separated (default: the kernel's choice)
  --rate R              connects per second (default 10000)
  --max-pending P       handshakes in flight (default 1000)
  --per-process K       accepted for the other clients' command line; must be >= N
  --progress-ms MS      progress line interval on stderr (default 1000)
  -h, --help            this text`;

const CONNECTING = 0, HANDSHAKE = 1, OPEN = 2, DONE = 3;

class Conn implements FrameState {
  st = CONNECTING;
  h: RawHandle | null = null;
  rbuf: Buffer | null = null;
  frag: Buffer[] | null = null;
  fragOp = 0;
}

class MinimalClient implements RawSocketSink<Conn>, FrameSink<Conn> {
  connected = 0;
  pending = 0;
  launched = 0;
  errors = 0;
  messages = 0;

  constructor(private readonly request: Buffer) {}

  launch(host: string, port: number, src: string | undefined): void {
    const c = new Conn();
    this.launched++;
    this.pending++;
    try {
      c.h = rawConnect(this, c, host, port, src);
    } catch {
      this.fail(c);
    }
  }

  onConnect(c: Conn, status: number): void {
    if (status < 0 || rawWrite(c.h!, this.request) !== 0) { this.fail(c); return; }
    c.st = HANDSHAKE;
  }

  onData(c: Conn, data: Buffer, length: number): void {
    if (c.st === OPEN) { decodeFrames(c, data, 0, length, this); return; }
    if (c.st !== HANDSHAKE) return;
    const hs = parseHandshakeResponse(data, length);
    if (!hs || hs.status !== 101) { this.fail(c); return; } // a split response head counts as a failure here
    c.st = OPEN;
    this.pending--;
    this.connected++;
    if (hs.bodyStart < length) decodeFrames(c, data, hs.bodyStart, length, this);
  }

  onEnd(c: Conn): void {
    if (c.st === OPEN) this.connected--;
    this.fail(c);
  }

  onMessage(): void {
    this.messages++;
  }

  onControl(c: Conn, opcode: number, payload: Buffer): void {
    if (opcode === OP_PING) rawWrite(c.h!, encodeFrame(OP_PONG, payload));
    else if (opcode === OP_CLOSE) this.onEnd(c);
  }

  onProtocolError(c: Conn): void {
    this.onEnd(c);
  }

  private fail(c: Conn): void {
    if (c.st === DONE) return;
    if (c.st !== OPEN) this.pending--;
    c.st = DONE;
    this.errors++;
    if (c.h) rawClose(c.h);
    c.h = null;
  }
}

function main(): void {
  const a = parseOrExit('node-min-client', () => {
    const { values: v, positionals } = parseCli(process.argv.slice(2), {
      connections: { type: 'string', short: 'c' }, 'source-ips': { type: 'string', short: 's' }, rate: { type: 'string' },
      'max-pending': { type: 'string' }, 'per-process': { type: 'string' }, 'progress-ms': { type: 'string' },
    }, USAGE, true);
    const connections = numberOption(v, 'connections', 1000, { min: 1, max: MAX_CONNECTIONS, integer: true });
    if (numberOption(v, 'per-process', MAX_CONNECTIONS, { min: 1, integer: true }) < connections) throw new UsageError('--per-process: this client runs one process; it must be >= --connections');
    if (positionals.length !== 1) throw new UsageError('one ws:// URL is required');
    const url = new URL(positionals[0]);
    if (url.protocol !== 'ws:') throw new UsageError(`only ws:// URLs (got ${url.protocol})`);
    const sources = stringOption(v, 'source-ips', '');
    return {
      connections, url, sourceIps: sources ? sources.split(',') : [],
      rate: numberOption(v, 'rate', 10_000, { min: 1 }),
      maxPending: numberOption(v, 'max-pending', 1000, { min: 1, integer: true }),
      progressMs: numberOption(v, 'progress-ms', 1000, { min: 10, integer: true }),
    };
  });
  const host = a.url.hostname, port = Number(a.url.port || 80);
  const client = new MinimalClient(buildUpgradeRequest(a.url.host, a.url.pathname + a.url.search));
  const started = Date.now();
  process.stderr.write('client processes: 1 started\n');
  const ramp = (): void => {
    const allowed = Math.min(a.connections, Math.floor((a.rate * (Date.now() - started)) / 1000) + 1);
    while (client.launched < allowed && client.pending < a.maxPending) {
      const i = client.launched;
      client.launch(host, port, a.sourceIps.length ? a.sourceIps[i % a.sourceIps.length] : undefined);
    }
    if (client.launched < a.connections) setTimeout(ramp, 10);
  };
  ramp();
  const line = (): string => `${client.connected}/${a.connections} connected errors=${client.errors} failed=${client.errors} msgs=${client.messages}`;
  const progress = setInterval(() => process.stderr.write(`${line()}\n`), a.progressMs);
  const stop = (): void => {
    clearInterval(progress);
    process.stdout.write(`node-min-client: ${line()}\n`);
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main();
