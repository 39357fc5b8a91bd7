import type { HeraldConfig } from '../config';
import type { ClientSocket } from '../hub/client-socket';
import type { CommandRunner } from '../hub/commands';
import type { WorkerStats } from '../metrics/worker-stats';
import { CommandErrorCode } from '../protocol/command-errors';
import { commandError, parseCommand } from '../protocol/commands';
import type { ClientRateLimiter } from './client-rate-limiter';
import { CommandBudget } from './command-budget';

/**
 * Frames of envelope connections when commands are on. Every frame takes one
 * command from the connection's budget and gets one reply. A frame over the
 * budget is answered rate_limited and also counts toward the ordinary client
 * frame limit (clientFrames.maxPerWindow), so a client that ignores
 * rate_limited is closed with 4400 soon after, while one that subscribes to
 * all its topics at once after a reconnect is never near either limit.
 */
export class CommandIntake {
  private readonly budget: CommandBudget;

  constructor(
    config: HeraldConfig['commands'],
    private readonly runner: CommandRunner,
    private readonly frameLimiter: ClientRateLimiter,
    private readonly stats: WorkerStats,
  ) {
    this.budget = new CommandBudget(config.burst, config.perSecond);
  }

  /** Handles one frame (read now: uWS frees it when the handler returns); false when the client floods and must be closed. */
  receive(ws: ClientSocket, message: ArrayBuffer, isBinary: boolean): boolean {
    const parsed = parseCommand(isBinary ? '' : Buffer.from(message).toString('utf8'), isBinary);
    const wait = this.budget.take(ws);
    if (wait > 0) {
      this.stats.commandsRefused++;
      this.stats.commandsRateLimited++;
      if (!this.frameLimiter.allow(ws)) return false;
      this.runner.reply(ws, parsed.ok ? parsed.command.id : parsed.id, commandError(CommandErrorCode.RATE_LIMITED, 'too many commands, slow down', wait));
      return true;
    }
    if (!parsed.ok) {
      this.stats.commandsRefused++;
      this.runner.reply(ws, parsed.id, parsed.error);
      return true;
    }
    this.stats.commandsRun++;
    this.runner.run(ws, parsed.command);
    return true;
  }
}
