import type { Identity, VerifyResult } from '../auth/jwt-verifier';
import { topicAllowed, userTopic } from '../auth/topic-claims';
import type { Logger } from '../logger';
import { CommandErrorCode as E } from '../protocol/command-errors';
import { commandError, encodeReply } from '../protocol/commands';
import { BROADCAST_TOPIC } from '../protocol/topics';
import type { Command, CommandErrorBody, RefreshCommand, SubscribeCommand, UnsubscribeCommand } from '../protocol/wire';
import type { ClientSocket } from './client-socket';
import type { ConnectionTopics } from './connection-topics';

/** Token checks for commands; absent when auth is off. */
export interface TokenAuthority {
  verify(token: string): VerifyResult | Promise<VerifyResult>;
  /** The connection's token was replaced by `identity` (same sub): move its expiry, keep its claims. */
  refreshed(ws: ClientSocket, identity: Identity): void;
}

export interface CommandDeps {
  topics: ConnectionTopics;
  /** topics.maxPerConnection: broadcast and the connection's own user topic are not counted. */
  maxTopics: number;
  auth?: TokenAuthority;
  log: Logger;
}

/** What a command comes to: ok, an error, or nothing to send (the socket closed, or the reply already went). */
type Answer = 'ok' | CommandErrorBody | 'silent';

/** A subscribe waiting for its per-topic token's check; an unsubscribe meanwhile cancels it. */
interface Verifying {
  cancelled: boolean;
}

/**
 * Runs the commands of envelope connections, one reply each. Authorization is
 * the upgrade's: the token's topics claim, other users' topics private. The
 * only state kept per connection is a map of per-topic token checks in flight,
 * and only while one is: an idle connection costs nothing here.
 */
export class CommandRunner {
  private readonly verifying = new WeakMap<ClientSocket, Map<string, Verifying>>();

  constructor(private readonly deps: CommandDeps) {}

  run(ws: ClientSocket, command: Command): void {
    const answer = command.op === 'subscribe' ? this.subscribe(ws, command) : command.op === 'unsubscribe' ? this.unsubscribe(ws, command) : this.refresh(ws, command);
    answer.then(
      (outcome) => {
        if (outcome !== 'silent') this.reply(ws, command.id, outcome === 'ok' ? undefined : outcome);
      },
      (err: Error) => {
        this.deps.log.error({ err: err.stack ?? String(err), op: command.op }, 'command failed');
        this.reply(ws, command.id, commandError(E.INTERNAL_ERROR, 'internal error'));
      },
    );
  }

  /** Answers a command refused before it ran (malformed, rate-limited). */
  reply(ws: ClientSocket, id: Command['id'] | null, error?: CommandErrorBody): void {
    if (ws.getUserData().session?.closed) return;
    ws.send(encodeReply(id, error), false);
  }

  private async subscribe(ws: ClientSocket, { id, topic, since, token }: SubscribeCommand): Promise<Answer> {
    const { topics, maxTopics } = this.deps;
    const { sub, claims } = ws.getUserData();
    const own = sub === undefined ? undefined : userTopic(sub);
    const pending = this.verifying.get(ws);
    if (topics.holds(ws, topic) || pending?.has(topic)) return commandError(E.ALREADY_SUBSCRIBED, `already subscribed to ${topic}`);
    if (topic !== own && topic !== BROADCAST_TOPIC && topics.counted(ws, own) + (pending?.size ?? 0) >= maxTopics) {
      return commandError(E.TOO_MANY_TOPICS, `too many topics: at most ${maxTopics}`);
    }
    if (sub !== undefined && !topicAllowed(claims, topic, sub)) {
      if (token === undefined) return commandError(E.FORBIDDEN, `topic not allowed by token: ${topic}`);
      const refused = await this.checkTopicToken(ws, topic, token, sub);
      if (refused !== undefined) return refused;
    }
    const session = ws.getUserData().session!;
    if (session.closed) return 'silent';
    if (since !== undefined) {
      // The reply goes first; the replayed messages, a gap notice if any, and `recovered` follow.
      this.reply(ws, id);
      topics.recover(ws, topic, since);
      return 'silent';
    }
    const outcome = await topics.join(ws, topic);
    if (outcome === 'closed') return 'silent';
    if (outcome === 'unavailable') return commandError(E.UNAVAILABLE, 'the broker did not confirm the subscription in time; retry');
    return 'ok';
  }

  /** Checks a per-topic token while marking the topic as joining: undefined when it allows the topic, else the answer. */
  private async checkTopicToken(ws: ClientSocket, topic: string, token: string, sub: string): Promise<Answer | undefined> {
    const auth = this.deps.auth;
    if (!auth) return commandError(E.FORBIDDEN, `topic not allowed by token: ${topic}`);
    let pending = this.verifying.get(ws);
    if (!pending) this.verifying.set(ws, (pending = new Map()));
    const mark: Verifying = { cancelled: false };
    pending.set(topic, mark);
    let result: VerifyResult;
    try {
      result = await auth.verify(token);
    } finally {
      pending.delete(topic);
      if (pending.size === 0) this.verifying.delete(ws);
    }
    if (ws.getUserData().session?.closed) return 'silent';
    // An unsubscribe came while the token was checked: the subscribe is superseded, and the answer is ok.
    if (mark.cancelled) return 'ok';
    const checked = checkToken(result, sub);
    if ('error' in checked) return checked.error;
    if (!topicAllowed(checked.identity.topics, topic, sub)) return commandError(E.FORBIDDEN, `topic not allowed by token: ${topic}`);
    if (this.deps.topics.holds(ws, topic)) return commandError(E.ALREADY_SUBSCRIBED, `already subscribed to ${topic}`);
    return undefined;
  }

  private async unsubscribe(ws: ClientSocket, { topic }: UnsubscribeCommand): Promise<Answer> {
    const sub = ws.getUserData().sub;
    if (topic === BROADCAST_TOPIC || (sub !== undefined && topic === userTopic(sub))) return commandError(E.FORBIDDEN, `${topic} is implicit and cannot be left`);
    const joining = this.verifying.get(ws)?.get(topic);
    if (joining) {
      joining.cancelled = true;
      return 'ok';
    }
    return this.deps.topics.leave(ws, topic) ? 'ok' : commandError(E.NOT_SUBSCRIBED, `not subscribed to ${topic}`);
  }

  private async refresh(ws: ClientSocket, { token }: RefreshCommand): Promise<Answer> {
    const { auth } = this.deps;
    const sub = ws.getUserData().sub;
    if (!auth || sub === undefined) return commandError(E.AUTH_DISABLED, 'auth is disabled on this server: there is no token to refresh');
    const result = await auth.verify(token);
    if (ws.getUserData().session?.closed) return 'silent';
    const checked = checkToken(result, sub);
    if ('error' in checked) return checked.error;
    auth.refreshed(ws, checked.identity);
    return 'ok';
  }
}

/** The identity of a token good for `sub`, or the error for one that failed its check or belongs to another user. */
function checkToken(result: VerifyResult, sub: string): { identity: Identity } | { error: CommandErrorBody } {
  if (!result.ok) return { error: commandError(result.refusal === 'auth_expired' ? E.TOKEN_EXPIRED : E.TOKEN_INVALID, result.reason) };
  if (result.identity.sub !== sub) return { error: commandError(E.WRONG_USER, 'token is for another user') };
  return { identity: result.identity };
}
