import type { IncomingMessage, ServerResponse } from 'node:http';

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body, null, 2);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, contentType = 'text/plain'): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

export class BodyTooLargeError extends Error {}

/** How long a refused body may keep arriving (and be discarded) before the connection is cut. */
const DISCARD_MS = 5000;

/**
 * Reads a request body up to `limit` bytes; rejects with BodyTooLargeError past it.
 * Past the limit the rest is read and dropped (for DISCARD_MS at most, then the connection
 * is cut) rather than the connection reset at once or closed after the answer: either makes
 * the client's kernel drop the 413 before the client, still sending, reads it.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const tooLarge = () => {
      req.off('data', collect);
      req.resume();
      const cut = setTimeout(() => req.socket.destroy(), DISCARD_MS);
      req.once('end', () => clearTimeout(cut));
      reject(new BodyTooLargeError());
    };
    const chunks: Buffer[] = [];
    let size = 0;
    const collect = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) tooLarge();
      else chunks.push(chunk);
    };
    if (Number(req.headers['content-length'] ?? 0) > limit) return tooLarge();
    req.on('data', collect);
    req.on('end', () => resolve(Buffer.concat(chunks, size)));
    req.on('error', reject);
  });
}
