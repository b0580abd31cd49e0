/** How a command ended, as far as answering it goes. */
export type CommandOutcome =
  /** It ran (help, status, or a change by someone allowed to make it), whether or not it succeeded. */
  | 'ran'
  /** A change asked for by someone without write, maintain or admin. */
  | 'refused'
  /** Not a command we know. */
  | 'unknown'
  /** We could not decide or finish it (GitHub would not say the permission; the command threw). */
  | 'failed';

/** How to answer: a comment and a reaction, only a reaction, or nothing at all. */
export type Answer = 'comment' | 'reaction' | 'none';

/** What the answer depends on. */
export interface AnswerFacts {
  outcome: CommandOutcome;
  /**
   * The commenter has triage or better on the repository (or, where no permission was looked up,
   * GitHub calls them its owner, a member or a collaborator): someone the repository trusts.
   */
  trusted: boolean;
  /** We answered this commenter on this issue within the cooldown. */
  coolingDown: boolean;
}

/**
 * How to answer a slash command. Every comment we post and every reaction is a request against
 * the installation's rate limit, which the scheduler needs for backlog reads; on a public
 * repository anyone can comment. So the repository's own people always get a full answer, and
 * everyone else gets a reaction where a comment would only say "no" (refused, unknown), a comment
 * only for what they may run (help, status, and failures), and nothing at all while cooling down.
 */
export function answerFor({ outcome, trusted, coolingDown }: AnswerFacts): Answer {
  if (trusted) return 'comment';
  if (coolingDown) return 'none';
  return outcome === 'refused' || outcome === 'unknown' ? 'reaction' : 'comment';
}
