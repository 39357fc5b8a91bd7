import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { Duplex } from 'node:stream';
import { BrokerUnavailableError, type Broker } from '../broker/broker';
import type { HeraldConfig } from '../config';
import type { WorkerSnapshot } from '../metrics/worker-stats';
import type { Logger } from '../logger';
import { parseRequestTarget } from '../protocol/query-string';
import { isValidTopic } from '../protocol/topics';
import { SampledLog } from '../runtime/sampled-log';
import { clusterStatus } from './cluster-status';
import { controlRoutes, type ControlRouteDeps } from './control-routes';
import { DASHBOARD_HTML } from './dashboard-page';
import { BodyTooLargeError, readBody, sendJson, sendText } from './http-util';

export interface AdminDeps {
  config: HeraldConfig;
  log: Logger;
  /** The primary's broker: POST /publish and the publisher half of /health. */
  publisher: Pick<Broker, 'publish' | 'state'>;
  snapshot: () => Promise<WorkerSnapshot[]>;
  /** Prometheus text for GET /metrics, aggregated over the workers. */
  metrics?: { contentType: string; scrape: () => Promise<string> };
  /** POST /subscribe, /unsubscribe, /disconnect and GET /presence. */
  control?: ControlRouteDeps;
}

function authorized(header: string | undefined, apiKey: string): boolean {
  if (apiKey === '') return true;
  const given = Buffer.from(/^Bearer (.+)$/.exec(header ?? '')?.[1] ?? '');
  const wanted = Buffer.from(apiKey);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

/**
 * The admin HTTP server of the primary: POST /publish, GET /health, GET /stats.
 * Plain node:http, so it never shares the gateway's SO_REUSEPORT port group.
 */
export function createAdminServer(deps: AdminDeps): http.Server {
  const { config, log, publisher, snapshot, metrics } = deps;
  const events = SampledLog.create<'publish'>(log, config.log.eventsPerSecond);

  const publish = async (req: http.IncomingMessage, res: http.ServerResponse, params: Map<string, string>) => {
    if (!authorized(req.headers.authorization, config.admin.apiKey)) {
      return sendJson(res, 401, { error: 'missing or wrong API key: send Authorization: Bearer <key>' });
    }
    const topic = params.get('topic') ?? '';
    if (!isValidTopic(topic)) return sendJson(res, 400, { error: 'topic must be 1 to 128 characters of [A-Za-z0-9_.:-]' });
    // The body is published byte for byte: a compressed one would reach clients still compressed.
    const encoding = req.headers['content-encoding'];
    if (encoding !== undefined && encoding.toLowerCase() !== 'identity') {
      return sendJson(res, 415, { error: `Content-Encoding ${encoding} is not supported: send the payload as it should be delivered` });
    }
    let payload: Buffer;
    try {
      payload = await readBody(req, config.admin.maxPublishBytes);
    } catch (err) {
      if (err instanceof BodyTooLargeError) return sendJson(res, 413, { error: `payload over ${config.admin.maxPublishBytes} bytes` });
      throw err;
    }
    let seq: number | undefined;
    try {
      ({ seq } = await publisher.publish(topic, payload));
    } catch (err) {
      if (!(err instanceof BrokerUnavailableError)) throw err;
      // maybePublished: the broker got the command but did not confirm it in time.
      events?.event('publish', { topic, bytes: payload.length, status: 503, err: err.message }, 'publish failed');
      return sendJson(res, 503, { error: `not published: ${err.message}`, maybePublished: err.maybePublished });
    }
    events?.event('publish', { topic, seq, bytes: payload.length }, 'published');
    sendJson(res, 202, seq === undefined ? { topic } : { topic, seq });
  };

  type Route = (req: http.IncomingMessage, res: http.ServerResponse, params: Map<string, string>) => Promise<void> | void;
  const routes: Record<string, Route> = {
    'POST /publish': publish,
    'GET /health': async (_req, res) => {
      const status = clusterStatus(config.broker, publisher, await snapshot());
      sendJson(res, status.healthy ? 200 : 503, { status: status.healthy ? 'ok' : 'unhealthy', reasons: status.reasons, workers: status.workers, broker: status.broker });
    },
    'GET /stats': async (_req, res) => {
      sendJson(res, 200, clusterStatus(config.broker, publisher, await snapshot()));
    },
    'GET /': (_req, res) => sendText(res, 200, DASHBOARD_HTML, 'text/html; charset=utf-8'),
    'GET /metrics': async (_req, res) => {
      if (!metrics) return sendText(res, 404, 'metrics not enabled\n');
      sendText(res, 200, await metrics.scrape(), metrics.contentType);
    },
    ...(deps.control ? controlRoutes(deps.control, (req) => authorized(req.headers.authorization, config.admin.apiKey)) : {}),
  };

  const failed = (res: http.ServerResponse, path: string, err: unknown) => {
    log.error({ err: err instanceof Error ? err.stack : String(err), path }, 'admin request failed');
    if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
    else res.destroy();
  };

  // Nothing a request carries may throw out of this handler: it would kill the primary and with it every worker.
  // A client that stops halfway through a request is cut off in seconds, not node's minutes.
  const server = http.createServer({ headersTimeout: 10_000, requestTimeout: 30_000, connectionsCheckingInterval: 1000 }, (req, res) => {
    const target = parseRequestTarget(req.url ?? '/', ['topic', 'user']);
    if (!target.ok) return sendJson(res, 400, { error: target.reason });
    const key = `${req.method} ${target.path}`;
    const route = Object.hasOwn(routes, key) ? routes[key] : undefined;
    if (!route) return sendText(res, 404, 'not found\n');
    try {
      Promise.resolve(route(req, res, target.params)).catch((err: unknown) => failed(res, target.path, err));
    } catch (err) {
      failed(res, target.path, err);
    }
  });
  // Unanswered, node:http would drop a CONNECT without a word.
  server.on('connect', (_req: http.IncomingMessage, socket: Duplex) => {
    socket.on('error', () => {}); // the client may be gone already; there is nothing left to tell it
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  return server;
}
