import type { IncomingMessage } from 'node:http';
import { requireScope, type Principal } from '../api/auth.ts';
import { ApiError } from '../api/errors.ts';
import { sendJson, type Router } from '../api/http.ts';
import { commandsHelp } from './commands/registry.ts';
import type { ReconcileResult } from './reconcile.ts';

/** What the GitHub routes need from the integration. */
export interface GitHubRouteDeps {
  authenticate(req: IncomingMessage): Principal | null;
  /** Runs a reconcile now; null when the GitHub App is not configured. */
  reconcile: ((actor: string) => Promise<ReconcileResult>) | null;
  notConfiguredMessage: string;
}

/** GET /v1/commands (read) and POST /v1/reconcile (write). */
export function githubRoutes(router: Router, deps: GitHubRouteDeps): void {
  router.on('GET', '/v1/commands', ({ req, res }) => {
    requireScope(deps.authenticate(req), 'read');
    sendJson(res, 200, { commands: commandsHelp() });
  });

  router.on('POST', '/v1/reconcile', async ({ req, res }) => {
    const principal = requireScope(deps.authenticate(req), 'write');
    // The body, if any, carries nothing; drain it so the connection can be reused.
    req.resume();
    if (!deps.reconcile) throw new ApiError('not_configured', deps.notConfiguredMessage);
    const result = await deps.reconcile(principal.actor);
    sendJson(res, 200, { reconcile: result });
  });
}
