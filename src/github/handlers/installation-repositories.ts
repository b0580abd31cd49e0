import type { UnidentifiedEvent } from '../pull-requests.ts';
import { targetEvent } from './installation.ts';

/** The parts of an `installation_repositories` payload read here. */
export interface InstallationRepositoriesPayload {
  action: string;
  installation: { id: number };
  repositories_added?: Array<{ full_name?: string }>;
  repositories_removed?: Array<{ full_name?: string }>;
}

/** Target events of repositories added to or removed from an installation. */
export function installationRepositoriesEvents(payload: InstallationRepositoriesPayload, actor: string): UnidentifiedEvent[] {
  const id = payload.installation.id;
  if (payload.action === 'added') {
    return names(payload.repositories_added).map((t) => targetEvent('target.registered', t, actor, { installation_id: id }));
  }
  if (payload.action === 'removed') {
    return names(payload.repositories_removed).map((t) => targetEvent('target.removed', t, actor, { installation_id: id }));
  }
  return [];
}

function names(repos: Array<{ full_name?: string }> | undefined): string[] {
  return (repos ?? []).flatMap((r) => (r.full_name ? [r.full_name] : []));
}
