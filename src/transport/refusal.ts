import type { HttpResponse, RecognizedString, us_socket_context_t } from 'uWebSockets.js';

/**
 * Responses already refused, so that a failing handler never answers twice. An
 * upgrade is the last thing its handler does, so only the latest one needs
 * remembering: a WeakSet entry per connection would cost every upgrade an
 * ephemeron for the garbage collector to trace.
 */
const answered = new WeakSet<HttpResponse>();
let lastUpgraded: HttpResponse | null = null;

/**
 * Answers a request that herald refuses and closes the connection after the answer.
 *
 * The answer is written on the next turn of the event loop, not inside uWS's HTTP parser:
 * uWS (v20.30) forgets an answered request's Connection: close when another request was
 * pipelined behind it in the same read, and serves that one too (a refused upgrade followed
 * by a good one got 400 and then 101). While this answer is still pending, uWS instead drops
 * the connection when it meets the pipelined request, which is right: RFC 6455 4.1 says a
 * client waits for the handshake answer before sending anything else.
 */
export function refuse(res: HttpResponse, status: string, body: string, headers: Record<string, string> = {}): void {
  if (res === lastUpgraded || answered.has(res)) return;
  answered.add(res);
  let aborted = false;
  res.onAborted(() => {
    aborted = true;
  });
  setImmediate(() => {
    if (aborted) return;
    res.cork(() => {
      res.writeStatus(status);
      for (const [name, value] of Object.entries(headers)) res.writeHeader(name, value);
      res.writeHeader('Content-Type', 'text/plain').end(`${body}\n`, true);
    });
  });
}

/** res.upgrade, remembered so that a handler failing right after it does not also refuse. */
export function upgrade<T>(res: HttpResponse, data: T, key: RecognizedString, protocol: RecognizedString, extensions: RecognizedString, context: us_socket_context_t): void {
  lastUpgraded = res;
  res.upgrade(data, key, protocol, extensions, context);
}
