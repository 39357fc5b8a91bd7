import { CloseCode } from '../protocol/close-codes';

/**
 * Why a worker drains, and what that means for its clients:
 * - shutdown (SIGTERM/SIGINT, or the primary is gone): new upgrades are refused (503), clients close with 1001;
 * - restart (rolling restart): a replacement already listens, so upgrades in flight are still served,
 *   and clients close with 4000 ("reconnect now").
 */
export type DrainMode = 'shutdown' | 'restart';

export const DRAIN_MODES: Record<DrainMode, { closeCode: number; reason: string; refuseNew: boolean }> = {
  shutdown: { closeCode: CloseCode.GOING_AWAY, reason: 'server shutting down', refuseNew: true },
  restart: { closeCode: CloseCode.RECONNECT, reason: 'worker restarting, reconnect', refuseNew: false },
};
