import { newEvent } from '../../events/envelope.ts';
import { subjects } from '../../events/types.ts';
import { activeTarget } from '../../projections/state.ts';
import { splitTarget, statusOf, type GitHubClient } from '../client.ts';
import type { CommandResult } from '../commands/command.ts';
import { findCommand, parseCommand, type ParsedCommand } from '../commands/registry.ts';
import { ReplyCooldown } from '../commands/reply-cooldown.ts';
import { answerFor, type Answer, type CommandOutcome } from '../commands/reply-policy.ts';
import { isBot, mayChange, repoPermission, type GitHubUser, type RepoPermission } from '../permissions.ts';
import { deliveryEventId, record } from '../record.ts';
import { githubActor, type AppRuntime } from '../runtime.ts';

/** The parts of an `issue_comment` payload read here. */
export interface IssueCommentPayload {
  action: string;
  comment: {
    id: number;
    body?: string | null;
    html_url: string;
    user: GitHubUser | null;
    /** GitHub's word for the commenter's relation to the repository: OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, … */
    author_association?: string;
    performed_via_github_app?: { id: number } | null;
  };
  issue: { number: number; body?: string | null; pull_request?: unknown };
  repository: { full_name: string };
  sender?: GitHubUser;
}

/**
 * Records that a slash command was answered (id `gh:<delivery>:1`, subject the command's action
 * node). Its absence after `command.received` means the handling broke off, and a redelivery
 * finishes it. Its schema is in events/types.ts.
 */
const COMMAND_COMPLETED = 'command.completed';

/**
 * Associations GitHub gives people who belong to the repository. Anyone else has at most read
 * (what a public repository gives everybody), so they are refused without asking GitHub.
 */
const ASSOCIATED = new Set(['OWNER', 'MEMBER', 'COLLABORATOR']);

/** Permissions of people the repository trusts to be answered in full. */
const STANDING: readonly RepoPermission[] = ['admin', 'maintain', 'write', 'triage'];

/** Per App runtime: the reply cooldown, and the comments being handled now (by command.received id). */
const memories = new WeakMap<AppRuntime, { cooldown: ReplyCooldown; running: Map<string, Promise<void>> }>();
function memoryOf(rt: AppRuntime) {
  let m = memories.get(rt);
  if (!m) memories.set(rt, (m = { cooldown: new ReplyCooldown(), running: new Map() }));
  return m;
}

/**
 * Runs a `/leviathan` command from a new comment: checks who may run it, records
 * command.received (its id derives from the delivery), runs it, answers (a comment and a
 * reaction, +1 done, confused refused or unknown; see answerFor for who gets less), and records
 * command.completed. A redelivery of a comment that was answered does nothing; one whose handling
 * broke off before the answer (GitHub or the store failing) runs it again. Comments by bots,
 * including our own replies, are ignored, and so are comments made through our own App.
 */
export async function handleIssueComment(rt: AppRuntime, octokit: GitHubClient, delivery: string, payload: IssueCommentPayload): Promise<void> {
  if (payload.action !== 'created') return;
  const user = payload.comment.user;
  if (!user || isBot(user)) return;
  // A person may comment through another App (a mobile client, an integration) and still mean the
  // command; only our own App's comments could loop.
  const viaApp = payload.comment.performed_via_github_app;
  if (viaApp && String(viaApp.id) === rt.appId) return;
  const parsed = parseCommand(payload.comment.body);
  if (!parsed) return;

  // A redelivery arriving while the comment is being handled waits for that, then finishes
  // whatever it left undone: never two runs of one comment at once in this process.
  const receivedId = deliveryEventId(delivery, 0);
  const { running } = memoryOf(rt);
  const mine = (running.get(receivedId) ?? Promise.resolve())
    .catch(() => undefined)
    .then(async () => {
      if (!(await completed(rt, receivedId))) await handle(rt, octokit, delivery, receivedId, payload, user, parsed);
    });
  running.set(receivedId, mine);
  try {
    await mine;
  } finally {
    if (running.get(receivedId) === mine) running.delete(receivedId);
  }
}

