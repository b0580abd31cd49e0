import { createHash } from 'node:crypto';

/**
 * Label and annotation names shared by the executor, the cluster controls and the manifests in
 * `k8s/`. `test/k8s/manifests.test.ts` checks that NetworkPolicy and RBAC use these same values,
 * so renaming one here without the YAML fails the tests rather than a production emergency stop.
 */
export const APP_LABEL = 'app';
/** `app=leviathan-worker`: the operator document's `kubectl delete jobs -l app=leviathan-worker`. */
export const WORKER_APP = 'leviathan-worker';
/** Label selector matching every worker Job (and its pods). */
export const WORKER_SELECTOR = `${APP_LABEL}=${WORKER_APP}`;
/** Sanitised `owner.repo`; the exact `owner/repo` is in the annotation of the same name. */
export const TARGET_LABEL = 'leviathan.dev/target';
/** Sanitised task id; the exact id is in the annotation of the same name. */
export const TASK_LABEL = 'leviathan.dev/task';
/** Sanitised attempt id; the exact id is in the annotation of the same name. */
export const ATTEMPT_LABEL = 'leviathan.dev/attempt';

const MAX_LABEL_VALUE = 63;
const MAX_DNS_LABEL = 63;

/** Eight hex characters of SHA-256: keeps shortened names unique and deterministic. */
function shortHash(value: string): string {
  return createHash('sha256').update(value).digest('hex').slice(0, 8);
}

/**
 * Turns any string into a valid label value (≤ 63 chars of `[A-Za-z0-9._-]`, alphanumeric at
 * both ends). Values that had to be shortened or rewritten get a hash suffix so two different
 * inputs do not collapse into one selector.
 */
export function toLabelValue(value: string): string {
  let out = value.replace(/[^A-Za-z0-9._-]+/g, '-');
  out = trimToAlnum(out);
  if (out === value && out.length <= MAX_LABEL_VALUE) return out;
  const suffix = shortHash(value);
  const head = trimToAlnum(out.slice(0, MAX_LABEL_VALUE - suffix.length - 1));
  return head ? `${head}-${suffix}` : suffix;
}

/** `owner/repo` → `owner.repo` (GitHub names are already label-safe apart from the slash). */
export function targetLabelValue(target: string): string {
  return toLabelValue(target.replace('/', '.'));
}

/**
 * Job name for an attempt: `leviathan-worker-<attempt-id>` as a DNS-1123 label (≤ 63 chars,
 * because Kubernetes copies the Job name into the pods' `job-name` label). Deterministic, so a
 * retried start finds the Job it created before. Lower-casing alone adds no suffix (attempt ids
 * such as ULIDs are case-insensitive); any other rewrite or truncation does.
 */
export function workerJobName(attemptId: string): string {
  const prefix = `${WORKER_APP}-`;
  const lowered = attemptId.toLowerCase();
  const cleaned = lowered.replace(/[^a-z0-9-]+/g, '-').replace(/-{2,}/g, '-').replace(/^-+|-+$/g, '');
  const candidate = `${prefix}${cleaned}`;
  if (cleaned === lowered && cleaned.length > 0 && candidate.length <= MAX_DNS_LABEL) return candidate;
  const suffix = shortHash(attemptId);
  const room = MAX_DNS_LABEL - prefix.length - suffix.length - 1;
  const head = cleaned.slice(0, room).replace(/-+$/g, '');
  return head ? `${prefix}${head}-${suffix}` : `${prefix}${suffix}`;
}

function trimToAlnum(value: string): string {
  return value.replace(/^[^A-Za-z0-9]+/, '').replace(/[^A-Za-z0-9]+$/, '');
}
