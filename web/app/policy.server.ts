import type { AppLoadContext } from '@remix-run/node';
import { parsePolicy } from '../../src/contract/policy.ts';
import { policyStarter } from '../../src/console/policy-starter.ts';
import { apiGetResult, targetPath } from './api.server.ts';
import type { TargetView } from './api-types.ts';

/**
 * What the policy editor starts from. `base` goes back with the form: the blob sha the text was
 * edited from, `none` when there was no file, `unknown` when the file could not be read (then
 * nothing may be proposed over it).
 */
export type PolicyEditor =
  | { state: 'file'; text: string; base: string; ref: string; eol: 'lf' | 'crlf' }
  | { state: 'starter'; text: string; base: 'none'; ref: string; eol: 'lf' }
  | { state: 'unavailable'; text: ''; base: 'unknown'; message: string; eol: 'lf' };

/**
 * The editor's text: the target's own .leviathan/policy.yaml byte for byte when it has one (its
 * comments, order and unknown keys are the owner's); a starter generated from the effective
 * policy only when there is no file. Never a rendering of the values over an existing file.
 */
export async function policyEditor(context: AppLoadContext, request: Request, target: TargetView): Promise<PolicyEditor> {
  const r = await apiGetResult<{ ref: string; file: { text: string; sha: string } | null }>(context, request, `${targetPath(target.id)}/policy/file`);
  if (!r.ok) return { state: 'unavailable', text: '', base: 'unknown', message: r.failure.message, eol: 'lf' };
  if (r.body.file === null) return { state: 'starter', text: policyStarter(target.policy), base: 'none', ref: r.body.ref, eol: 'lf' };
  const { text, sha } = r.body.file;
  return { state: 'file', text, base: sha, ref: r.body.ref, eol: text.includes('\r\n') ? 'crlf' : 'lf' };
}

/**
 * The text as the owner typed it. Browsers submit a textarea with CRLF line breaks whatever the
 * file used; put back the file's own line endings so an unchanged line stays unchanged in the PR.
 */
export function submittedText(raw: string, eol: string): string {
  const lf = raw.replace(/\r\n?/g, '\n');
  return eol === 'crlf' ? lf.replace(/\n/g, '\r\n') : lf;
}

/** Why the text would be refused by the parser the scheduler uses, or null when it is valid. */
export function policyProblem(text: string): string | null {
  const parsed = parsePolicy(text);
  if (parsed.ok) return null;
  return `policy.yaml${parsed.error.line !== null ? ` line ${parsed.error.line}` : ''}: ${parsed.error.reason}`;
}
