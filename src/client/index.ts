/**
 * herald/client: the official client of the herald push gateway, for
 * browsers and Node 20 (pass the `ws` package's WebSocket there). No
 * dependency beyond the platform's WebSocket.
 */
export { HeraldClient } from './herald-client.js';
export { Subscription, type SubscribeOptions, type SubscriptionState } from './subscription.js';
export type { ClientEvents, ClientState, GapInfo, HeraldClientOptions, HeraldMessage, SubscriptionEvents, TokenSource, WebSocketConstructor, WebSocketLike } from './types.js';
export { CloseCode, CLOSE_CODE_DOCS } from '../protocol/close-codes.js';
export { CommandErrorCode, COMMAND_ERROR_DOCS } from '../protocol/command-errors.js';
export type { CommandErrorBody, ServerFrame } from '../protocol/wire.js';
