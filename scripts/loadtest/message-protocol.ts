// The layer above WebSocket frames: which messages are application payloads to
// track (their stamp is read by clock-stamp.ts). Plain WebSocket ("ws")
// treats every data message as a payload; Socket.IO ("socketio") runs Engine.IO
// packets inside text frames (open "0{...}", connect "40", ping "2" -> pong "3",
// events '42["event",payload]').
import { OP_TEXT, encodeFrame } from './ws-codec';

export interface ProtocolLink<C> {
  send(c: C, frame: Buffer): void;
  /** the connection is ready for traffic (counts as connected) */
  ready(c: C): void;
}

export interface MessageProtocol {
  readonly name: 'ws' | 'socketio';
  /** request path for a target path, e.g. '/ws' or '/socket.io/?EIO=4&transport=websocket' */
  requestPath(path: string): string;
  /** true when the 101 response already means connected */
  readonly readyOnUpgrade: boolean;
  /** returns true when bytes [start, end) of buf are an application message to track */
  onMessage<C>(c: C, opcode: number, buf: Buffer, start: number, end: number, link: ProtocolLink<C>): boolean;
}

export const wsProtocol: MessageProtocol = {
  name: 'ws',
  readyOnUpgrade: true,
  requestPath: (path) => path,
  onMessage: () => true,
};

const PONG = encodeFrame(OP_TEXT, Buffer.from('3'));
const CONNECT = Buffer.from('40');

export const socketioProtocol: MessageProtocol = {
  name: 'socketio',
  readyOnUpgrade: false,
  requestPath: (path) => {
    const base = path === '/ws' || path === '/' ? '/socket.io/' : path;
    return base.includes('?') ? base : `${base}?EIO=4&transport=websocket`;
  },
  onMessage<C>(c: C, opcode: number, buf: Buffer, start: number, end: number, link: ProtocolLink<C>): boolean {
    if (opcode !== OP_TEXT || end <= start) return false;
    const type = buf[start];
    if (type === 0x32 /* '2' ping */) { link.send(c, PONG); return false; }
    if (type === 0x30 /* '0' open */) { link.send(c, encodeFrame(OP_TEXT, CONNECT)); return false; }
    if (type === 0x34 /* '4' message */ && end - start >= 2) {
      if (buf[start + 1] === 0x30 /* '40' connected */) { link.ready(c); return false; }
      // '42["event",payload]': the stamp is read from the whole packet (clock-stamp.ts).
      if (buf[start + 1] === 0x32 /* '42' event */) return true;
    }
    return false;
  },
};

export function protocolByName(name: string): MessageProtocol {
  if (name === 'ws') return wsProtocol;
  if (name === 'socketio') return socketioProtocol;
  throw new Error(`unknown protocol "${name}" (ws or socketio)`);
}
