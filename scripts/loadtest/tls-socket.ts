// wss:// for the load client: the same sink callbacks as raw-tcp.ts, over Node's TLS sockets.
// A TLS connection costs the client far more than a bare TCP handle (a net.Socket, the TLS
// state, buffers), so wss runs hold fewer connections per process; what a wss benchmark
// measures is the server's side, read from the server's processes.
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { rawClose, rawConnect, rawWrite, UV_EOF, type RawHandle, type RawSocketSink } from './raw-tcp';

/** How a pool opens, writes and closes its connections. */
export interface Transport {
  connect<C>(sink: RawSocketSink<C>, ctx: C, host: string, port: number, localAddress?: string): RawHandle;
  /** 0 or a negative errno */
  write(h: RawHandle, data: Buffer): number;
  close(h: RawHandle): void;
}

export const TCP: Transport = { connect: rawConnect, write: rawWrite, close: rawClose };

/** libuv's EPROTO: a TLS failure (untrusted certificate, handshake alert) is reported as this. */
const UV_EPROTO = -71;

/** A negative errno for a socket error, as raw-tcp reports them. */
function errnoOf(err: NodeJS.ErrnoException): number {
  const n = (os.constants.errno as Record<string, number>)[err.code ?? ''];
  return n ? -n : UV_EPROTO;
}

interface TlsHandle {
  socket: tls.TLSSocket;
  closed: boolean;
}

/** TLS connections that trust `caPem` (PEM text: it crosses IPC to the client processes) or the system's CAs. */
export function tlsTransport(caPem?: string): Transport {
  return {
    connect<C>(sink: RawSocketSink<C>, ctx: C, host: string, port: number, localAddress?: string): RawHandle {
      // The TCP socket is made first so it can be bound to a source address (--source-ips).
      const tcp = net.connect({ host, port, localAddress });
      const socket = tls.connect({ socket: tcp, servername: /^[\d.:]+$/.test(host) ? undefined : host, ca: caPem, ALPNProtocols: ['http/1.1'] });
      tcp.once('error', (err: NodeJS.ErrnoException) => socket.destroy(err));
      const h: TlsHandle = { socket, closed: false };
      let connected = false;
      socket.once('secureConnect', () => {
        connected = true;
        if (!h.closed) sink.onConnect(ctx, 0);
      });
      socket.on('data', (d: Buffer) => {
        if (!h.closed) sink.onData(ctx, d, d.length);
      });
      socket.once('error', (err: NodeJS.ErrnoException) => {
        if (h.closed) return;
        h.closed = true;
        if (connected) sink.onEnd(ctx, errnoOf(err));
        else sink.onConnect(ctx, errnoOf(err));
      });
      socket.once('close', () => {
        if (h.closed) return;
        h.closed = true;
        if (connected) sink.onEnd(ctx, UV_EOF);
        else sink.onConnect(ctx, UV_EOF);
      });
      return h as unknown as RawHandle;
    },
    write(h: RawHandle, data: Buffer): number {
      const t = h as unknown as TlsHandle;
      if (t.closed) return UV_EOF;
      t.socket.write(data);
      return 0;
    },
    close(h: RawHandle): void {
      const t = h as unknown as TlsHandle;
      t.closed = true;
      t.socket.destroy();
    },
  };
}
