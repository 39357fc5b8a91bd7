import type http from 'node:http';
import { BrokerUnavailableError, type Broker } from '../broker/broker';
import { CONTROL_TOPIC, encodeControl, isValidUser, type ControlMessage } from '../protocol/control';
import { isValidTopic } from '../protocol/topics';
import type { PresenceCount } from '../presence/presence-table';
import { sendJson } from './http-util';

export interface ControlRouteDeps {
  /** Control messages go out through the primary's broker, to every worker of every herald. */
  publisher: Pick<Broker, 'publish'>;
  /** Connections have users only with auth on: control by user needs it. */
  authEnabled: boolean;
  presence: { tracks(topic: string): boolean; count(topic: string): Promise<PresenceCount> };
}

type Route = (req: http.IncomingMessage, res: http.ServerResponse, params: Map<string, string>) => Promise<void> | void;

const BAD_USER = 'user must be 1 to 123 characters of [A-Za-z0-9_.:-] (a token sub)';
const BAD_TOPIC = 'topic must be 1 to 128 characters of [A-Za-z0-9_.:-]';

/**
 * Server-side control of connections by user (POST /subscribe, /unsubscribe,
 * /disconnect) and presence counts (GET /presence). Control is a broker
 * message on the internal control topic: it reaches every connection of the
 * user on every worker of every herald sharing the broker. The answer, 202,
 * means the broker took it; connections act on it as it arrives.
 */
export function controlRoutes(deps: ControlRouteDeps, authorized: (req: http.IncomingMessage) => boolean): Record<string, Route> {
  const { publisher, authEnabled, presence } = deps;

  const send = async (res: http.ServerResponse, message: ControlMessage, answer: object) => {
    try {
      await publisher.publish(CONTROL_TOPIC, encodeControl(message));
    } catch (err) {
      if (!(err instanceof BrokerUnavailableError)) throw err;
      return sendJson(res, 503, { error: `not sent: ${err.message}`, maybePublished: err.maybePublished });
    }
    sendJson(res, 202, answer);
  };

  /** Checks shared by the routes that address a user; answers and returns undefined on a refusal. */
  const target = (req: http.IncomingMessage, res: http.ServerResponse, params: Map<string, string>, withTopic: boolean) => {
    if (!authorized(req)) return void sendJson(res, 401, { error: 'missing or wrong API key: send Authorization: Bearer <key>' });
    if (!authEnabled) return void sendJson(res, 409, { error: 'auth is disabled (auth.enabled): connections have no user to address' });
    const user = params.get('user') ?? '';
    if (!isValidUser(user)) return void sendJson(res, 400, { error: BAD_USER });
    const topic = params.get('topic') ?? '';
    if (withTopic && !isValidTopic(topic)) return void sendJson(res, 400, { error: BAD_TOPIC });
    return { user, topic };
  };

  const subscription = (op: 'subscribe' | 'unsubscribe'): Route => async (req, res, params) => {
    const t = target(req, res, params, true);
    if (t) await send(res, { op, user: t.user, topic: t.topic }, { user: t.user, topic: t.topic });
  };

  return {
    'POST /subscribe': subscription('subscribe'),
    'POST /unsubscribe': subscription('unsubscribe'),
    'POST /disconnect': async (req, res, params) => {
      const t = target(req, res, params, false);
      if (t) await send(res, { op: 'disconnect', user: t.user }, { user: t.user });
    },
    'GET /presence': async (req, res, params) => {
      if (!authorized(req)) return sendJson(res, 401, { error: 'missing or wrong API key: send Authorization: Bearer <key>' });
      const topic = params.get('topic') ?? '';
      if (!isValidTopic(topic)) return sendJson(res, 400, { error: BAD_TOPIC });
      if (!presence.tracks(topic)) return sendJson(res, 404, { error: `topic ${topic} is not tracked: add a pattern matching it to presence.topics` });
      let count: PresenceCount;
      try {
        count = await presence.count(topic);
      } catch (err) {
        return sendJson(res, 503, { error: `presence unavailable: ${(err as Error).message}` });
      }
      sendJson(res, 200, { topic, ...count });
    },
  };
}
