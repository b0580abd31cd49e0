import { newEvent, type NewEvent } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import type { ProjectionState } from '../projections/state.ts';
import { describe } from './background.ts';
import { installationTargets, targetEvent } from './handlers/installation.ts';
import { splitTarget, statusOf, type GitHubClient } from './client.ts';
import { closedEvent, isLeviathanPr, openedEvent, type PullRequestLike } from './pull-requests.ts';
import { record } from './record.ts';
import type { AppRuntime } from './runtime.ts';

/** One event reconcile recorded to bring the log back in line with GitHub. */
export interface Correction {
  type: string;
  target: string;
  number?: number;
}

/** What a reconcile found and fixed. */
export interface ReconcileResult {
  installations: number;
  targets: number;
  corrections: Correction[];
  /** Targets or installations GitHub could not be asked about; nothing was changed for them. */
  errors: Array<{ scope: string; status?: number; message: string }>;
}

interface Repo {
  full_name: string;
  default_branch?: string;
}

/** An installation as `GET /app/installations` lists it. */
interface Installation {
  id: number;
  suspended_at?: string | null;
}

/** What every reconcile is told. */
export interface ReconcileOptions {
  actor: string;
  /** Told of targets it registered that have no backlog yet (the caller reads it). */
  onRegistered?: (target: string, installationId: number, octokit: GitHubClient) => void;
}

/**
 * Makes targets and open PRs in the log match GitHub, for when webhooks were missed (downtime,
 * failed deliveries). Lists the App's installations and their repositories (registering new ones,
 * removing gone ones), then every repository's open PRs with paginated pulls.list: open PRs the
 * log does not know are recorded (pr.created for ours, pr.observed for others), PRs the log
 * thinks open but GitHub does not are recorded closed or merged (pulls.get tells which).
 * Fails closed: a target whose listing failed is left untouched and reported in `errors`.
 */
export async function reconcile(rt: AppRuntime, opts: ReconcileOptions): Promise<ReconcileResult> {
  const result: ReconcileResult = { installations: 0, targets: 0, corrections: [], errors: [] };
  const app = await rt.clients.forApp();
  const installations = (await app.paginate('GET /app/installations', { per_page: 100 })) as Installation[];
  result.installations = installations.length;
  const listedInstallations = new Set(installations.map((i) => i.id));

  for (const inst of installations) await reconcileListed(rt, inst, opts, result);

  // Targets of installations that no longer exist (the App was uninstalled while we were down).
  const gone = Object.values(rt.projector.state.targets)
    .filter((t) => t.lifecycle !== 'removed' && t.installation_id !== null && !listedInstallations.has(t.installation_id))
    .map((t) => lifecycleEvent('target.removed', t.id, t.installation_id!, opts.actor));
  await recordCorrections(rt, gone, result);
  return result;
}

/**
 * The same for one installation: what a webhook for a repository the log does not know queues
 * (a rename or transfer missed, a registration lost), so that only that installation is read.
 * An installation GitHub no longer has (404) has its targets removed.
 */
export async function reconcileInstallation(rt: AppRuntime, installationId: number, opts: ReconcileOptions): Promise<ReconcileResult> {
  const result: ReconcileResult = { installations: 0, targets: 0, corrections: [], errors: [] };
  const app = await rt.clients.forApp();
  let inst: Installation;
  try {
    inst = (await app.request('GET /app/installations/{installation_id}', { installation_id: installationId })).data as Installation;
  } catch (err) {
    if (statusOf(err) !== 404) throw err;
    const gone = installationTargets(rt.projector.state, installationId, []).map((t) => lifecycleEvent('target.removed', t, installationId, opts.actor));
    await recordCorrections(rt, gone, result);
    return result;
  }
  result.installations = 1;
  await reconcileListed(rt, inst, opts, result);
  return result;
}

/** One listed installation: its targets' registrations and lifecycle, then their open PRs. */
async function reconcileListed(rt: AppRuntime, inst: Installation, opts: ReconcileOptions, result: ReconcileResult): Promise<void> {
  if (inst.suspended_at) {
    // A suspended installation cannot be read, but its being suspended is known: a suspend
    // webhook missed, or overtaken by an older unsuspend, is put right here.
    const suspend = Object.values(rt.projector.state.targets)
      .filter((t) => t.installation_id === inst.id && t.lifecycle === 'active')
      .map((t) => lifecycleEvent('target.suspended', t.id, inst.id, opts.actor));
    await recordCorrections(rt, suspend, result);
    return;
  }
  let octokit: GitHubClient;
  let repos: Repo[];
  try {
    octokit = await rt.clients.forInstallation(inst.id);
    repos = (await octokit.paginate('GET /installation/repositories', { per_page: 100 })) as Repo[];
  } catch (err) {
    result.errors.push({ scope: `installation ${inst.id}`, ...describe(err) });
    return;
  }
  const state = rt.projector.state;
  const lifecycle = targetCorrections(state, inst.id, repos, opts.actor);
  await recordCorrections(rt, lifecycle, result);
  for (const e of lifecycle) {
    if (e.type === 'target.registered' && !state.targets[e.target!]?.backlog.synced_at) opts.onRegistered?.(e.target!, inst.id, octokit);
  }

  for (const repo of repos) {
    result.targets += 1;
    try {
      const events = await prCorrections(rt.projector.state, octokit, repo.full_name, opts.actor);
      await record(rt, events);
      for (const e of events) result.corrections.push({ type: e.type, target: e.target!, number: e.data.number as number });
    } catch (err) {
      result.errors.push({ scope: repo.full_name, ...describe(err) });
    }
  }
}

