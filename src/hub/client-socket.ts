import type { EnvelopeSession } from '../protocol/recovery-query';
import type { RecoverySocket } from './recovery';

/** What the hub reads of a connection's own data (uWS user data: properties of the socket object itself). */
export interface ClientData {
  /** The token's sub, when auth is on. */
  sub?: string;
  /** The token's exp (seconds since the epoch). */
  exp?: number;
  /** The token's topics claim, kept only on envelope connections when commands are on. */
  claims?: readonly string[];
  /** Set for envelope connections. */
  session?: EnvelopeSession;
}

/** What the hub needs of a connection: the uWS WebSocket satisfies it, and so does the tests' memory socket. */
export interface ClientSocket extends RecoverySocket {
  isSubscribed(topic: string): boolean;
  /** Every uWS topic the socket is subscribed to (internal names included). */
  getTopics(): string[];
  getUserData(): ClientData;
}
