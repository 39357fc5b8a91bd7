import WebSocket from 'ws';

/** A real WebSocket client (the `ws` package) that records what it receives. */
export interface Received {
  data: Buffer;
  isBinary: boolean;
}

export class Client {
  readonly messages: Received[] = [];
  closeCode?: number;
  closeReason?: string;
  readonly closed: Promise<number>;

  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, isBinary: boolean) => this.messages.push({ data, isBinary }));
    this.closed = new Promise((resolve) =>
      ws.on('close', (code, reason) => {
        this.closeCode = code;
        this.closeReason = reason.toString();
        resolve(code);
      }),
    );
    ws.on('error', () => {}); // surfaced through `closed`
  }
}

/** Opens one client; rejects with the HTTP status and body when the upgrade is refused. */
export function connect(url: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false, ...options });
    const client = new Client(ws);
    ws.once('open', () => resolve(client));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body.trim()}`), { status: res.statusCode, body })));
    });
    ws.once('error', reject);
  });
}

/** Opens `count` clients, `concurrency` handshakes at a time. */
export function connectMany(url: string, count: number, concurrency = 200): Promise<Client[]> {
  return connectEach(() => url, count, concurrency);
}

/** Opens `count` clients, client i to urlOf(i) (e.g. its own user topic), `concurrency` handshakes at a time; clients[i] is client i. */
export async function connectEach(urlOf: (i: number) => string, count: number, concurrency = 200): Promise<Client[]> {
  const clients: Client[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const i = next++;
      clients[i] = await connect(urlOf(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
  return clients;
}

export function closeAll(clients: Client[]): void {
  for (const c of clients) c.ws.terminate();
}
