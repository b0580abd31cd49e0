import { newEvent } from '../../../src/events/envelope.ts';
import { OPERATOR_ACTION_TYPES } from '../../../src/events/types.ts';
import type { TestControlPlane } from '../../helpers/control-plane.ts';

/** A backlog task as backlog.synced carries it. */
export function task(id: string, extra: Record<string, unknown> = {}) {
  // Each task its own paths, so path leases never block one task because of another's PR.
  return { id, title: `Task ${id}`, priority: 'medium', ready: true, status: 'pending', dependencies: [], allowed_paths: [`src/${id}/**`], ...extra };
}

/**
 * Posts events through the API (write token) and fails loudly when the API refuses them, in order.
 * An operator action that names its actor (a slash command's commenter) is appended to the store,
 * as the control plane itself records one: the API records operator actions only as their caller.
 */
export async function post(cp: TestControlPlane, events: Array<Record<string, unknown>>): Promise<void> {
  const named = (e: Record<string, unknown>) => typeof e.actor === 'string' && OPERATOR_ACTION_TYPES.includes(e.type as string);
  for (let i = 0; i < events.length; ) {
    let j = i;
    while (j < events.length && named(events[j]!) === named(events[i]!)) j++;
    const run = events.slice(i, j);
    if (named(run[0]!)) {
      const { stored } = await cp.store.append(run.map((e) => newEvent(e as Parameters<typeof newEvent>[0])));
      await cp.projector.waitFor(stored.at(-1)!.seq);
    } else {
      const res = await cp.api('/v1/events', { method: 'POST', json: run });
      if (!res.ok) throw new Error(`POST /v1/events → ${res.status}: ${await res.text()}`);
    }
    i = j;
  }
}

/** One target, autonomy on, a backlog (and whatever else its sync recorded): the base every dashboard state starts from. */
export async function seedTarget(cp: TestControlPlane, target: string, tasks: Array<Record<string, unknown>>, synced: Record<string, unknown> = {}): Promise<void> {
  await post(cp, [
    { type: 'autonomy.enabled', data: { reason: 'seed', source: 'operator' } },
    { type: 'target.registered', target, subject: `target:${target}`, data: { installation_id: 1, default_branch: 'main' } },
    { type: 'backlog.synced', target, subject: `target:${target}`, data: { tasks, etag: 'e1', ...synced } },
  ]);
}

/** The `.leviathan/contract.yaml` of the rich seed's main target, as backlog.synced records it. */
export const RADIX_CONTRACT = {
  name: 'Radix HTTP client',
  purpose: 'Keep the radix client small, typed and documented.',
  // `<module>` is text: shown as written, never parsed as markup.
  definition_of_done: ['Unit tests added under test/<module>/', 'Docs updated when behaviour changes'],
  scope: 'src/ and docs/',
  safety: 'No network access in tests.',
  quality_gates: ['npm test', 'npm run lint'],
};

const T = 'acme/radix';

/** A task selected, an attempt that succeeded with its PR: the healthy story of the operator document. */
export function prStory(target: string, taskId: string, n: number, attempt = `att-${taskId}`): Array<Record<string, unknown>> {
  return [
    { type: 'task.selected', target, subject: `task:${target}/${taskId}`, data: { task_id: taskId, attempt_id: attempt } },
    { type: 'attempt.created', target, subject: `attempt:${attempt}`, data: { attempt_id: attempt, task_id: taskId } },
    { type: 'attempt.succeeded', target, subject: `attempt:${attempt}`, data: { attempt_id: attempt, task_id: taskId, pr_number: n, duration_seconds: 120 } },
    { type: 'pr.created', target, subject: `pr:${target}#${n}`, data: { number: n, task_id: taskId, attempt_id: attempt, title: `Leviathan: ${taskId}` } },
  ];
}

/** A failed attempt of a task. */
export function failure(target: string, taskId: string, attempt: string, failureType: string): Array<Record<string, unknown>> {
  return [
    { type: 'task.selected', target, subject: `task:${target}/${taskId}`, data: { task_id: taskId, attempt_id: attempt } },
    { type: 'attempt.created', target, subject: `attempt:${attempt}`, data: { attempt_id: attempt, task_id: taskId } },
    { type: 'attempt.failed', target, subject: `attempt:${attempt}`, data: { attempt_id: attempt, task_id: taskId, failure_type: failureType, message: `${failureType} in worker` } },
  ];
}

/** A clock the seed can set back, so the history spreads over hours as it would in production. */
export class SeedClock {
  private offsetMs = 0;
  readonly now = (): Date => new Date(Date.now() - this.offsetMs);
  /** Events appended from now on are stamped `minutes` ago (times must only move forward). */
  at(minutes: number): void {
    this.offsetMs = minutes * 60_000;
  }
}

/** Two targets with a few hours of history: what the screenshots show. */
export async function seedRich(cp: TestControlPlane, clock?: SeedClock): Promise<void> {
  const at = (m: number) => clock?.at(m);
  at(180);
  await seedTarget(cp, T, [
    task('api-base-normalization', { priority: 'high' }),
    task('docs-update'),
    task('add-unit-tests'),
    task('ci-workflow-update', { dependencies: ['add-unit-tests'] }),
    task('deps-update', { ready: false }),
  ], { contract: RADIX_CONTRACT });
  at(150);
  await post(cp, failure(T, 'docs-update', 'att-docs-update-0', 'agent_error'));
  at(125);
  await post(cp, prStory(T, 'docs-update', 721));
  at(15);
  await post(cp, [{ type: 'pr.merged', target: T, subject: `pr:${T}#721`, data: { number: 721 } }]);
  at(12);
  await post(cp, failure(T, 'add-unit-tests', 'att-add-unit-tests-1', 'timeout'));
  at(2);
  await post(cp, prStory(T, 'api-base-normalization', 722));
  at(1);
  await post(cp, [
    { type: 'target.registered', target: 'acme/website', subject: 'target:acme/website', data: { installation_id: 2, default_branch: 'main' } },
    { type: 'backlog.synced', target: 'acme/website', subject: 'target:acme/website', data: { tasks: [task('landing-copy', { ready: false })] } },
    { type: 'target.paused', target: 'acme/website', subject: 'target:acme/website', actor: 'github:octocat', data: { reason: 'Release freeze', via: 'slash_command' } },
  ]);
  at(0);
}
