import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t } from 'uWebSockets.js';
import type { ConnectionAuth } from '../auth/connection-auth';
import { internClaims } from '../auth/topic-claims';
import type { HeraldConfig } from '../config';
import type { Hub } from '../hub/hub';
import type { Logger } from '../logger';
import { countClose, countRefusal, type WorkerStats } from '../metrics/worker-stats';
import type { Uws } from '../native-uws';
import { CloseCode } from '../protocol/close-codes';
import { BROADCAST_TOPIC } from '../protocol/topics';
import { AddressSet } from '../net/ip-address';
import { DRAIN_MODES, type DrainMode } from '../runtime/drain-mode';
import type { SampledLog } from '../runtime/sampled-log';
import { admitRequest, checkLoad, UPGRADE_REQUIRED, type Refusal } from './admission';
import { peerAddress, readClientAddress, type ClientAddressSettings } from './client-address';
import { ClientRateLimiter } from './client-rate-limiter';
import { CommandIntake } from './command-intake';
import { connectionAddress, NOTHING_TO_CARRY, type Connection, type ConnectionData, type ConnectionObserver } from './connection-data';
import type { ConnectionRegistry } from './connection-registry';
import { isWebSocketUpgrade } from './handshake';
import type { IpLimiter } from './ip-limiter';
import { refuse, upgrade as answerUpgrade } from './refusal';

/** Frames up to this size are read and answered with close code 1009; larger ones are dropped by uWS. */
const HARD_FRAME_LIMIT = 64 * 1024;
const NO_TOPICS: readonly string[] = Object.freeze([]);

export interface GatewayDeps {
  uws: Uws;
  /** The uWS app the hub publishes to. */
  app: TemplatedApp;
  config: HeraldConfig;
  log: Logger;
  stats: WorkerStats;
  hub: Hub;
  registry: ConnectionRegistry;
  /** Most WebSocket connections this worker takes before answering 503. */
  capacity: number;
  /** JWT checks; absent when auth is off. */
  auth?: ConnectionAuth;
  ipLimiter?: IpLimiter;
  /** Told of every connection that opens and closes, in this order (closes in the same order). */
  observers: ConnectionObserver[];
  /** Which proxies' word about the client address is believed (default: nobody's). */
  addresses?: ClientAddressSettings;
  /** Debug lines for connects, refusals, closes (and, from the worker, messages); absent below debug level. */
  traffic?: SampledLog<TrafficEvent>;
}

export type TrafficEvent = 'connect' | 'refuse' | 'close' | 'message';

export interface Gateway {
  listen(): Promise<number>;
  /** Closes the listen socket; existing connections stay. */
  stopAccepting(): void;
  /** Stops accepting, then closes every connection at `perSecond` at most, with the mode's close code. */
  drain(mode: DrainMode, perSecond: number): Promise<void>;
}

/**
 * The uWS side of a worker: the /ws route (admission, auth, open and close),
 * client frame limits, HTTP fallbacks, listening and draining. What a
 * connection is subscribed to, and everything sent to it, is the hub's.
 */
