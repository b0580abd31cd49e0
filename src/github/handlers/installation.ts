import { newEvent } from '../../events/envelope.ts';
import { subjects } from '../../events/types.ts';
import type { ProjectionState } from '../../projections/state.ts';
import type { UnidentifiedEvent } from '../pull-requests.ts';

/** The parts of an `installation` payload read here. */
export interface InstallationPayload {
  action: string;
  installation: { id: number };
  repositories?: Array<{ full_name: string }>;
  sender?: { login: string };
}

/** Target events of an `installation` webhook action (created, deleted, suspend, unsuspend). */
export function installationEvents(state: ProjectionState, payload: InstallationPayload, actor: string): UnidentifiedEvent[] {
  const id = payload.installation.id;
  const listed = (payload.repositories ?? []).map((r) => r.full_name);
  switch (payload.action) {
    case 'created':
      return listed.map((t) => targetEvent('target.registered', t, actor, { installation_id: id }));
    case 'deleted':
      return installationTargets(state, id, listed).map((t) => targetEvent('target.removed', t, actor, { installation_id: id }));
    case 'suspend':
      return installationTargets(state, id, listed).map((t) => targetEvent('target.suspended', t, actor, { installation_id: id }));
    case 'unsuspend':
      return installationTargets(state, id, listed).map((t) => targetEvent('target.unsuspended', t, actor, { installation_id: id }));
    default:
      return [];
  }
}

/**
 * The repositories of an installation: those the payload lists plus those the projection knows
 * under it (suspend and unsuspend payloads list none), sorted so that ids are stable.
 */
export function installationTargets(state: ProjectionState, installationId: number, listed: string[]): string[] {
  const known = Object.values(state.targets)
    .filter((t) => t.installation_id === installationId && t.lifecycle !== 'removed')
    .map((t) => t.id);
  return [...new Set([...listed, ...known])].sort();
}

/** One target lifecycle event. */
export function targetEvent(type: string, target: string, actor: string, data: Record<string, unknown>): UnidentifiedEvent {
  const { id: _id, ...e } = newEvent({ type, actor, target, subject: subjects.target(target), data });
  return e;
}
