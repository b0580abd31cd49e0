import type { TestControlPlane } from '../helpers/control-plane.ts';

/** Posts events through the public API, as webhooks and operators would, and checks they were stored. */
export async function post(cp: TestControlPlane, events: Array<Record<string, unknown>>): Promise<void> {
  const res = await cp.api('/v1/events', { method: 'POST', json: events });
  if (res.status >= 300) throw new Error(`POST /v1/events: ${res.status} ${await res.text()}`);
  // Read-your-writes for the assertions that follow.
  await cp.projector.waitFor(cp.store.health().head.seq);
}

export const TARGET = 'acme/widgets';

export function taskSummary(id: string, over: Record<string, unknown> = {}) {
  return { id, title: `Task ${id}`, priority: 'medium', ready: true, status: 'pending', dependencies: [], allowed_paths: [`${id}/`], scope: 'docs', ...over };
}

/** target.registered + backlog.synced (+ autonomy.enabled). */
export function seedEvents(tasks: Array<Record<string, unknown>>, opts: { autonomy?: boolean; target?: string } = {}) {
  const target = opts.target ?? TARGET;
  return [
    { type: 'target.registered', target, data: { installation_id: 1, default_branch: 'main' } },
    { type: 'backlog.synced', target, data: { tasks, etag: '"abc"' } },
    ...(opts.autonomy === false ? [] : [{ type: 'autonomy.enabled', data: { reason: 'test' } }]),
  ];
}

/** Every stored event of a type, oldest first. */
export async function eventsOf(cp: TestControlPlane, type: string) {
  const page = await cp.store.read({ type, limit: 1000 });
  return page.events;
}
