import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket, us_socket_context_t, WebSocket } from 'uWebSockets.js';
import type { BrokerSubscriber } from '../broker/broker';
import type { HeraldConfig } from '../config';
import type { Logger } from '../logger';
import type { Uws } from '../native-uws';
import { CloseCode } from '../protocol/close-codes';
import { parseQuery } from '../protocol/query-string';
import { BROADCAST_TOPIC, parseTopicList } from '../protocol/topics';
import { countRefusal, type WorkerStats } from '../hub/worker-stats';
import type { AuthData, ConnectionAuth } from '../auth/connection-auth';
import { tokenFromRequest } from '../auth/token-source';
import { ClientRateLimiter } from './client-rate-limiter';
import { IpLimiter } from './ip-limiter';
import { ConnectionRegistry } from './connection-registry';
import { isValidKey, isWebSocketUpgrade } from './handshake';
import { parseRecoveryQuery, type EnvelopeSession, type RecoveryManager } from './recovery';
import { refuse, upgrade as answerUpgrade } from './refusal';
import { TopicInterest } from './topic-interest';

/** What a connection carries from upgrade to open. */
interface ConnectionData extends AuthData {
  topics?: readonly string[];
  /** Set for ?format=envelope connections (and their ?since= positions). */
  session?: EnvelopeSession;
}
/** Frames up to this size are read and answered with close code 1009; larger ones are dropped by uWS. */
const HARD_FRAME_LIMIT = 64 * 1024;

/**
 * uWS.js copies every property of the upgrade's user data onto the socket's own JS object,
 * so a connection with nothing to carry gets an object with no properties: measured, a
 * one-property object costs about 40 B of heap and 160 B of RSS per connection.
 */
const NOTHING_TO_CARRY: ConnectionData = Object.freeze({});
const NO_TOPICS: readonly string[] = Object.freeze([]);

export interface GatewayDeps {
  uws: Uws;
  config: HeraldConfig;
  log: Logger;
  stats: WorkerStats;
  subscriber: BrokerSubscriber;
  /** Most WebSocket connections this worker takes before answering 503. */
  capacity: number;
  /** Envelope connections and recovery after reconnect (?format=envelope&since=...). */
  recovery?: RecoveryManager;
  /** Told when this worker stops receiving a topic from the broker. */
  onTopicLapse?: (topic: string) => void;
  /** JWT checks; absent when auth is off. */
  auth?: ConnectionAuth;
}

export interface Gateway {
  readonly app: TemplatedApp;
  listen(): Promise<number>;
  /** Closes the listen socket; existing connections stay. */
  stopAccepting(): void;
  /**
   * Stops accepting, then closes every connection at a bounded rate. With refuseNew false
   * (rolling restart), an upgrade already in flight is still served, then closed by the drain too.
   */
  drain(closeCode: number, reason: string, perSecond: number, refuseNew?: boolean): Promise<void>;
}

/** Query parameters herald reads; each may appear once (a second value would be ignored silently). */
const QUERY_PARAMS = ['topics', 'format', 'since', 'token'];
const UPGRADE_REQUIRED = { Upgrade: 'websocket', Connection: 'Upgrade' };

