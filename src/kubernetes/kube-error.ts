/**
 * The client's ApiException, recognised by shape: importing the class would load the whole
 * @kubernetes/client-node package (~110 MB of RSS) into every `serve`, even on the local executor.
 */
interface ApiExceptionLike {
  code: number;
  body: unknown;
  headers: unknown;
}

function isApiException(err: unknown): err is ApiExceptionLike {
  return err instanceof Error && typeof (err as Partial<ApiExceptionLike>).code === 'number' && 'body' in err && 'headers' in err;
}

/** Stable codes for failures talking to the Kubernetes API; mapped to HTTP in `api/` only. */
export const KubernetesErrorCode = {
  NotFound: 'kubernetes_not_found',
  Conflict: 'kubernetes_conflict',
  Invalid: 'kubernetes_invalid',
  Forbidden: 'kubernetes_forbidden',
  Unauthorized: 'kubernetes_unauthorized',
  Unreachable: 'kubernetes_unreachable',
  Failed: 'kubernetes_failed',
} as const;
export type KubernetesErrorCode = (typeof KubernetesErrorCode)[keyof typeof KubernetesErrorCode];

/**
 * A failed Kubernetes API call, reduced to what an operator can act on: the HTTP status, the
 * `metav1.Status` reason and message. The client's own exception is deliberately not kept as
 * `cause`: its message embeds response headers and bodies, and nothing from a request (above all
 * the bearer token) may travel further than this object.
 */
export class KubernetesError extends Error {
  override readonly name = 'KubernetesError';
  constructor(
    readonly code: KubernetesErrorCode,
    message: string,
    /** HTTP status from the API server; undefined when it could not be reached. */
    readonly status?: number,
    /** `metav1.Status.reason`, e.g. `NotFound`, `AlreadyExists`, `Invalid`. */
    readonly reason?: string,
  ) {
    super(message);
  }
}

interface StatusBody {
  message?: unknown;
  reason?: unknown;
}

/** Removes anything that looks like a credential from text we did not write ourselves. */
export function redact(text: string): string {
  return text
    .replace(/Bearer\s+[^\s"',]+/gi, 'Bearer [redacted]')
    .replace(/(token|password|secret)(["']?\s*[:=]\s*["']?)[^\s"',}]+/gi, '$1$2[redacted]');
}

function parseStatus(body: unknown): StatusBody {
  if (typeof body === 'string') {
    try {
      const parsed: unknown = JSON.parse(body);
      return parsed && typeof parsed === 'object' ? (parsed as StatusBody) : {};
    } catch {
      return {};
    }
  }
  return body && typeof body === 'object' ? (body as StatusBody) : {};
}

function codeForStatus(status: number): KubernetesErrorCode {
  if (status === 404) return KubernetesErrorCode.NotFound;
  if (status === 409) return KubernetesErrorCode.Conflict;
  if (status === 422 || status === 400) return KubernetesErrorCode.Invalid;
  if (status === 403) return KubernetesErrorCode.Forbidden;
  if (status === 401) return KubernetesErrorCode.Unauthorized;
  return KubernetesErrorCode.Failed;
}

/**
 * Converts whatever the client threw into a {@link KubernetesError}. `action` names what we were
 * doing (`create Job leviathan-worker-a1`) so the message reads as a sentence for operators.
 */
export function toKubernetesError(err: unknown, action: string): KubernetesError {
  if (err instanceof KubernetesError) return err;
  if (isApiException(err)) {
    const status = Number(err.code);
    const body = parseStatus(err.body);
    const reason = typeof body.reason === 'string' ? body.reason : undefined;
    const detail = typeof body.message === 'string' ? body.message : `HTTP ${status}`;
    const hint =
      status === 401
        ? ' (the service account token was rejected)'
        : status === 403
          ? ' (check the Role bound to this service account in k8s/base/rbac.yaml)'
          : '';
    return new KubernetesError(
      codeForStatus(status),
      redact(`Kubernetes API refused to ${action}: ${detail}${hint}`),
      status,
      reason,
    );
  }
  const message = err instanceof Error ? err.message : String(err);
  return new KubernetesError(
    KubernetesErrorCode.Unreachable,
    redact(`Kubernetes API unreachable while trying to ${action}: ${message}`),
  );
}
