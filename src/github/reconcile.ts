import { newEvent, type NewEvent } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import type { ProjectionState } from '../projections/state.ts';
import { describe } from './background.ts';
import { splitTarget, type GitHubClient } from './client.ts';
import { closedEvent, openedEvent, isLeviathanPr, type PullRequestLike } from './pull-requests.ts';
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

/**
 * Makes targets and open PRs in the log match GitHub, for when webhooks were missed (downtime,
 * failed deliveries). Lists the App's installations and their repositories (registering new ones,
 * removing gone ones), then every repository's open PRs with paginated pulls.list: open PRs the
 * log does not know are recorded (pr.created for ours, pr.observed for others), PRs the log
 * thinks open but GitHub does not are recorded closed or merged (pulls.get tells which).
 * Fails closed: a target whose listing failed is left untouched and reported in `errors`.
 * `onRegistered` is told of targets it registered (the caller reads their backlog).
 */
export async function reconcile(
  rt: AppRuntime,
  opts: { actor: string; onRegistered?: (target: string, installationId: number, octokit: GitHubClient) => void },
): Promise<ReconcileResult> {
  const result: ReconcileResult = { installations: 0, targets: 0, corrections: [], errors: [] };
  const app = await rt.clients.forApp();
  const installations = await app.paginate('GET /app/installations', { per_page: 100 });
  result.installations = installations.length;
  const listedInstallations = new Set(installations.map((i) => i.id));

  for (const inst of installations) {
    if (inst.suspended_at) continue; // a suspended installation cannot be read; its targets stay as they are
    let octokit: GitHubClient;
    let repos: Repo[];
    try {
      octokit = await rt.clients.forInstallation(inst.id);
      repos = (await octokit.paginate('GET /installation/repositories', { per_page: 100 })) as Repo[];
    } catch (err) {
      result.errors.push({ scope: `installation ${inst.id}`, ...describe(err) });
      continue;
    }
    const state = rt.projector.state;
    const registrations: NewEvent[] = [];
    for (const repo of repos) {
      const t = state.targets[repo.full_name];
      const stale = !t || t.lifecycle === 'removed' || t.installation_id !== inst.id || (repo.default_branch && t.default_branch !== repo.default_branch);
      if (stale) {
        registrations.push(
          newEvent({
            type: 'target.registered',
            actor: opts.actor,
            target: repo.full_name,
            subject: subjects.target(repo.full_name),
            data: { installation_id: inst.id, ...(repo.default_branch ? { default_branch: repo.default_branch } : {}), via: 'reconcile' },
          }),
        );
      }
    }
    const names = new Set(repos.map((r) => r.full_name));
    for (const t of Object.values(state.targets)) {
      if (t.installation_id === inst.id && t.lifecycle !== 'removed' && !names.has(t.id)) {
        registrations.push(newEvent({ type: 'target.removed', actor: opts.actor, target: t.id, subject: subjects.target(t.id), data: { installation_id: inst.id, via: 'reconcile' } }));
      }
    }
    await record(rt, registrations);
    for (const e of registrations) {
      result.corrections.push({ type: e.type, target: e.target! });
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

  // Targets of installations that no longer exist (the App was uninstalled while we were down).
  const gone: NewEvent[] = Object.values(rt.projector.state.targets)
    .filter((t) => t.lifecycle !== 'removed' && t.installation_id !== null && !listedInstallations.has(t.installation_id))
    .map((t) => newEvent({ type: 'target.removed', actor: opts.actor, target: t.id, subject: subjects.target(t.id), data: { installation_id: t.installation_id, via: 'reconcile' } }));
  await record(rt, gone);
  for (const e of gone) result.corrections.push({ type: e.type, target: e.target! });
  return result;
}

/** The events that make one target's open PRs in the log equal GitHub's list. */
export async function prCorrections(state: ProjectionState, octokit: GitHubClient, target: string, actor: string): Promise<NewEvent[]> {
  const { owner, repo } = splitTarget(target);
  const open = (await octokit.paginate('GET /repos/{owner}/{repo}/pulls', { owner, repo, state: 'open', per_page: 100 })) as PullRequestLike[];
  const t = state.targets[target];
  const ours = new Set(t?.open_prs.map((p) => p.number) ?? []);
  const observed = new Set(t?.observed_open_prs ?? []);
  const events: NewEvent[] = [];
  const withId = (e: Omit<NewEvent, 'id'>): NewEvent => ({ ...newEvent(e), data: { ...e.data, via: 'reconcile' } });

  const openNumbers = new Set<number>();
  for (const pr of open) {
    openNumbers.add(pr.number);
    const known = isLeviathanPr(pr) ? ours.has(pr.number) : observed.has(pr.number) || ours.has(pr.number);
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
