/**
 * Parsing and answering commands of envelope connections: pure functions, no
 * socket. A command frame is a JSON object (see wire.ts); anything else gets a
 * reply with a code from command-errors.ts, never silence.
 */
import { CommandErrorCode, type CommandErrorCodeValue } from './command-errors';
import { isValidTopic } from './topics';
import type { Command, CommandErrorBody, CommandId } from './wire';

export type ParsedCommand = { ok: true; command: Command } | { ok: false; id: CommandId | null; error: CommandErrorBody };

/** Seqs are what history gives out; 15 digits, as in ?since=. */
const MAX_SINCE = 999_999_999_999_999;
const MAX_STRING_ID = 64;
/** Longer than any token jwt-verifier accepts; refuse before verifying. */
const MAX_TOKEN = 8192;

const FIELDS: Record<Command['op'], readonly string[]> = {
  subscribe: ['id', 'op', 'topic', 'since', 'token'],
  unsubscribe: ['id', 'op', 'topic'],
  refresh: ['id', 'op', 'token'],
};

export function commandError(code: CommandErrorCodeValue, message: string, retryAfterMs?: number): CommandErrorBody {
  return retryAfterMs === undefined ? { code, message } : { code, message, retryAfterMs };
}

function validId(id: unknown): id is CommandId {
  if (typeof id === 'number') return Number.isSafeInteger(id) && id >= 0;
  return typeof id === 'string' && id.length >= 1 && id.length <= MAX_STRING_ID;
}

const refuse = (id: CommandId | null, code: CommandErrorCodeValue, message: string): ParsedCommand => ({ ok: false, id, error: commandError(code, message) });

/** Parses one client frame. `isBinary`: commands are text frames only. */
export function parseCommand(text: string, isBinary = false): ParsedCommand {
  if (isBinary) return refuse(null, CommandErrorCode.BAD_FRAME, 'commands are JSON text frames, not binary');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refuse(null, CommandErrorCode.BAD_FRAME, 'frame is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return refuse(null, CommandErrorCode.BAD_FRAME, 'a command is a JSON object');
  const body = value as Record<string, unknown>;
  if (!validId(body.id)) return refuse(null, CommandErrorCode.BAD_COMMAND, `id must be an integer from 0 to 2^53-1 or a string of 1 to ${MAX_STRING_ID} characters`);
  const id = body.id;
  const op = body.op;
  if (op !== 'subscribe' && op !== 'unsubscribe' && op !== 'refresh') return refuse(id, CommandErrorCode.BAD_COMMAND, 'op must be subscribe, unsubscribe or refresh');
  const unknown = Object.keys(body).find((k) => !FIELDS[op].includes(k));
  if (unknown !== undefined) return refuse(id, CommandErrorCode.BAD_COMMAND, `unknown field "${unknown.slice(0, 40)}" for ${op}`);

  if (op === 'refresh') {
    if (typeof body.token !== 'string' || body.token === '') return refuse(id, CommandErrorCode.BAD_COMMAND, 'refresh needs token, a JWT');
    if (body.token.length > MAX_TOKEN) return refuse(id, CommandErrorCode.TOKEN_INVALID, 'token malformed');
    return { ok: true, command: { id, op, token: body.token } };
  }
  if (typeof body.topic !== 'string') return refuse(id, CommandErrorCode.BAD_COMMAND, `${op} needs topic, a string`);
  if (!isValidTopic(body.topic)) return refuse(id, CommandErrorCode.BAD_TOPIC, `invalid topic "${body.topic.slice(0, 40)}": 1 to 128 characters of [A-Za-z0-9_.:-]`);
  const topic = body.topic;
  if (op === 'unsubscribe') return { ok: true, command: { id, op, topic } };

  const command: Command = { id, op, topic };
  if (body.since !== undefined) {
    const since = body.since;
    if (typeof since !== 'number' || !Number.isInteger(since) || since < 0 || since > MAX_SINCE) return refuse(id, CommandErrorCode.BAD_COMMAND, 'since must be an integer seq from 0');
    command.since = since;
  }
  if (body.token !== undefined) {
    if (typeof body.token !== 'string' || body.token === '') return refuse(id, CommandErrorCode.BAD_COMMAND, 'token must be a JWT string');
    if (body.token.length > MAX_TOKEN) return refuse(id, CommandErrorCode.TOKEN_INVALID, 'token malformed');
    command.token = body.token;
  }
  return { ok: true, command };
}

export function encodeReply(id: CommandId | null, error?: CommandErrorBody): string {
  return JSON.stringify(error ? { type: 'reply', id, ok: false, error } : { type: 'reply', id, ok: true });
}
