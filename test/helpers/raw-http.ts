import net from 'node:net';

/** What a server did with raw bytes: the bytes it answered and how the socket ended. */
export interface RawAnswer {
  text: string;
  /** HTTP status of the first answer, if it sent one. */
  status?: number;
  /** 'closed' the server closed (FIN or reset), 'timeout' it held the socket past the wait. */
  ended: 'closed' | 'timeout';
  ms: number;
}

/**
 * Sends raw bytes on a fresh TCP connection and collects the answer until the server
 * closes the socket or `waitMs` passes. For hostile input no HTTP client would send.
 */
export function rawExchange(port: number, request: string | Buffer, waitMs = 2000, host = '127.0.0.1'): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, host, () => socket.write(request));
    const chunks: Buffer[] = [];
    let ended: RawAnswer['ended'] = 'closed';
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.setTimeout(waitMs, () => {
      ended = 'timeout';
      socket.destroy();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // A reset after (or instead of) an answer is a close; refusing the connection is not.
      if (err.code === 'ECONNREFUSED') reject(err);
    });
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('latin1');
      const status = /^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1];
      resolve({ text, status: status ? Number(status) : undefined, ended, ms: Date.now() - started });
    });
  });
}