export function createGateway(deps: GatewayDeps): Gateway {
  const { uws, config, log, stats, subscriber, capacity, auth } = deps;
  const app = uws.App();
  const sockets = new ConnectionRegistry<ConnectionData>();
  const limiter = new ClientRateLimiter(config.clientFrames.maxPerWindow, config.clientFrames.windowSeconds * 1000);
  const ipLimiter = IpLimiter.fromConfig(config.limits.perIp);
  const interest = subscriber.needsTopicInterest ? new TopicInterest(subscriber, deps.onTopicLapse) : undefined;
  let listenSocket: us_listen_socket | null = null;
  let draining = false;
  stats.capacity = capacity;

  const upgrade = (res: HttpResponse, req: HttpRequest, context: us_socket_context_t) => {
    if (draining) {
      countRefusal(stats, 'draining');
      return refuse(res, '503 Service Unavailable', 'server is shutting down');
    }
    if (stats.connections >= capacity) {
      countRefusal(stats, 'capacity');
      return refuse(res, '503 Service Unavailable', 'worker at capacity, retry later');
    }
    const limited = ipLimiter?.check(Buffer.from(res.getRemoteAddressAsText()).toString());
    if (limited) {
      countRefusal(stats, limited);
      return refuse(res, '429 Too Many Requests', limited === 'ip_rate' ? 'too many upgrades from this address, slow down' : 'too many connections from this address');
    }
    if (!isWebSocketUpgrade(req.getHeader('upgrade'), req.getHeader('connection'))) {
      countRefusal(stats, 'bad_request');
      return refuse(res, '426 Upgrade Required', 'not a WebSocket handshake: it needs Upgrade: websocket and Connection: Upgrade', UPGRADE_REQUIRED);
    }
    const key = req.getHeader('sec-websocket-key');
    if (!isValidKey(key)) {
      countRefusal(stats, 'bad_request');
      return refuse(res, '400 Bad Request', 'missing or malformed Sec-WebSocket-Key');
    }
    if (req.getHeader('sec-websocket-version') !== '13') {
      countRefusal(stats, 'bad_request');
      return refuse(res, '426 Upgrade Required', 'unsupported Sec-WebSocket-Version, use 13', { 'Sec-WebSocket-Version': '13' });
    }
    const query = parseQuery(req.getQuery() ?? '', QUERY_PARAMS);
    if (!query.ok) {
      countRefusal(stats, 'bad_request');
      return refuse(res, '400 Bad Request', query.reason);
    }
    const params = query.params;
    const parsed = parseTopicList(params.get('topics') ?? '', config.topics.maxPerConnection);
    if (!parsed.ok) {
      countRefusal(stats, 'bad_topics');
      return refuse(res, '400 Bad Request', parsed.reason);
    }
    const recovery = parseRecoveryQuery(params.get('format') ?? '', params.get('since') ?? '', parsed.topics);
    if (!recovery.ok) {
      countRefusal(stats, 'bad_recovery');
      return refuse(res, '400 Bad Request', recovery.reason);
    }
    if (auth) {
      // The token check is asynchronous: read every header now, uWS frees `req` when this returns.
      const { token, protocol } = tokenFromRequest(params.get('token') ?? '', req.getHeader('sec-websocket-protocol'));
      const extensions = req.getHeader('sec-websocket-extensions');
      return auth.upgrade(res, token, parsed.topics, {
        accept: (identity, topics) =>
          guard(res, () => {
            stats.upgradesAccepted++;
            answerUpgrade<ConnectionData>(res, { topics, sub: identity.sub, exp: identity.exp, session: recovery.session }, key, protocol, extensions, context);
          }),
        refuse: (status, reason, label) => {
          countRefusal(stats, label);
          refuse(res, status, reason);
        },
      });
    }
    const data = parsed.topics.length === 0 && !recovery.session ? NOTHING_TO_CARRY : { topics: parsed.topics, session: recovery.session };
    stats.upgradesAccepted++;
    answerUpgrade(res, data, key, req.getHeader('sec-websocket-protocol'), req.getHeader('sec-websocket-extensions'), context);
  };

  /** Herald is push-only: a client may send a few frames of any kind per window, then it is cut off. */
  const countFrame = (ws: WebSocket<ConnectionData>) => {
    if (limiter.allow(ws)) return;
    stats.clientFloodCloses++;
    ws.end(CloseCode.CLIENT_FLOOD, 'too many client messages');
  };

  /** A bug in a connection's handler closes that connection (1011) and leaves the others alone. */
  function guardWs<A extends unknown[]>(handler: string, handle: (ws: WebSocket<ConnectionData>, ...args: A) => void) {
    return (ws: WebSocket<ConnectionData>, ...args: A) => {
      try {
        handle(ws, ...args);
      } catch (err) {
        log.error({ err: (err as Error).stack ?? String(err), handler }, 'connection handler failed');
        // Still registered means not closed yet (uWS runs the close handler inside end()).
        if (sockets.has(ws)) ws.end(CloseCode.INTERNAL_ERROR, 'internal error');
      }
    };
  }

  /** A bug in a request handler answers 500 and leaves the worker, and its other connections, running. */
  const guard = (res: HttpResponse, handle: () => void) => {
    try {
      handle();
    } catch (err) {
      log.error({ err: (err as Error).stack ?? String(err) }, 'request handler failed');
      countRefusal(stats, 'internal_error');
      refuse(res, '500 Internal Server Error', 'internal error');
    }
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
    // both ends). The slow-consumer sweep below closes with a documented code and counts it.
    upgrade: (res, req, context) => guard(res, () => upgrade(res, req, context)),
    open: guardWs('open', (ws) => {
      // Bookkeeping first, so that the close handler balances it even if subscribing fails.
      sockets.add(ws);
      stats.connections++;
      auth?.opened(ws);
      ipLimiter?.opened(ws, Buffer.from(ws.getRemoteAddressAsText()).toString());
      const { session, topics = NO_TOPICS } = ws.getUserData();
      if (session && deps.recovery) deps.recovery.open(ws, topics, session);
      else {
        ws.subscribe(BROADCAST_TOPIC);
        for (const topic of topics) ws.subscribe(topic);
      }
    }),
    message: guardWs('message', (ws, message) => {
      // Herald is push-only: client messages are ignored, but oversized frames and floods are cut off.
      if (message.byteLength > config.clientFrames.maxBytes) {
        stats.oversizedFrameCloses++;
        ws.end(CloseCode.MESSAGE_TOO_BIG, 'frame too large');
      } else countFrame(ws);
    }),
    // Control frames count too. uWS has already answered a ping with a pong when this runs,
    // so a ping flood gets at most clientFrames.maxPerWindow + 1 pongs before the close.
    ping: guardWs('ping', (ws) => countFrame(ws)),
    pong: guardWs('pong', (ws) => countFrame(ws)),
    close: guardWs('close', (ws, code, message) => {
      sockets.delete(ws);
      const session = ws.getUserData().session;
      if (session) deps.recovery?.close(session);
      auth?.closed(ws);
      ipLimiter?.closed(ws);
      limiter.forget(ws);
      stats.connections--;
      if (code === 1006 && message.byteLength > 0 && Buffer.from(message).toString().includes('too big')) stats.oversizedFrameCloses++;
    }),
    // Redis only needs to hear of a topic while some local connection listens to it (raw, envelope or recovering).
    subscription: interest
      ? (_ws, topicBytes, newCount, oldCount) => interest.onSubscription(Buffer.from(topicBytes).toString('latin1'), newCount, oldCount)
      : undefined,
  });

  // uWS routes only well-formed upgrades to the ws handler; anything else aimed at /ws lands here.
  app.any('/ws', (res, req) =>
    guard(res, () => {
      countRefusal(stats, 'bad_request');
      if (!isWebSocketUpgrade(req.getHeader('upgrade'), req.getHeader('connection'))) {
        return refuse(res, '426 Upgrade Required', 'this endpoint speaks WebSocket only', UPGRADE_REQUIRED);
      }
      if (req.getMethod() !== 'get') return refuse(res, '400 Bad Request', 'malformed WebSocket handshake: the method must be GET');
      refuse(res, '400 Bad Request', 'malformed WebSocket handshake: missing or malformed Sec-WebSocket-Key');
    }),
  );

  app.any('/*', (res) => {
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

  const drain = async (closeCode: number, reason: string, perSecond: number, refuseNew = true) => {
    draining = refuseNew;
    clearInterval(sweepTimer);
    stopAccepting();
    log.info({ connections: sockets.size, perSecond }, 'draining connections');
    await sockets.closeAll(closeCode, reason, perSecond);
  };

  // Slow consumers: uWS skips messages for a connection whose buffer is over maxBackpressure.
  // Once a second, and only if messages went out since, find those connections and apply the policy.
  let sweptAt = -1;
  const sweepTimer = setInterval(() => {
    if (stats.messagesPublished === sweptAt) return;
    sweptAt = stats.messagesPublished;
    const slow = sockets.overBuffered(config.slowConsumer.maxBufferedBytes);
    stats.slowConsumersNow = slow.length;
    if (config.slowConsumer.policy !== 'close') return;
    for (const ws of slow) {
      sockets.delete(ws);
      stats.slowConsumerCloses++;
      ws.end(CloseCode.SLOW_CONSUMER, 'slow consumer');
    }
    if (slow.length > 0) log.warn({ closed: slow.length }, 'closed slow consumers');
  }, 1000);
  sweepTimer.unref();

  return { app, listen, stopAccepting, drain };
}
