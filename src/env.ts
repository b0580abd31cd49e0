import { z } from 'zod';

/** Empty strings in the environment mean "unset" (Kubernetes renders optional values that way). */
const optional = <T extends z.ZodTypeAny>(schema: T) =>
  z.preprocess((v) => (v === '' ? undefined : v), schema.optional());

const port = z.coerce.number().int().min(0).max(65535);

/**
 * Every environment variable Leviathan reads, validated once at boot. Nothing else in `src/`
 * reads `process.env` directly.
 */
export const envSchema = z.object({
  /** Port of the HTTP server (API, webhooks, console, /metrics). */
  PORT: port.default(8000),
  /** Interface to bind. Defaults to all interfaces; tests bind 127.0.0.1. */
  HOST: z.string().default('0.0.0.0'),
  /** Optional second port serving only /metrics and /health (the operator document's Spider Node, 8001). */
  LEVIATHAN_METRICS_PORT: optional(port),
  /** Directory of the embedded store: the NDJSON event log, snapshots, settings, generated token. */
  LEVIATHAN_DATA_DIR: z.string().default('./data'),
  /**
   * Default age for `leviathan ctl compact` without --before: events older than this many days
   * move to the archive. Keep it beyond GitHub's redelivery window (weeks, not days).
   */
  LEVIATHAN_RETENTION_DAYS: optional(z.coerce.number().int().min(7)),
  /** PostgreSQL connection string; when set the control plane uses PostgreSQL instead of the file store. */
  LEVIATHAN_DATABASE_URL: optional(z.string().url()),
  /**
   * API bearer tokens, comma-separated. `read:<secret>` grants read-only access (dashboards,
   * scrapers); any other entry grants read and write. Unset: `serve` generates one on first start.
   */
  LEVIATHAN_API_TOKEN: optional(z.string()),
  /** pino log level. */
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** GitHub App id. Without it the service runs without the GitHub App (API and console only). */
  APP_ID: optional(z.string()),
  /** GitHub App private key (PEM; `\n` escapes accepted). */
  PRIVATE_KEY: optional(z.string()),
  /** Path to the GitHub App private key, as an alternative to PRIVATE_KEY. */
  PRIVATE_KEY_PATH: optional(z.string()),
  /** Webhook secret. Required whenever the GitHub App is configured. */
  WEBHOOK_SECRET: optional(z.string()),
  /** GitHub App OAuth client id, for console sign-in. */
  GITHUB_CLIENT_ID: optional(z.string()),
  /** GitHub App OAuth client secret, for console sign-in. */
  GITHUB_CLIENT_SECRET: optional(z.string()),
  /** Base URL of the GitHub REST API (GitHub Enterprise Server). */
  GITHUB_API_URL: z.string().url().default('https://api.github.com'),
  /**
   * Base URL git clones from: `<GITHUB_SERVER_URL>/<owner>/<repo>.git` (as in GitHub Actions).
   * GitHub Enterprise Server sets its host; tests point it at a directory of bare repositories.
   */
  GITHUB_SERVER_URL: z.string().default('https://github.com'),
  /**
   * The worker's GitHub token. In `serve` and `tick`: a development token handed to each worker
   * when no App credentials are given (with them, each worker gets an installation token for its
   * repository instead). In `leviathan worker`: the token it uses, set by the executor.
   */
  GITHUB_TOKEN: optional(z.string()),
  /**
   * In `leviathan worker`: when GITHUB_TOKEN expires (ISO 8601), set by the executor for an
   * installation token; the worker asks the control plane for a fresh one 10 minutes before.
   */
  GITHUB_TOKEN_EXPIRES_AT: optional(z.string().datetime({ offset: true })),
  /** Secret that signs console session cookies. Generated and stored under the data dir when unset. */
  LEVIATHAN_SESSION_SECRET: optional(z.string().min(32)),
  /** GitHub organisations whose members may view the console (comma-separated). */
  LEVIATHAN_CONSOLE_ORGS: optional(z.string()),
  /** Where `tick`, `worker` and `ctl` reach the control plane. */
  LEVIATHAN_CONTROL_PLANE_URL: z.string().url().default('http://127.0.0.1:8000'),
  /** Path of the mounted `leviathan-autonomy-config` ConfigMap (a directory of keys or a YAML file). */
  LEVIATHAN_AUTONOMY_CONFIG: optional(z.string()),
  /** Worker executor: a local child process (embedded default) or a Kubernetes Job. */
  LEVIATHAN_EXECUTOR: z.enum(['local', 'kubernetes']).default('local'),
  /** Kubernetes namespace for Jobs, the ConfigMap and the CronJob. */
  LEVIATHAN_NAMESPACE: z.string().default('leviathan'),
  /** Name of the scheduler CronJob that emergency stop suspends. */
  LEVIATHAN_SCHEDULER_CRONJOB: z.string().default('leviathan-dev-scheduler'),
  /**
   * With LEVIATHAN_EXECUTOR=local: the numeric uid local workers (and their agents) run as, so
   * they cannot read the control plane's secret files, environment or the GitHub App's key. Needs
   * `serve`/`tick` to run as root. Unset: workers run as this process's own user.
   */
  LEVIATHAN_WORKER_UID: optional(z.coerce.number().int().min(1).max(0x7fffffff)),
  /** The numeric gid of local workers with LEVIATHAN_WORKER_UID (default: the same number as the uid). */
  LEVIATHAN_WORKER_GID: optional(z.coerce.number().int().min(0).max(0x7fffffff)),
  /** Container image for worker Jobs. */
  LEVIATHAN_WORKER_IMAGE: optional(z.string()),
  /** The agent program the worker runs in the workspace (any command; receives the task as JSON). */
  LEVIATHAN_AGENT_COMMAND: optional(z.string()),
  /**
   * With LEVIATHAN_EXECUTOR=local: names of variables of `serve`'s (or `tick`'s) own environment
   * handed to every local worker for its agent (comma-separated), e.g. its LLM API key. In
   * Kubernetes the Secret `leviathan-agent-env` does this. Leviathan's own secrets are refused.
   */
  LEVIATHAN_AGENT_ENV: optional(z.string().regex(/^\s*[A-Za-z_][A-Za-z0-9_]*(\s*,\s*[A-Za-z_][A-Za-z0-9_]*)*\s*$/, 'must be variable names separated by commas')),
  /**
   * Which variables of the agent's environment hold secrets (comma-separated globs, `*` matching
   * any run), so the worker masks their values in its logs and events and refuses a diff holding
   * one. Default: names ending in _KEY, _TOKEN, _SECRET, _PASSWORD, _PASSPHRASE, _CREDENTIALS or
   * _CONNECTION_STRING; set it to replace that list. Read by the worker; the local executor and
   * Kubernetes Jobs pass `serve`'s (or `tick`'s) value on.
   */
  LEVIATHAN_REDACTED_VARS: optional(z.string().regex(/^\s*[A-Za-z0-9_*]+(\s*,\s*[A-Za-z0-9_*]+)*\s*$/, 'must be variable-name globs separated by commas, e.g. *_KEY,MY_CREDS')),
  /** Task file for the worker (written by the executor). */
  LEVIATHAN_TASK_FILE: optional(z.string()),
  /** The worker's assignment as JSON, when no task file is given. */
  LEVIATHAN_TASK_JSON: optional(z.string()),
  /**
   * Where the worker clones and spools undelivered events (default: a folder under the OS temp
   * dir). Mount a volume here if spooled events should outlive the pod.
   */
  LEVIATHAN_WORK_DIR: optional(z.string()),
  /**
   * On one machine (LEVIATHAN_EXECUTOR=local) `serve` runs the scheduler cycle itself every this
   * many seconds, aligned to the clock like the CronJob's `*\/5 * * * *`; 0 turns it off. In
   * Kubernetes the CronJob `leviathan-dev-scheduler` ticks instead.
   */
  LEVIATHAN_LOCAL_SCHEDULE_SECONDS: z.coerce.number().int().min(0).default(300),
  /** Upper bound on workers running at once across all targets. */
  LEVIATHAN_MAX_CONCURRENT_WORKERS: z.coerce.number().int().min(1).default(4),
});

export type Env = z.infer<typeof envSchema>;

/** Parses the environment once; throws an error listing every bad variable. */
export function loadEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const parsed = envSchema.safeParse(source);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid environment:\n${lines.join('\n')}`);
  }
  return parsed.data;
}
