import { observeCluster, type OperatorControlOptions } from '../../control/autonomy-controls.ts';
import { diagnose, RECENT_MS, type ClusterFacts } from '../../control/diagnosis.ts';
import type { StoredEvent } from '../../events/envelope.ts';
import { subjects } from '../../events/types.ts';
import type { EventQuery, EventStore } from '../../store/event-store.ts';
import { requireScope } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { sendJson, type Router } from '../http.ts';
import type { ApiDeps } from '../api-deps.ts';
import { targetId } from './targets.ts';

/** The newest event of each of these types, whatever its age (the state they explain may be old). */
const LATEST_GLOBAL = ['autonomy.enabled', 'autonomy.disabled', 'scheduler.cycle_started', 'scheduler.emergency_stopped', 'scheduler.emergency_resumed', 'scheduler.cycle_completed'];
const LATEST_OF_TARGET = [
  'target.registered',
  'target.paused',
  'target.resumed',
  'target.suspended',
  'target.unsuspended',
  'target.removed',
  'backlog.synced',
  'backlog.invalid',
  'circuit_breaker.tripped',
  'circuit_breaker.reset',
];
/** The last 24 hours of these, for auth problems, failures and what touched GitHub last. */
const RECENT_OF_TARGET = ['task.skipped', 'task.selected', 'attempt.failed', 'attempt.succeeded', 'pr.created', 'pr.observed', 'pr.reopened'];

/**
 * Everything {@link diagnose} looks at for one target. One query per type: each is an indexed
 * read of a few events, and a single multi-type filter is not something every store honours.
 */
export async function gatherEvidence(store: EventStore, target: string, now: Date): Promise<StoredEvent[]> {
  const since = new Date(now.getTime() - RECENT_MS).toISOString();
  const queries: EventQuery[] = [
    ...LATEST_GLOBAL.map((type) => ({ type, order: 'desc' as const, limit: 1 })),
    ...LATEST_OF_TARGET.map((type) => ({ target, type, order: 'desc' as const, limit: 1 })),
    ...RECENT_OF_TARGET.map((type) => ({ target, type, since, order: 'desc' as const, limit: 100 })),
  ];
  const pages = await Promise.all(queries.map((q) => store.read(q)));
  const bySeq = new Map<number, StoredEvent>();
  for (const page of pages) for (const e of page.events) bySeq.set(e.seq, e);
  return [...bySeq.values()].sort((a, b) => a.seq - b.seq);
}

/** `GET /v1/targets/:owner/:repo/diagnosis` (read scope): why the target is not executing, and what to do. */
export function diagnosisRoutes(router: Router, deps: ApiDeps, controls: OperatorControlOptions): void {
  router.on('GET', '/v1/targets/:owner/:repo/diagnosis', async ({ req, res, params }) => {
    requireScope(deps.authenticate(req), 'read');
    const id = targetId(params);
    // Read-your-writes: judge a projection that includes everything acknowledged so far.
    await deps.projector.waitFor(deps.store.health().head.seq);
    const state = deps.projector.state;
    const t = state.targets[id];
    if (!t || t.lifecycle === 'removed') throw new ApiError('not_found', `No target ${id}. Is the GitHub App installed on it? (leviathan ctl reconcile)`);
    const now = deps.clock.now();
    const events = await gatherEvidence(deps.store, id, now);
    // Open PRs may be older than a day: fetch the events that opened them, for the max-PRs evidence.
    const openPrs = new Set(t.open_prs.map((p) => p.number));
    const known = new Set(events.filter((e) => e.type === 'pr.created' || e.type === 'pr.observed').map((e) => e.data.number));
    for (const n of openPrs) {
      if (known.has(n)) continue;
      const page = await deps.store.read({ target: id, subject: subjects.pr(id, n), type: 'pr.created', order: 'desc', limit: 1 });
      events.push(...page.events);
    }
    let cluster: ClusterFacts | undefined;
    if (controls.cluster) {
      const seen = await observeCluster(controls.cluster);
      cluster = {
        namespace: seen.namespace,
        cronJobName: seen.cronJobName,
        configMapName: seen.configMapName,
        autonomyEnabled: seen.configmap ? seen.configmap.autonomyEnabled : null,
        cronjob: seen.cronjob,
        errors: seen.errors,
      };
    }
    const diagnosis = diagnose(now, state, id, { events }, cluster);
    sendJson(res, 200, { diagnosis, ...(cluster && cluster.errors.length ? { cluster_errors: cluster.errors } : {}) });
  });
}
