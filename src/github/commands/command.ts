import type { Clock } from '../../api/api-deps.ts';
import type { Projector } from '../../projections/projector.ts';
import type { InProcessScheduler } from '../../scheduler/in-process-scheduler.ts';
import type { EventStore } from '../../store/event-store.ts';
import type { GitHubUser } from '../permissions.ts';

/** Who may run a command: anyone who can comment, or only users allowed to change things. */
export type CommandAudience = 'anyone' | 'write';

/** What a command runs with: one comment on one issue or pull request of a target. */
export interface CommandContext {
  /** `owner/repo` */
  target: string;
  issue: { number: number; isPullRequest: boolean; body: string | null };
  user: GitHubUser;
  /** `github:<login>` */
  actor: string;
  args: string[];
  commentUrl: string;
  deps: { store: EventStore; projector: Projector; clock: Clock; scheduler?: SlashScheduler | undefined };
}

/** The trigger path of POST /v1/tasks/trigger; without an executor, triggers wait for the next cycle. */
export type SlashScheduler = Pick<InProcessScheduler, 'executor' | 'trigger'>;

/** A command's answer: the reply text, and whether it did what was asked (+1) or not (confused). */
export interface CommandResult {
  ok: boolean;
  reply: string;
}

/** One slash command with the help it declares (Prow style: the help page is generated from it). */
export interface Command {
  name: string;
  /** e.g. `/leviathan pause [reason]` */
  usage: string;
  description: string;
  who: CommandAudience;
  examples: string[];
  run(ctx: CommandContext): Promise<CommandResult>;
}
