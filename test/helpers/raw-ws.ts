import net from 'node:net';

/** One client frame, described field by field so tests can build frames no real client would send. */
export interface FrameSpec {
  opcode: number;
  payload?: Buffer;
  fin?: boolean;
  /** RSV1..3 bits, 0 to 7. */
  rsv?: number;
  /** Mask the frame (clients must); false sends it unmasked. */
  mask?: boolean;
  /** Length field encoding: the shortest one (default), or forced to the 16-bit or 64-bit form. */
  length?: 'shortest' | '16' | '64';
}

export function encodeFrame(spec: FrameSpec): Buffer {
  const payload = spec.payload ?? Buffer.alloc(0);
  const mask = spec.mask !== false;
  const n = payload.length;
  const form = spec.length ?? 'shortest';
  const head = [((spec.fin === false ? 0 : 1) << 7) | ((spec.rsv ?? 0) << 4) | (spec.opcode & 0x0f)];
  const maskBit = mask ? 0x80 : 0;
  let ext = Buffer.alloc(0);
  if (form === '64' || (form === 'shortest' && n > 0xffff)) {
    head.push(maskBit | 127);
    ext = Buffer.alloc(8);
    ext.writeBigUInt64BE(BigInt(n));
  } else if (form === '16' || n > 125) {
    head.push(maskBit | 126);
    ext = Buffer.alloc(2);
    ext.writeUInt16BE(n);
  } else head.push(maskBit | n);
  if (!mask) return Buffer.concat([Buffer.from(head), ext, payload]);
  const key = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
  const body = Buffer.from(payload.map((b, i) => b ^ key[i % 4]));
  return Buffer.concat([Buffer.from(head), ext, key, body]);
}

/** A frame the server sent (servers never mask). */
export interface ServerFrame {
  opcode: number;
  payload: Buffer;
}

/**
 * A WebSocket client over a bare TCP socket: it writes whatever bytes a test gives it and
 * records the frames the server sends and how the connection ended.
 */
export class RawWs {
  readonly frames: ServerFrame[] = [];
  /** Close code from the server's close frame; undefined when the socket ended without one (a client sees 1006). */
  closeCode?: number;
  closeReason?: string;
  readonly ended: Promise<void>;
  private pending = Buffer.alloc(0);

  private constructor(readonly socket: net.Socket) {
    this.ended = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {}); // a reset is one way of ending; `ended` reports it
  }

  static open(port: number, path = '/ws', host = '127.0.0.1'): Promise<RawWs> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host, () => {
        socket.write(
          `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
        );
      });
      let head = Buffer.alloc(0);
      const onData = (d: Buffer) => {
        head = Buffer.concat([head, d]);
        const end = head.indexOf('\r\n\r\n');
        if (end < 0) return;
        socket.off('data', onData);
        const status = head.subarray(0, end).toString('latin1');
        if (!status.startsWith('HTTP/1.1 101')) {
          socket.destroy();
          return reject(new Error(`upgrade refused: ${status.split('\r\n')[0]}`));
        }
        const ws = new RawWs(socket);
        socket.on('data', (chunk: Buffer) => ws.onData(chunk));
        ws.onData(head.subarray(end + 4));
        resolve(ws);
      };
      socket.on('data', onData);
      socket.once('error', reject);
    });
  }

  send(bytes: Buffer | FrameSpec): void {
    if (!this.socket.destroyed) this.socket.write(Buffer.isBuffer(bytes) ? bytes : encodeFrame(bytes));
  }

  /** Frames with this opcode received so far. */
  count(opcode: number): number {
    return this.frames.filter((f) => f.opcode === opcode).length;
  }

  get isOpen(): boolean {
    return !this.socket.destroyed && !this.socket.readableEnded;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onData(chunk: Buffer): void {
    this.pending = Buffer.concat([this.pending, chunk]);
    for (;;) {
      const b = this.pending;
      if (b.length < 2) return;
      let len = b[1] & 0x7f;
      let at = 2;
      if (len === 126) {
        if (b.length < 4) return;
        len = b.readUInt16BE(2);
        at = 4;
      } else if (len === 127) {
        if (b.length < 10) return;
        len = Number(b.readBigUInt64BE(2));
        at = 10;
      }
      if (b.length < at + len) return;
      const frame = { opcode: b[0] & 0x0f, payload: b.subarray(at, at + len) };
      this.frames.push(frame);
      if (frame.opcode === 8 && this.closeCode === undefined && len >= 2) {
        this.closeCode = frame.payload.readUInt16BE(0);
        this.closeReason = frame.payload.subarray(2).toString();
      }
      this.pending = b.subarray(at + len);
    }
  }
}