export function createGateway(deps: GatewayDeps): Gateway {
  const { uws, app, config, log, stats, hub, registry, capacity, auth, ipLimiter, observers, traffic } = deps;
  const addresses = deps.addresses ?? { trusted: new AddressSet([]), proxyProtocol: false };
  // The client's address is worked out only when something uses it.
  const wantsAddress = ipLimiter !== undefined || traffic !== undefined || addresses.trusted.size > 0;
  const limiter = new ClientRateLimiter(config.clientFrames.maxPerWindow, config.clientFrames.windowSeconds * 1000);
  // Envelope connections speak the command protocol; raw ones never have a frame parsed.
  const commands = config.commands.enabled ? new CommandIntake(config.commands, hub.commands, limiter, stats) : undefined;
  let listenSocket: us_listen_socket | null = null;
  let draining = false;
  stats.capacity = capacity;
  const load = () => ({ draining, connections: stats.connections, capacity });

  const refuseWith = (res: HttpResponse, refusal: Refusal, ip?: string) => {
    countRefusal(stats, refusal.label);
    traffic?.event('refuse', { ip, status: Number.parseInt(refusal.status, 10), reason: refusal.label }, 'upgrade refused');
    refuse(res, refusal.status, refusal.reason, refusal.headers);
  };

  /** A bug in a request handler answers 500 and leaves the worker, and its other connections, running. */
  const guard = (res: HttpResponse, handle: () => void) => {
    try {
      handle();
    } catch (err) {
      log.error({ err: (err as Error).stack ?? String(err) }, 'request handler failed');
      refuseWith(res, { status: '500 Internal Server Error', reason: 'internal error', label: 'internal_error' });
    }
  };

  /** Herald is push-only: a client may send a few frames of any kind per window, then it is cut off. */
  const flood = (ws: Connection) => {
    stats.clientFloodCloses++;
    ws.end(CloseCode.CLIENT_FLOOD, 'too many client messages');
  };
  const countFrame = (ws: Connection) => {
    if (!limiter.allow(ws)) flood(ws);
  };

  /** A bug in a connection's handler closes that connection (1011) and leaves the others alone. */
  function guardWs<A extends unknown[]>(handler: string, handle: (ws: Connection, ...args: A) => void) {
    return (ws: Connection, ...args: A) => {
      try {
        handle(ws, ...args);
      } catch (err) {
        log.error({ err: (err as Error).stack ?? String(err), handler }, 'connection handler failed');
        // Still registered means not closed yet (uWS runs the close handler inside end()).
        if (registry.has(ws)) ws.end(CloseCode.INTERNAL_ERROR, 'internal error');
      }
    };
  }

  const upgrade = (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
    const address = wantsAddress ? readClientAddress(res, req, addresses) : undefined;
    if (address && 'refusal' in address) return refuseWith(res, address.refusal, peerAddress(res));
    const ip = address?.ip;
    const loaded = checkLoad(load());
    if (loaded) return refuseWith(res, loaded, ip);
    const limited = ip === undefined ? undefined : ipLimiter?.check(ip);
    if (limited) {
      const reason = limited === 'ip_rate' ? 'too many upgrades from this address, slow down' : 'too many connections from this address';
      return refuseWith(res, { status: '429 Too Many Requests', reason, label: limited }, ip);
    }
    // Carried only when it is not the socket's own peer: most connections carry nothing (NOTHING_TO_CARRY).
    const carried = address?.viaProxy ? { ip: address.ip } : undefined;
    // uWS frees `req` when this handler returns: read every fact now.
    const facts = {
      upgrade: req.getHeader('upgrade'),
      connection: req.getHeader('connection'),
      key: req.getHeader('sec-websocket-key'),
      version: req.getHeader('sec-websocket-version'),
      query: req.getQuery() ?? '',
      protocol: req.getHeader('sec-websocket-protocol'),
    };
    const extensions = req.getHeader('sec-websocket-extensions');
    const decision = admitRequest(facts, config.topics.maxPerConnection);
    if (!decision.ok) return refuseWith(res, decision.refusal, ip);
    const { topics, session, token, protocol } = decision.admitted;
    if (!auth) {
      // uWS copies every property onto the socket, so only what the connection carries is set.
      const data = topics.length === 0 && !session && !carried ? NOTHING_TO_CARRY : { ...(topics.length > 0 ? { topics } : {}), ...(session ? { session } : {}), ...carried };
      stats.upgradesAccepted++;
      return answerUpgrade<ConnectionData>(res, data, facts.key, protocol, extensions, context);
    }
    const checked = auth.check(token, topics);
    if (!checked.ok) return refuseWith(res, { status: checked.status, reason: checked.reason, label: checked.label }, ip);
    const { identity } = checked;
    stats.upgradesAccepted++;
    const data: ConnectionData = { topics: checked.topics, sub: identity.sub, exp: identity.exp, ...(session ? { session } : {}), ...carried };
    // Later subscribe commands are checked against the claim; only connections that can send them keep it.
    if (session && commands && identity.topics !== undefined) data.claims = internClaims(identity.topics);
    answerUpgrade<ConnectionData>(res, data, facts.key, protocol, extensions, context);
  };

  app.ws<ConnectionData>('/ws', {
    compression: uws.DISABLED,
    // uWS drops a connection past maxPayloadLength without a close frame (clients see 1006).
    // Give it headroom so ordinary oversized frames get a proper 1009 from the message handler.
    maxPayloadLength: Math.max(config.clientFrames.maxBytes, HARD_FRAME_LIMIT),
    idleTimeout: config.liveness.idleTimeoutSeconds,
    sendPingsAutomatically: config.liveness.sendPings,
    maxBackpressure: config.slowConsumer.maxBufferedBytes,
    // Not closeOnBackpressureLimit: its close is indistinguishable from a network drop (1006 on
    // both ends). The slow-consumer sweep closes with a documented code and counts it.
    upgrade: (res, req, context) => guard(res, () => upgrade(res, req, context)),
    open: guardWs('open', (ws) => {
      // Bookkeeping first, so that the close handler balances it even if subscribing fails.
      stats.connections++;
      for (const observer of observers) observer.opened(ws);
      const { session, topics = NO_TOPICS } = ws.getUserData();
      traffic?.event('connect', { ip: connectionAddress(ws), topics: topics.length, recovering: session !== undefined }, 'connected');
      if (session) hub.recovery.open(ws, topics, session);
      else {
        ws.subscribe(BROADCAST_TOPIC);
        for (const topic of topics) ws.subscribe(topic);
      }
    }),
    message: guardWs('message', (ws, message, isBinary) => {
      // Raw clients are push-only: their frames are ignored, but oversized frames and floods are cut off.
      // Envelope clients' frames are commands, each answered, within a command budget.
      const session = commands ? ws.getUserData().session : undefined;
      if (message.byteLength > (session ? config.commands.maxBytes : config.clientFrames.maxBytes)) {
        stats.oversizedFrameCloses++;
        ws.end(CloseCode.MESSAGE_TOO_BIG, 'frame too large');
      } else if (session) {
        if (!commands!.receive(ws, message, isBinary)) flood(ws);
      } else countFrame(ws);
    }),
    // Control frames count too. uWS has already answered a ping with a pong when this runs,
    // so a ping flood gets at most clientFrames.maxPerWindow + 1 pongs before the close.
    ping: guardWs('ping', (ws) => countFrame(ws)),
    pong: guardWs('pong', (ws) => countFrame(ws)),
    close: guardWs('close', (ws, code, message) => {
      stats.connections--;
      countClose(stats, code);
      traffic?.event('close', { code, reason: Buffer.from(message).toString() }, 'closed');
      const session = ws.getUserData().session;
      if (session) hub.recovery.closed(session);
      for (const observer of observers) observer.closed(ws);
      limiter.forget(ws);
      if (code === 1006 && message.byteLength > 0 && Buffer.from(message).toString().includes('too big')) stats.oversizedFrameCloses++;
    }),
    // The broker only needs to deliver a topic here while some local connection holds it (raw, envelope or recovering).
    // Presence counts come from the same callback, which uWS also calls for each topic of a closing socket.
    // Without presence, only the first socket into a topic and the last out of it matter: the
    // others (every connection joining broadcast) skip decoding the topic name.
    subscription: (ws, topicBytes, newCount, oldCount) => {
      if (newCount > 0 && oldCount > 0 && !hub.countsEverySubscription) return;
      hub.onSubscription(ws, Buffer.from(topicBytes).toString('latin1'), newCount, oldCount);
    },
  });

  // uWS routes only well-formed upgrades to the ws handler; anything else aimed at /ws lands here.
  app.any('/ws', (res, req) =>
    guard(res, () => {
      const ip = traffic && peerAddress(res);
      if (!isWebSocketUpgrade(req.getHeader('upgrade'), req.getHeader('connection'))) {
        return refuseWith(res, { status: '426 Upgrade Required', reason: 'this endpoint speaks WebSocket only', label: 'bad_request', headers: UPGRADE_REQUIRED }, ip);
      }
      if (req.getMethod() !== 'get') return refuseWith(res, { status: '400 Bad Request', reason: 'malformed WebSocket handshake: the method must be GET', label: 'bad_request' }, ip);
      refuseWith(res, { status: '400 Bad Request', reason: 'malformed WebSocket handshake: missing or malformed Sec-WebSocket-Key', label: 'bad_request' }, ip);
    }),
  );

  app.any('/*', (res, req) => {
    traffic?.event('refuse', { ip: peerAddress(res), status: 404, method: req.getMethod(), path: req.getUrl() }, 'not found');
    res.writeStatus('404 Not Found').writeHeader('Content-Type', 'text/plain').end('not found: WebSocket endpoint is /ws\n');
  });

  const listen = () =>
    new Promise<number>((resolve, reject) => {
      app.listen(config.host, config.port, (token) => {
        if (!token) return reject(new Error(`cannot listen on ${config.host}:${config.port} (address in use or not allowed)`));
        listenSocket = token;
        stats.accepting = true;
        resolve(uws.us_socket_local_port(token as never));
      });
    });

  const stopAccepting = () => {
    if (listenSocket) uws.us_listen_socket_close(listenSocket);
    listenSocket = null;
    stats.accepting = false;
  };

  const drain = async (mode: DrainMode, perSecond: number) => {
    const { closeCode, reason, refuseNew } = DRAIN_MODES[mode];
    draining = refuseNew;
    stopAccepting();
    log.info({ connections: registry.size, perSecond, mode }, 'draining connections');
    await registry.closeAll(closeCode, reason, perSecond);
  };

  return { listen, stopAccepting, drain };
}
