import net from 'node:net';

/** What a server did with raw bytes: the bytes it answered and how the socket ended. */
export interface RawAnswer {
  text: string;
  /** HTTP status of the first final answer (interim answers such as 100 Continue skipped), if it sent one. */
  status?: number;
  /** 'closed' the server closed (FIN or reset), 'timeout' it held the socket past the wait, 'answered' we hung up after the answer. */
  ended: 'closed' | 'timeout' | 'answered';
  ms: number;
}

export interface RawOptions {
  host?: string;
  /** Hang up as soon as a final answer with this status has arrived (e.g. 101, or a keep-alive answer). */
  hangUpAfter?: (status: number) => boolean;
}

/** Status of the first final answer in `text` (interim answers such as 100 Continue are skipped; 101 is final). */
function finalStatus(text: string): number | undefined {
  return [...text.matchAll(/^HTTP\/1\.[01] (\d{3})/gm)].map((m) => Number(m[1])).find((code) => code >= 200 || code === 101);
}

/**
 * Sends raw bytes on a fresh TCP connection and collects the answer until the server
 * closes the socket or `waitMs` passes. For hostile input no HTTP client would send.
 */
export function rawExchange(port: number, request: string | Buffer, waitMs = 2000, options: RawOptions = {}): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const socket = net.connect(port, options.host ?? '127.0.0.1', () => socket.write(request));
    const chunks: Buffer[] = [];
    let ended: RawAnswer['ended'] = 'closed';
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (!options.hangUpAfter) return;
      const status = finalStatus(Buffer.concat(chunks).toString('latin1'));
      if (status !== undefined && options.hangUpAfter(status)) {
        ended = 'answered';
        socket.destroy();
      }
    });
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
      resolve({ text, status: finalStatus(text), ended, ms: Date.now() - started });
    });
  });
}