/**
 * The lifecycle events that make the log's targets of a readable (not suspended) installation
 * equal its repositories: new, moved or re-added repositories and changed default branches are
 * registered, suspended ones unsuspended (an unsuspend overtaken by an older suspend would
 * otherwise hold them for ever), and targets no longer listed removed.
 */
function targetCorrections(state: ProjectionState, installationId: number, repos: Repo[], actor: string): NewEvent[] {
  const events: NewEvent[] = [];
  for (const repo of repos) {
    const t = state.targets[repo.full_name];
    const stale = !t || t.lifecycle === 'removed' || t.installation_id !== installationId || (repo.default_branch && t.default_branch !== repo.default_branch);
    if (stale) {
      const data = { installation_id: installationId, ...(repo.default_branch ? { default_branch: repo.default_branch } : {}), via: 'reconcile' };
      events.push(newEvent(targetEvent('target.registered', repo.full_name, actor, data)));
    } else if (t.lifecycle === 'suspended') {
      events.push(lifecycleEvent('target.unsuspended', t.id, installationId, actor));
    }
  }
  const names = new Set(repos.map((r) => r.full_name));
  for (const t of installationTargets(state, installationId, [])) {
    if (!names.has(t)) events.push(lifecycleEvent('target.removed', t, installationId, actor));
  }
  return events;
}

function lifecycleEvent(type: 'target.removed' | 'target.suspended' | 'target.unsuspended', target: string, installationId: number, actor: string): NewEvent {
  return newEvent(targetEvent(type, target, actor, { installation_id: installationId, via: 'reconcile' }));
}

async function recordCorrections(rt: AppRuntime, events: NewEvent[], result: ReconcileResult): Promise<void> {
  await record(rt, events);
  for (const e of events) result.corrections.push({ type: e.type, target: e.target! });
}

/** The events that make one target's open PRs in the log equal GitHub's list. */
export async function prCorrections(state: ProjectionState, octokit: GitHubClient, target: string, actor: string): Promise<NewEvent[]> {
  const { owner, repo } = splitTarget(target);
  const open = (await octokit.paginate('GET /repos/{owner}/{repo}/pulls', { owner, repo, state: 'open', per_page: 100 })) as PullRequestLike[];
  const t = state.targets[target];
  const ours = new Set(t?.open_prs.map((p) => p.number) ?? []);
  // Counted as ours on the label alone (before the marker decided), with no attempt behind them.
  const labelOnly = new Set(t?.open_prs.filter((p) => p.attempt_id === null).map((p) => p.number) ?? []);
  const observed = new Set(t?.observed_open_prs ?? []);
  const events: NewEvent[] = [];
  const withId = (e: Omit<NewEvent, 'id'>): NewEvent => ({ ...newEvent(e), data: { ...e.data, via: 'reconcile' } });

  const openNumbers = new Set<number>();
  for (const pr of open) {
    openNumbers.add(pr.number);
    const leviathan = isLeviathanPr(pr);
    if (!leviathan && labelOnly.has(pr.number)) {
      // A human PR labelled `leviathan` held a max_open_prs slot: it is observed, no longer counted.
      const observedNow = openedEvent(state, target, pr, actor);
      events.push(withId({ ...observedNow, data: { ...observedNow.data, disowned: true } }));
      continue;
    }
    const known = leviathan ? ours.has(pr.number) : observed.has(pr.number) || ours.has(pr.number);
    if (known) continue;
    // A PR the graph holds as closed but GitHub lists open was reopened while we were not looking.
    const closedBefore = state.graph.nodes[subjects.pr(target, pr.number)]?.props.state === 'closed';
    events.push(withId(openedEvent(state, target, pr, actor, closedBefore)));
  }
  for (const n of [...ours, ...observed].sort((a, b) => a - b)) {
    if (openNumbers.has(n)) continue;
    const { data } = await octokit.request('GET /repos/{owner}/{repo}/pulls/{pull_number}', { owner, repo, pull_number: n });
    if (data.state !== 'closed') continue; // opened again between the list and this read
    events.push(withId(closedEvent(state, target, data as PullRequestLike, actor)));
  }
  return events;
}
