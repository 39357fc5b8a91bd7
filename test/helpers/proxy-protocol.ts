import net from 'node:net';

const SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/** A PROXY protocol v2 header (PROXY command, TCP) claiming a connection from `source`, IPv4 or IPv6. */
export function proxyV2Header(source: string, destination: string, sourcePort = 50000, destinationPort = 443): Buffer {
  const v6 = source.includes(':');
  const size = v6 ? 36 : 12;
  const body = Buffer.alloc(4 + size);
  body[0] = 0x21; // version 2, PROXY
  body[1] = v6 ? 0x21 : 0x11; // AF_INET6 or AF_INET, STREAM
  body.writeUInt16BE(size, 2);
  const write = (address: string, at: number) => {
    if (!v6) return address.split('.').forEach((octet, i) => (body[at + i] = Number(octet)));
    const [left, right = ''] = address.split('::');
    const groups = (s: string) => (s ? s.split(':') : []);
    const all = [...groups(left), ...new Array(8 - groups(left).length - groups(right).length).fill('0'), ...groups(right)];
    all.forEach((g, i) => body.writeUInt16BE(parseInt(g, 16), at + i * 2));
  };
  write(source, 4);
  write(destination, 4 + size / 2 - 2);
  body.writeUInt16BE(sourcePort, 4 + size - 4);
  body.writeUInt16BE(destinationPort, 4 + size - 2);
  return Buffer.concat([SIGNATURE, body]);
}

export interface RawUpgrade {
  status: number;
  /** The socket, left open after a 101 (the test closes it). */
  socket: net.Socket;
}

/** A WebSocket upgrade over a bare socket from `localAddress`, with bytes before it (a PROXY header) and extra headers. */
export function rawUpgrade(port: number, options: { localAddress?: string; prefix?: Buffer; headers?: string[]; host?: string } = {}): Promise<RawUpgrade> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ port, host: options.host ?? '127.0.0.1', localAddress: options.localAddress }, () => {
      if (options.prefix) socket.write(options.prefix);
      socket.write(
        'GET /ws HTTP/1.1\r\nHost: herald\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n' +
          (options.headers ?? []).map((h) => `${h}\r\n`).join('') +
          '\r\n',
      );
    });
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d.toString('latin1');
      const status = /^HTTP\/1\.1 (\d{3})/.exec(head);
      if (status && head.includes('\r\n\r\n')) {
        socket.removeAllListeners('data');
        socket.setTimeout(0);
        resolve({ status: Number(status[1]), socket });
      }
    });
    socket.on('error', reject);
    socket.setTimeout(10_000, () => {
      socket.destroy();
      reject(new Error(`no answer to the upgrade (${JSON.stringify(head)})`));
    });
  });
}
