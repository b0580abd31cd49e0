import { newEvent } from '../../events/envelope.ts';
import { subjects } from '../../events/types.ts';
import { splitTarget, type GitHubClient } from '../client.ts';
import type { CommandResult } from '../commands/command.ts';
import { findCommand, parseCommand } from '../commands/registry.ts';
import { isBot, mayChange, repoPermission, type GitHubUser, type RepoPermission } from '../permissions.ts';
import { deliveryEventId, record } from '../record.ts';
import { githubActor, type AppRuntime } from '../runtime.ts';

/** The parts of an `issue_comment` payload read here. */
export interface IssueCommentPayload {
  action: string;
  comment: { id: number; body?: string | null; html_url: string; user: GitHubUser | null; performed_via_github_app?: { id: number } | null };
  issue: { number: number; body?: string | null; pull_request?: unknown };
  repository: { full_name: string };
  sender?: GitHubUser;
}

/**
 * Runs a `/leviathan` command from a new comment: checks who may run it, records
 * command.received (its id derives from the delivery, so a redelivered comment runs once), runs
 * it, and answers with a comment and a reaction (+1 done, confused refused or unknown). Comments
 * by bots, including our own replies, are ignored.
 */
export async function handleIssueComment(rt: AppRuntime, octokit: GitHubClient, delivery: string, payload: IssueCommentPayload): Promise<void> {
  if (payload.action !== 'created') return;
  const user = payload.comment.user;
  if (!user || isBot(user) || payload.comment.performed_via_github_app) return;
  const parsed = parseCommand(payload.comment.body);
  if (!parsed) return;

  const target = payload.repository.full_name;
  const { owner, repo } = splitTarget(target);
  const actor = githubActor(user.login);
  const command = findCommand(parsed.name);
  let allowed = false;
  let permission: RepoPermission | undefined;
  let result: CommandResult;
  if (!command) {
    result = { ok: false, reply: `I don't know the command \`${parsed.name}\`. Comment \`/leviathan help\` to see what I understand.` };
  } else if (command.who === 'write') {
    const level = await repoPermission(octokit, owner, repo, user.login);
    permission = level;
    allowed = mayChange(level, user);
    result = allowed
      ? { ok: true, reply: '' }
      : {
          ok: false,
          reply: `Sorry @${user.login}, \`${command.usage}\` needs write, maintain or admin permission on ${target} (you have ${permission}). Someone with that access can run it.`,
        };
  } else {
    allowed = true;
    result = { ok: true, reply: '' };
  }

  // A comment on a repository that is not a target must not make it one (the projection creates
  // targets from any event naming them), so the repository then goes into data only.
  const known = rt.projector.state.targets[target];
  const isTarget = known !== undefined && known.lifecycle !== 'removed';
  const received = await record(rt, [
    newEvent({
      id: deliveryEventId(delivery, 0),
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
      },
    }),
  ]);
  if (received.stored === 0) return; // a redelivery: the command already ran and was answered

  if (command && allowed) {
    result = await command.run({
      target,
      issue: { number: payload.issue.number, isPullRequest: Boolean(payload.issue.pull_request), body: payload.issue.body ?? null },
      user,
      actor,
      args: parsed.args,
      commentUrl: payload.comment.html_url,
      deps: rt,
    });
  }
  rt.logger.info({ target, command: parsed.name, actor, allowed, ok: result.ok }, 'Slash command');
  await octokit.request('POST /repos/{owner}/{repo}/issues/{issue_number}/comments', {
    owner,
    repo,
    issue_number: payload.issue.number,
    body: `@${user.login} ${result.reply}`,
  });
  await octokit.request('POST /repos/{owner}/{repo}/issues/comments/{comment_id}/reactions', {
    owner,
    repo,
    comment_id: payload.comment.id,
    content: result.ok ? '+1' : 'confused',
  });
}
