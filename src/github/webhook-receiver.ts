import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Probot } from 'probot';
import { z } from 'zod';
import { ApiError } from '../api/errors.ts';
import { readBody, sendError, sendJson } from '../api/http.ts';
import type { Mount } from '../api/server.ts';
import { WEBHOOK_PATH } from './app-config.ts';

/** GitHub caps webhook payloads at 25 MB. */
const MAX_WEBHOOK_BYTES = 25 * 1024 * 1024;

const login = z.object({ login: z.string() }).passthrough();
const repository = z.object({ full_name: z.string().regex(/^[^/\s]+\/[^/\s]+$/), default_branch: z.string().optional() }).passthrough();
const installation = z.object({ id: z.number().int() }).passthrough();
/** What every event must hold, whatever its name: an object, its installation (if any) with an integer id. */
const ANY_PAYLOAD = z.object({ installation: installation.nullable().optional() }).passthrough();

/**
 * What the handlers read from each event they handle. GitHub always sends these fields; a signed
 * payload without them is refused with 422 here instead of failing inside a handler.
 */
const PAYLOADS: Record<string, z.ZodTypeAny> = {
  installation: z.object({ action: z.string(), installation, repositories: z.array(z.object({ full_name: z.string() }).passthrough()).optional() }).passthrough(),
  installation_repositories: z
    .object({
      action: z.string(),
      installation,
      repositories_added: z.array(z.object({ full_name: z.string() }).passthrough()),
      repositories_removed: z.array(z.object({ full_name: z.string() }).passthrough()),
    })
    .passthrough(),
  pull_request: z
    .object({
      action: z.string(),
      repository,
      pull_request: z.object({ number: z.number().int().positive(), body: z.string().nullable().optional(), updated_at: z.string().optional() }).passthrough(),
    })
    .passthrough(),
  push: z.object({ ref: z.string(), after: z.string(), repository, commits: z.array(z.object({}).passthrough()).optional() }).passthrough(),
  issue_comment: z
    .object({
      action: z.string(),
      repository,
      issue: z.object({ number: z.number().int().positive() }).passthrough(),
      comment: z.object({ id: z.number().int(), body: z.string().nullable(), user: login, html_url: z.string() }).passthrough(),
    })
    .passthrough(),
};

/** Constant-time check of `X-Hub-Signature-256` over the exact bytes received. */
export function signatureValid(secret: string, body: Buffer, header: string | undefined): boolean {
  if (!header?.startsWith('sha256=')) return false;
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(body).digest('hex')}`);
  const given = Buffer.from(header);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/**
 * POST /api/github/webhooks, in our own hands rather than Probot's middleware, so every refusal
 * is our JSON error and nothing malformed reaches a handler: method → headers → size →
 * signature (unless `secret` is null: `--insecure-dev-webhooks`) → JSON → payload shape → the
 * Probot app. Nothing is recorded for a refused delivery.
 */
export function webhookReceiver(probot: Probot, secret: string | null, logger: Logger): Mount {
  return async (req: IncomingMessage, res: ServerResponse) => {
    if (pathOf(req) !== WEBHOOK_PATH) return false;
    try {
      if (req.method !== 'POST') throw new ApiError('method_not_allowed', `Use POST on ${WEBHOOK_PATH}.`);
      const name = req.headers['x-github-event'];
      const id = req.headers['x-github-delivery'];
      if (typeof name !== 'string' || !/^[a-z_]+$/.test(name) || typeof id !== 'string' || !id || id.length > 200) {
        throw new ApiError('invalid_request', 'Required headers missing or malformed: x-github-event, x-github-delivery.');
      }
      const body = await readBody(req, MAX_WEBHOOK_BYTES);
      if (secret !== null && !signatureValid(secret, body, req.headers['x-hub-signature-256'] as string | undefined)) {
        throw new ApiError('unauthorized', 'Webhook signature (X-Hub-Signature-256) missing or not valid for the configured WEBHOOK_SECRET.');
      }
      let payload: unknown;
      try {
        payload = JSON.parse(body.toString('utf8'));
      } catch {
        throw new ApiError('invalid_json', 'Webhook body is not valid JSON.');
      }
      const schema = PAYLOADS[name];
      if (schema) refuseUnless(name, schema.safeParse(payload));
      else if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) {
        throw new ApiError('validation_failed', `${name} payload must be a JSON object.`);
      }
      // Probot authenticates as the payload's installation before any handler runs: an id it
      // cannot use (a string, say) would throw there, outside every handler, as a 500.
      refuseUnless(name, ANY_PAYLOAD.safeParse(payload));
      await probot.receive({ id, name, payload } as Parameters<Probot['receive']>[0]);
      sendJson(res, 200, { ok: true });
    } catch (err) {
      if (!(err instanceof ApiError)) {
        logger.error({ err, delivery: req.headers['x-github-delivery'] }, 'Webhook handler failed');
        // A handler failure: GitHub shows the status and can redeliver; the ids make that safe.
        sendError(res, new Error('webhook handler failed'));
        return true;
      }
      sendError(res, err);
    }
    return true;
  };
}

/** A payload that failed its schema: 422 with the first problem's path. */
function refuseUnless(name: string, parsed: z.SafeParseReturnType<unknown, unknown>): void {
  if (parsed.success) return;
  const issue = parsed.error.issues[0]!;
  throw new ApiError('validation_failed', `${name} payload: ${issue.path.join('.') || 'body'}: ${issue.message}`);
}

export function pathOf(req: IncomingMessage): string {
  return (req.url ?? '/').split('?')[0]!.replace(/\/+$/, '') || '/';
}
