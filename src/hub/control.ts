import type { Logger } from '../logger';
import { CloseCode } from '../protocol/close-codes';
import { decodeControl, encodePresence, encodeSubscribed, encodeUnsubscribed } from '../protocol/control';
import type { ClientSocket } from './client-socket';
import type { ConnectionTopics } from './connection-topics';
import type { TopicSink } from './fanout';
import { envelopeTopic } from './topic-names';
import type { UserIndex } from './user-index';

export interface ControlDeps {
  topics: ConnectionTopics;
  sink: TopicSink;
  /** This worker's connections by user; absent when auth is off (no connection has a user). */
  users?: UserIndex<ClientSocket>;
  log: Logger;
}

/**
 * Acts on control messages (admin subscribe, unsubscribe, disconnect, presence
 * counts) for this worker's connections. Every worker of every herald gets
 * each one and acts on the connections it holds.
 */
export class ControlHandler {
  constructor(private readonly deps: ControlDeps) {}

  handle(payload: Buffer): void {
    const { users, topics, sink, log } = this.deps;
    const message = decodeControl(payload);
    if (!message) return void log.warn({ bytes: payload.length }, 'malformed control message dropped');
    if (message.op === 'presence') {
      const target = envelopeTopic(message.topic);
      if (sink.numSubscribers(target) > 0) sink.publish(target, encodePresence(message.topic, message.connections, message.users), false);
      return;
    }
    for (const ws of users?.connections(message.user) ?? []) {
      if (message.op === 'disconnect') ws.end(CloseCode.DISCONNECTED, 'disconnected by the server');
      else if (message.op === 'subscribe') this.subscribe(ws, message.topic);
      else if (topics.leave(ws, message.topic) && ws.getUserData().session) ws.send(encodeUnsubscribed(message.topic), false);
    }
  }

  private subscribe(ws: ClientSocket, topic: string): void {
    const { topics, log } = this.deps;
    if (topics.holds(ws, topic)) return;
    topics.join(ws, topic).then(
      (outcome) => {
        // Envelope clients learn of it before the topic's first message (and can resume it after a reconnect).
        if (outcome === 'joined' && ws.getUserData().session) ws.send(encodeSubscribed(topic), false);
        else if (outcome === 'unavailable') log.warn({ topic }, 'admin subscribe: the broker did not confirm the topic in time');
      },
      (err: Error) => log.error({ err: err.message, topic }, 'admin subscribe failed'),
    );
  }
}
