import type { TLSSocket } from 'node:tls';
import type WebSocket from 'ws';
import { connect, type Client } from '../../scripts/harness/ws-clients';

/**
 * A client that reconnects at once (with a little jitter) when told to (close code 4000),
 * and records every close, every failed attempt and, over TLS, the certificate of every connection.
 */
export class ReconnectingClient {
  current?: Client;
  readonly closes: { code: number; at: number }[] = [];
  readonly failures: string[] = [];
  /** SHA-256 fingerprints of the server certificates, one per connection (wss:// only). */
  readonly certificates: string[] = [];
  stopped = false;

  constructor(private readonly url: string, private readonly options: WebSocket.ClientOptions = {}) {}

  async open(): Promise<void> {
    try {
      const client = await connect(this.url, this.options);
      this.current = client;
      const socket = (client.ws as unknown as { _socket?: TLSSocket })._socket;
      if (socket && 'getPeerCertificate' in socket) this.certificates.push(socket.getPeerCertificate().fingerprint256);
      void client.closed.then((code) => {
        this.closes.push({ code, at: Date.now() });
        if (code === 4000 && !this.stopped) setTimeout(() => void this.open(), Math.random() * 20);
      });
    } catch (err) {
      this.failures.push((err as Error).message);
    }
  }

  get isOpen(): boolean {
    return this.current?.ws.readyState === 1;
  }

  stop(): void {
    this.stopped = true;
    this.current?.ws.terminate();
  }
}
