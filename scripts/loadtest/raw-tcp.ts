// Lean TCP client sockets on Node's own libuv TCP handles, without net.Socket.
// Why: a net.Socket (stream states, event emitter, closures) measured ~2.2-4.3 KB
// of RSS per idle connection here, a bare TCP handle ~1.0-1.4 KB. The load client
// must hold ~19,000 sockets per process within a 3 KB/connection budget.
// The handles come from process.binding('tcp_wrap'), the same primitives net.Socket
// is built on; the wrappers below keep their use in one place.
//
// Every handle reads into one shared buffer (useUserBuffer, what net's `onread`
// option uses): by default Node allocates a 64 KB ArrayBuffer per read and wraps
// it in a Buffer, which cost this client more CPU per received message than the
// rest of its JavaScript. A read is handed to the sink synchronously and must be
// consumed (or copied) before onData returns.

/* eslint-disable @typescript-eslint/no-explicit-any */
const tcpWrap: any = (process as any).binding('tcp_wrap');
const streamWrap: any = (process as any).binding('stream_wrap');
const { TCP, TCPConnectWrap, constants } = tcpWrap;
const { WriteWrap, streamBaseState, kReadBytesOrError, kLastWriteWasAsync } = streamWrap;

/** The one read buffer of this process; 64 KB is libuv's own read size. */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

/** Callbacks shared by all sockets of a pool (no per-socket closures). */
export interface RawSocketSink<C> {
  onConnect(ctx: C, status: number): void;
  /** bytes [0, length) of `data` were read; valid only during the call */
  onData(ctx: C, data: Buffer, length: number): void;
  /** errno < 0: UV_EOF (-4095) on orderly close by peer, other negatives are errors. */
  onEnd(ctx: C, errno: number): void;
}

/** The handle type is opaque to callers. */
export type RawHandle = { readonly __raw: unique symbol };

export const UV_EOF = -4095;

function onWriteDone(this: any, status: number): void {
  // Write failures surface as a read error/EOF on the same handle; nothing to do here.
  void status;
}

/**
 * Opens a TCP connection from localAddress (bound before connect, port chosen by the kernel)
 * to host:port. ctx is stored on the handle and passed back to the sink.
 * Returns the handle, or throws with the errno name when bind/connect fail synchronously.
 */
export function rawConnect<C>(sink: RawSocketSink<C>, ctx: C, host: string, port: number, localAddress?: string): RawHandle {
  const h = new TCP(constants.SOCKET);
  h.ctx = ctx;
  h.sink = sink;
  h.onread = onRead;
  h.useUserBuffer(READ_BUFFER);
  let err = 0;
  if (localAddress) {
    err = localAddress.includes(':') ? h.bind6(localAddress, 0, 0) : h.bind(localAddress, 0);
    if (err) { h.close(); throw errnoError('bind', err); }
  }
  const req = new TCPConnectWrap();
  req.oncomplete = onConnectDone;
  err = host.includes(':') ? h.connect6(req, host, port) : h.connect(req, host, port);
  // Reading starts at once, not when the connect completes: libuv then registers the
  // socket with epoll once for both directions (one epoll_ctl fewer per connection).
  // The connect completion is still reported first, errors included.
  if (!err) err = h.readStart();
  if (err) { h.close(); throw errnoError('connect', err); }
  return h as RawHandle;
}

function onConnectDone(status: number, h: any): void {
  h.sink.onConnect(h.ctx, status);
}

function onRead(this: any): void {
  const n = streamBaseState[kReadBytesOrError];
  if (n > 0) this.sink.onData(this.ctx, READ_BUFFER, n);
  else if (n < 0) this.sink.onEnd(this.ctx, n);
}

/**
 * The request object for the next write. A write that completes at once (all of this
 * client's writes, in practice: a handshake or a pong) leaves it untouched, so it is
 * reused; one that has to wait keeps it, and a fresh one is made.
 */
let writeReq = newWriteReq();
function newWriteReq(): any {
  const req = new WriteWrap();
  req.oncomplete = onWriteDone;
  return req;
}

/** Writes data; returns 0 or a negative errno. */
export function rawWrite(h: RawHandle, data: Buffer): number {
  const req = writeReq;
  req.handle = h;
  const err = (h as any).writeBuffer(req, data);
  if (streamBaseState[kLastWriteWasAsync]) writeReq = newWriteReq();
  else req.handle = null;
  return err;
}

/** Closes the handle; no further callbacks are made for it. */
export function rawClose(h: RawHandle): void {
  const a = h as any;
  if (a.closed) return;
  a.closed = true;
  a.onread = noop;
  a.close();
}
function noop(): void { /* handle is closing; reads are dropped on purpose */ }

export function errnoError(syscall: string, errno: number): Error & { code: string } {
  const name = errnoName(errno);
  const e = new Error(`${syscall} ${name}`) as Error & { code: string };
  e.code = name;
  return e;
}

export function errnoName(errno: number): string {
  try {
    // util.getSystemErrorName maps libuv's negative errnos to ECONNREFUSED etc.
    return require('node:util').getSystemErrorName(errno);
  } catch {
    return `E${errno}`;
  }
}
