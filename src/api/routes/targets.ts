import type { IncomingMessage } from 'node:http';
import { z } from 'zod';
import { pauseTarget, resetBreaker, resumeTarget, type Channel } from '../../control/target-controls.ts';
import { targetView, targetViews } from '../../projections/target-view.ts';
import { requireScope, type Principal } from '../auth.ts';
import { ApiError } from '../errors.ts';
import { readJson, sendJson, type RouteContext, type Router } from '../http.ts';
import type { ApiDeps } from '../api-deps.ts';

const pauseBody = z.object({ reason: z.string().trim().min(1, 'a reason is required').max(2000), via: z.enum(['api', 'console', 'ctl']).optional() }).strict();
const resumeBody = z.object({ reason: z.string().trim().max(2000).optional(), via: z.enum(['api', 'console', 'ctl']).optional() }).strict();

/**
 * Validates a JSON body with a zod schema, answering 422 with the first problem. A request with
 * no body at all (`curl -X POST …/resume`) counts as `{}`, so an action that needs nothing needs
 * no body; a literal `null` is refused like any other non-object.
 */
export async function body<T extends z.ZodTypeAny>(ctx: RouteContext, schema: T): Promise<z.infer<T>> {
  const raw = hasBody(ctx.req) ? await readJson(ctx.req) : {};
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new ApiError('validation_failed', `${issue.path.join('.') || 'body'}: ${issue.message}`);
  }
  return parsed.data;
}

/** Whether the request carries content: a length above 0, or chunks still to come. */
function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return length !== undefined ? length !== '0' : req.headers['transfer-encoding'] !== undefined;
}

/** Write access to one target: the write scope, then the principal's permission on the repository. */
export async function mayAct(principal: Principal | null, target: string): Promise<Principal> {
  const p = requireScope(principal, 'write');
  if (!(await p.canActOn(target))) {
    throw new ApiError('forbidden', `You need write, maintain or admin permission on ${target} to do that.`);
  }
  return p;
}

export function targetId(params: Record<string, string>): string {
  return `${params.owner}/${params.repo}`;
}

export function targetRoutes(router: Router, deps: ApiDeps): void {
  router.on('GET', '/v1/targets', ({ req, res }) => {
    requireScope(deps.authenticate(req), 'read');
    sendJson(res, 200, { targets: targetViews(deps.projector.state, deps.clock.now()) });
  });

  router.on('GET', '/v1/targets/:owner/:repo', ({ req, res, params }) => {
    requireScope(deps.authenticate(req), 'read');
    const id = targetId(params);
    const t = deps.projector.state.targets[id];
    if (!t || t.lifecycle === 'removed') throw new ApiError('not_found', `No target ${id}.`);
    sendJson(res, 200, { target: targetView(deps.projector.state, t, deps.clock.now()) });
  });

  const control =
    (action: 'pause' | 'resume' | 'reset-breaker') =>
    async (ctx: RouteContext): Promise<void> => {
      const id = targetId(ctx.params);
      const principal = await mayAct(deps.authenticate(ctx.req), id);
      const via: Channel = 'api';
      let event;
      if (action === 'pause') {
        const b = await body(ctx, pauseBody);
        event = await pauseTarget(deps, id, principal.actor, b.reason, b.via ?? via);
      } else {
        const b = await body(ctx, resumeBody);
        event =
          action === 'resume'
            ? await resumeTarget(deps, id, principal.actor, b.reason, b.via ?? via)
            : await resetBreaker(deps, id, principal.actor, b.reason, b.via ?? via);
      }
      const t = deps.projector.state.targets[id]!;
      sendJson(ctx.res, 200, { event: { id: event.id, seq: event.seq, type: event.type }, target: targetView(deps.projector.state, t, deps.clock.now()) });
    };
  router.on('POST', '/v1/targets/:owner/:repo/pause', control('pause'));
  router.on('POST', '/v1/targets/:owner/:repo/resume', control('resume'));
  router.on('POST', '/v1/targets/:owner/:repo/breaker/reset', control('reset-breaker'));
}
