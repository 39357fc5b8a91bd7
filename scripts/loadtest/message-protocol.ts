// The layer above WebSocket frames: which messages are application payloads and how
// a payload yields its send timestamp and sequence number. Plain WebSocket ("ws")
// treats every data message as a payload; Socket.IO ("socketio") runs Engine.IO
// packets inside text frames (open "0{...}", connect "40", ping "2" -> pong "3",
// events '42["event",payload]').
import { OP_TEXT, encodeFrame } from './ws-codec';

export interface Stamp {
  /** microsecond wall-clock send time */
  t: number;
  /** per-publisher sequence number, -1 when the payload has none */
  seq: number;
}

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
  /** returns true when payload is an application message to track */
  onMessage<C>(c: C, opcode: number, payload: Buffer, link: ProtocolLink<C>): boolean;
  /** parses a tracked payload (called once per distinct payload bytes) */
  parse(payload: Buffer): Stamp | null;
}

/** Accepts the clock publisher's JSON ({"t":..,"seq":..}); anything else is untracked. */
export function stampFromValue(v: unknown): Stamp | null {
  if (typeof v === 'string') {
    try { v = JSON.parse(v); } catch { return null; }
  }
  if (!v || typeof v !== 'object') return null;
  const o = v as { t?: unknown; seq?: unknown };
  if (typeof o.t !== 'number' || !Number.isFinite(o.t)) return null;
  const seq = typeof o.seq === 'number' && Number.isInteger(o.seq) ? o.seq : -1;
  return { t: o.t, seq };
}

function parseJsonStamp(payload: Buffer): Stamp | null {
  let v: unknown;
  try { v = JSON.parse(payload.toString('utf8')); } catch { return null; }
  return stampFromValue(v);
}

export const wsProtocol: MessageProtocol = {
  name: 'ws',
  readyOnUpgrade: true,
  requestPath: (path) => path,
  onMessage: () => true,
  parse: parseJsonStamp,
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
  onMessage<C>(c: C, opcode: number, payload: Buffer, link: ProtocolLink<C>): boolean {
    if (opcode !== OP_TEXT || payload.length === 0) return false;
    const type = payload[0];
    if (type === 0x32 /* '2' ping */) { link.send(c, PONG); return false; }
    if (type === 0x30 /* '0' open */) { link.send(c, encodeFrame(OP_TEXT, CONNECT)); return false; }
    if (type === 0x34 /* '4' message */ && payload.length >= 2) {
      if (payload[1] === 0x30 /* '40' connected */) { link.ready(c); return false; }
      if (payload[1] === 0x32 /* '42' event */) return true;
    }
    return false;
  },
  parse(payload: Buffer): Stamp | null {
    // '42["event",payload]' or '42/nsp,["event",payload]'
    const s = payload.toString('utf8');
    const at = s.indexOf('[');
    if (at < 0) return null;
    let arr: unknown;
    try { arr = JSON.parse(s.slice(at)); } catch { return null; }
    return Array.isArray(arr) ? stampFromValue(arr[1]) : null;
  },
};

export function protocolByName(name: string): MessageProtocol {
  if (name === 'ws') return wsProtocol;
  if (name === 'socketio') return socketioProtocol;
  throw new Error(`unknown protocol "${name}" (ws or socketio)`);
}