async function handle(rt: AppRuntime, octokit: GitHubClient, delivery: string, receivedId: string, payload: IssueCommentPayload, user: GitHubUser, parsed: ParsedCommand): Promise<void> {
  const target = payload.repository.full_name;
  const { owner, repo } = splitTarget(target);
  const actor = githubActor(user.login);
  const command = findCommand(parsed.name);
  const association = payload.comment.author_association;
  // Absent only in hand-made payloads: then GitHub is asked, as for a member.
  const associated = association === undefined || ASSOCIATED.has(association);

  // Asked only for a change, and only of people who belong to the repository: a stranger's
  // comment costs no API call. Not for an unknown command either: the lookup would cost the very
  // request that answering with a reaction instead of a comment saves, so the association decides.
  let permission: RepoPermission | undefined;
  let permissionError: string | undefined;
  if (command?.who === 'write' && associated) {
    try {
      permission = await repoPermission(octokit, owner, repo, user.login);
    } catch (err) {
      permissionError = describeGitHubError(err);
      rt.logger.warn({ target, command: parsed.name, actor, err: permissionError }, 'Slash command: could not check the permission');
    }
  }
  const trusted = permission !== undefined ? STANDING.includes(permission) : associated;
  const allowed = command !== undefined && (command.who === 'anyone' || (permission !== undefined && mayChange(permission, user)));

  let outcome: CommandOutcome;
  let result: CommandResult;
  if (!command) {
    outcome = 'unknown';
    result = { ok: false, reply: `I don't know the command \`${parsed.name}\`. Comment \`/leviathan help\` to see what I understand.` };
  } else if (permissionError) {
    outcome = 'failed';
    result = {
      ok: false,
      reply: `I could not check your permission on ${target} (${permissionError}), so I did not run \`${command.usage}\`. Try again in a few minutes.`,
    };
  } else if (!allowed) {
    outcome = 'refused';
    result = {
      ok: false,
      reply: `Sorry @${user.login}, \`${command.usage}\` needs write, maintain or admin permission on ${target} (you have ${permission ?? 'none'}). Someone with that access can run it.`,
    };
  } else {
    outcome = 'ran';
    result = { ok: true, reply: '' };
  }

  // A comment on a repository that is not a target must not make it one (the projection creates
  // targets from any event naming them), so the repository then goes into data only.
  const isTarget = activeTarget(rt.projector.state, target) !== null;
  await record(rt, [
    newEvent({
      id: receivedId,
      type: 'command.received',
      actor,
      target: isTarget ? target : null,
      subject: isTarget ? subjects.target(target) : null,
      data: {
        repository: target,
        command: parsed.name,
        args: parsed.args,
        allowed,
        comment_url: payload.comment.html_url,
        issue_number: payload.issue.number,
        ...(permission ? { permission } : {}),
        ...(association ? { author_association: association } : {}),
        ...(permissionError ? { permission_error: permissionError } : {}),
      },
    }),
  ]);

  if (outcome === 'ran' && command) {
    try {
      result = await command.run({
        target,
        issue: { number: payload.issue.number, isPullRequest: Boolean(payload.issue.pull_request), body: payload.issue.body ?? null },
        user,
        actor,
        args: parsed.args,
        commentUrl: payload.comment.html_url,
        deps: rt,
      });
    } catch (err) {
      outcome = 'failed';
      rt.logger.error({ target, command: parsed.name, actor, err }, 'Slash command failed');
      result = { ok: false, reply: `Something went wrong running \`${parsed.name}\`, and it may not have taken effect. Try again in a few minutes.` };
    }
  }

  const { cooldown } = memoryOf(rt);
  const key = ReplyCooldown.key(target, payload.issue.number, user.login);
  const now = rt.clock.now().getTime();
  const answer = answerFor({ outcome, trusted, coolingDown: cooldown.coolingDown(key, now) });
  rt.logger.info({ target, command: parsed.name, actor, allowed, ok: result.ok, outcome, answer }, 'Slash command');
  try {
    await answerOnGitHub(octokit, { owner, repo, issue: payload.issue.number, comment: payload.comment.id, login: user.login }, answer, result);
  } catch (err) {
    // No command.completed: a redelivery runs the command again and answers then.
    rt.logger.warn({ target, command: parsed.name, actor, err: describeGitHubError(err) }, 'Slash command: could not answer on GitHub');
    return;
  }
  if (!trusted && answer !== 'none') cooldown.answeredAt(key, now);

  // A command that could not be decided or finished stays unfinished, for a redelivery to complete.
  if (outcome === 'failed') return;
  await record(rt, [
    newEvent({
      id: deliveryEventId(delivery, 1),
      type: COMMAND_COMPLETED,
      actor,
      target: isTarget ? target : null,
      subject: subjects.action(receivedId),
      data: { repository: target, command: parsed.name, allowed, ok: result.ok, answer },
    }),
  ]);
}

/** Posts the answer: the reply as a comment and/or a reaction on the command's comment. */
async function answerOnGitHub(
  octokit: GitHubClient,
  at: { owner: string; repo: string; issue: number; comment: number; login: string },
  answer: Answer,
  result: CommandResult,
): Promise<void> {
  if (answer === 'none') return;
  if (answer === 'comment') {
    await octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
      owner: at.owner,
      repo: at.repo,
      issue_number: at.issue,
      body: `@${at.login} ${result.reply}`,
    });
  }
  await octokit.request('POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions', {
    owner: at.owner,
    repo: at.repo,
    comment_id: at.comment,
    content: result.ok ? '+1' : 'confused',
  });
}

/** Whether this delivery's command was already answered (its command.completed is in the log). */
async function completed(rt: AppRuntime, receivedId: string): Promise<boolean> {
  const page = await rt.store.read({ subject: subjects.action(receivedId), type: COMMAND_COMPLETED, limit: 1 });
  return page.events.length > 0;
}

/** A GitHub failure in a few words for a reply and a log line (no stack, no token). */
function describeGitHubError(err: unknown): string {
  const status = statusOf(err);
  if (status === 0) return 'GitHub did not answer';
  const remaining = (err as { response?: { headers?: Record<string, unknown> } }).response?.headers?.['x-ratelimit-remaining'];
  return remaining === '0' || status === 429 ? `GitHub's rate limit is exhausted (HTTP ${status})` : `GitHub answered HTTP ${status}`;
}
