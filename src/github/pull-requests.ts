import { newEvent, type NewEvent } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import type { ProjectionState } from '../projections/state.ts';

/** Label of every Leviathan pull request (same as src/worker/run-worker.ts PR_LABEL); display only, see {@link isLeviathanPr}. */
export const PR_LABEL = 'leviathan';
/** Marker line of Leviathan PR bodies (same as src/worker/run-worker.ts ATTEMPT_MARKER). */
export const ATTEMPT_MARKER = 'Leviathan-Attempt';

/** The fields of a pull request (webhook payload or REST) this module reads. */
export interface PullRequestLike {
  number: number;
  html_url?: string;
  title?: string;
  body?: string | null;
  updated_at?: string;
  merged?: boolean | null;
  merged_at?: string | null;
  head?: { ref?: string; repo?: { full_name?: string } | null };
  base?: { repo?: { full_name?: string } | null };
  labels?: Array<{ name?: string } | string>;
}

/** The attempt id in a PR body's `Leviathan-Attempt: <id>` line, or null. */
export function attemptIdOf(body: string | null | undefined): string | null {
  const m = new RegExp(`^\\s*${ATTEMPT_MARKER}:\\s*([A-Za-z0-9._:-]{1,200})\\s*$`, 'm').exec(body ?? '');
  return m ? m[1]! : null;
}

/**
 * Was the PR opened by Leviathan? Only the attempt marker the worker writes in the body says so:
 * the `leviathan` label is display only, since anyone who can label a PR can add it, and a human
 * PR labelled so must not count against max_open_prs (it is observed, like any other). The
 * worker pushes to the repository itself, never from a fork: a fork's PR copying the marker
 * (attempt ids are public) is not ours.
 */
export function isLeviathanPr(pr: PullRequestLike): boolean {
  const head = pr.head?.repo?.full_name;
  const base = pr.base?.repo?.full_name;
  if (head && base && head !== base) return false;
  return attemptIdOf(pr.body) !== null;
}

/**
 * The task an attempt worked on, from the projection: the target's recent attempts, then the
 * graph's attempt node (older attempts fall out of the recent list).
 */
export function taskOfAttempt(state: ProjectionState, target: string, attemptId: string): string | null {
  const recent = state.targets[target]?.recent_attempts.find((a) => a.attempt_id === attemptId);
  if (recent) return recent.task_id;
  const taskId = state.graph.nodes[subjects.attempt(attemptId)]?.props.task_id;
  return typeof taskId === 'string' ? taskId : null;
}

/** What the event data says about a PR, whichever way we learnt of it. */
export function prData(state: ProjectionState, target: string, pr: PullRequestLike): Record<string, unknown> {
  const ours = isLeviathanPr(pr);
  const attemptId = ours ? attemptIdOf(pr.body) : null;
  const taskId = attemptId ? taskOfAttempt(state, target, attemptId) : null;
  return {
    number: pr.number,
    ...(pr.html_url ? { url: pr.html_url } : {}),
    ...(pr.title ? { title: pr.title } : {}),
    ...(pr.head?.ref ? { branch: pr.head.ref } : {}),
    ...(pr.updated_at ? { updated_at: pr.updated_at } : {}),
    leviathan: ours,
    ...(attemptId ? { attempt_id: attemptId } : {}),
    ...(taskId ? { task_id: taskId } : {}),
  };
}

/** An event without its id; the caller gives ids (deterministic per delivery, or random). */
export type UnidentifiedEvent = Omit<NewEvent, 'id'>;

/**
 * The event for a PR seen open: pr.created for ours, pr.observed for others. The type never
 * depends on what the projection has applied so far (deliveries race); ordering is the
 * projection's job, by the PR's `updated_at`.
 */
export function openedEvent(state: ProjectionState, target: string, pr: PullRequestLike, actor: string, reopened = false): UnidentifiedEvent {
  const data = prData(state, target, pr);
  const type = reopened ? 'pr.reopened' : data.leviathan ? 'pr.created' : 'pr.observed';
  return strip(newEvent({ type, actor, target, subject: subjects.pr(target, pr.number), data }));
}

/** The event for a PR seen closed: pr.merged when it was merged, else pr.closed. */
export function closedEvent(state: ProjectionState, target: string, pr: PullRequestLike, actor: string): UnidentifiedEvent {
  const merged = pr.merged === true || Boolean(pr.merged_at);
  const data = { ...prData(state, target, pr), ...(pr.merged_at ? { merged_at: pr.merged_at } : {}) };
  return strip(newEvent({ type: merged ? 'pr.merged' : 'pr.closed', actor, target, subject: subjects.pr(target, pr.number), data }));
}

/**
 * Events for a `pull_request` webhook action: opened → pr.created / pr.observed, reopened →
 * pr.reopened, closed → pr.merged / pr.closed.
 * Other actions record nothing.
 */
export function pullRequestEvents(state: ProjectionState, action: string, target: string, pr: PullRequestLike, actor: string): UnidentifiedEvent[] {
  switch (action) {
    case 'opened':
      return [openedEvent(state, target, pr, actor)];
    case 'reopened':
      return [openedEvent(state, target, pr, actor, true)];
    case 'closed':
      return [closedEvent(state, target, pr, actor)];
    default:
      return [];
  }
}

function strip(e: NewEvent): UnidentifiedEvent {
  const { id: _id, ...rest } = e;
  return rest;
}
