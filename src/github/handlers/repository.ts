import { activeTarget, type ProjectionState } from '../../projections/state.ts';
import type { UnidentifiedEvent } from '../pull-requests.ts';
import { targetEvent } from './installation.ts';

/** The parts of a `repository` payload read here. */
export interface RepositoryPayload {
  action: string;
  repository: { full_name: string; name: string; default_branch?: string };
  changes?: {
    repository?: { name?: { from?: string } };
    owner?: { from?: { user?: { login?: string }; organization?: { login?: string } } };
    default_branch?: { from?: string };
  };
  installation?: { id: number };
}

/** What is left to do once a `repository` webhook's events are recorded (it needs GitHub, so it runs after the answer). */
export type RepositoryFollowUp =
  /** Moved (renamed, transferred): check the new name's PRs and backlog, as for any registration. */
  | { kind: 'register'; target: string; installationId: number | null; defaultBranch: string | undefined }
  /** The default branch changed: ask GitHub which it is now, record it and read the backlog there. */
  | { kind: 'default_branch'; target: string }
  /** A repository the log does not know: the installation is read again instead of guessing. */
  | { kind: 'reconcile'; installationId: number };

/**
 * Events of a `repository` webhook action for the targets (renamed, transferred, deleted, edited
 * with a new default branch), and the follow-up. A moved target is registered under its new name
 * with `renamed_from`, so the projection carries its open PRs, pause and history over, and the
 * old name is removed: every later webhook arrives under the new name. Pure: the caller records
 * the events and runs the follow-up.
 */
export function repositoryEvents(state: ProjectionState, payload: RepositoryPayload, actor: string): { events: UnidentifiedEvent[]; followUp: RepositoryFollowUp | null } {
  const name = payload.repository.full_name;
  const installationId = payload.installation?.id ?? null;
  const unknown = (): { events: UnidentifiedEvent[]; followUp: RepositoryFollowUp | null } => ({
    events: [],
    followUp: installationId !== null ? { kind: 'reconcile', installationId } : null,
  });
  switch (payload.action) {
    case 'renamed':
    case 'transferred': {
      const from = previousName(payload);
      const old = from ? activeTarget(state, from) : null;
      if (!from || from === name) return { events: [], followUp: null };
      if (!old) {
        // A redelivery of a move already recorded changes nothing; any other unknown is reconciled.
        return activeTarget(state, name) ? { events: [], followUp: null } : unknown();
      }
      const installation = installationId ?? old.installation_id;
      const branch = payload.repository.default_branch;
      return {
        events: [
          targetEvent('target.registered', name, actor, {
            ...(installation !== null ? { installation_id: installation } : {}),
            ...(branch ? { default_branch: branch } : {}),
            renamed_from: from,
            via: payload.action,
          }),
          targetEvent('target.removed', from, actor, { ...(old.installation_id !== null ? { installation_id: old.installation_id } : {}), renamed_to: name, via: payload.action }),
        ],
        followUp: { kind: 'register', target: name, installationId: installation, defaultBranch: branch },
      };
    }
    case 'deleted': {
      const t = activeTarget(state, name);
      if (!t) return { events: [], followUp: null };
      return { events: [targetEvent('target.removed', name, actor, { ...(t.installation_id !== null ? { installation_id: t.installation_id } : {}), via: 'deleted' })], followUp: null };
    }
    case 'edited': {
      if (!payload.changes?.default_branch) return { events: [], followUp: null };
      return activeTarget(state, name) ? { events: [], followUp: { kind: 'default_branch', target: name } } : unknown();
    }
    default:
      return { events: [], followUp: null };
  }
}

/** `owner/name` before a rename (same owner, old name) or a transfer (old owner, same name). */
function previousName(payload: RepositoryPayload): string | null {
  const [owner] = payload.repository.full_name.split('/');
  if (payload.action === 'renamed') {
    const from = payload.changes?.repository?.name?.from;
    return from ? `${owner}/${from}` : null;
  }
  const fromOwner = payload.changes?.owner?.from?.organization?.login ?? payload.changes?.owner?.from?.user?.login;
  return fromOwner ? `${fromOwner}/${payload.repository.name}` : null;
}
