import { useRouteLoaderData } from '@remix-run/react';
import type { PublicSession } from '../api-types.ts';

/** The session as the console layout loaded it. */
export function useSession(): PublicSession | null {
  const data = useRouteLoaderData('routes/_console') as { session: PublicSession } | undefined;
  return data?.session ?? null;
}

/** Hidden synchronizer token: every console form carries it, the action checks it. */
export function CsrfField() {
  const session = useSession();
  return <input type="hidden" name="csrf" value={session?.csrf ?? ''} />;
}
