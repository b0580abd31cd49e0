import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from 'pino';
import { workerActor, workerEventId, type WorkerEventType } from '../api/worker-token.ts';
import { newEvent } from '../events/envelope.ts';
import { subjects } from '../events/types.ts';
import type { WorkerAssignment } from '../executors/executor.ts';
import { runAgent, STOP_GRACE_MS } from './agent.ts';
import { agentBudgetMs, attemptDeadline, stopFailure, type AttemptDeadline, type WorkerStop } from './attempt-deadline.ts';
import type { EventSink } from './control-plane-client.ts';
import { CredentialsError, type Credentials } from './credentials.ts';
import { DEFAULT_AUTHOR, GitCommandError, GitRunner, lastLines, type GitAuthor } from './git.ts';
import { GitHubApiError, type PullRequestPort } from './github-pull-requests.ts';
import { checkDiff, type PathViolation } from './path-policy.ts';
import { DEFAULT_REDACTED_VARS, isRedactedVar, Redactor } from './redact.ts';
import { WorkerError, type WorkerErrorKind, type WorkerFailureType } from './worker-error.ts';
import { MODE_GITLINK, Workspace, type Change } from './workspace.ts';
import { SECRET_ENV } from './secret-env.ts';

/** Milliseconds since the epoch; passed in so tests control time. */
export interface Clock {
  now(): number;
}

/** Everything `runWorker` touches, as ports. */
export interface WorkerDeps {
  assignment: WorkerAssignment;
  controlPlane: EventSink;
  github: PullRequestPort;
  credentials: Credentials;
  /** Repository URL without credentials: https for GitHub; a bare repository path or file:// URL in tests. */
  remoteUrl: string;
  /** Shell command line of the agent. */
  agentCommand: string;
  /**
   * Environment handed to the agent (PATH, HOME, the agent's own API keys…). Variables holding a
   * known secret or named like a Leviathan credential are removed before use.
   */
  agentEnv: Record<string, string | undefined>;
  /** Environment for git (PATH, HOME); git's own variables are set by the worker. */
  gitEnv: Record<string, string | undefined>;
  /** Base directory; the attempt works in `<workDir>/<attempt_id>/`. */
  workDir: string;
  clock: Clock;
  logger: Logger;
  /** Shared with the log stream and the event sink; the worker adds the token once minted. */
  redactor?: Redactor;
  /**
   * Globs of agentEnv names whose values are the agent's own credentials (LEVIATHAN_REDACTED_VARS;
   * default DEFAULT_REDACTED_VARS): masked in everything the worker writes, refused in the change.
   */
  redactedVars?: readonly string[];
  author?: GitAuthor;
  /** Keep the clone after the run (debugging, tests). */
  keepWorkspace?: boolean;
  /** Overrides of the timings derived from the deadline. */
  timings?: { agentTimeoutMs?: number; killGraceMs?: number; flushTimeoutMs?: number };
  /**
   * The attempt's deadline; default from the assignment (`deadline_at`, else `timeout_seconds`
   * from now). When it passes, the attempt is stopped and reported as `timeout`.
   */
  deadline?: AttemptDeadline;
  /**
   * Aborted, with a {@link WorkerStop} as its reason, when the worker must stop now (SIGTERM,
   * SIGINT): the agent's group is killed and the attempt reported failed with its step.
   */
  stop?: AbortSignal;
}

/** What the CLI turns into an exit code: 0 for succeeded, 1 for failed. */
export interface WorkerResult {
  outcome: 'succeeded' | 'failed';
  failure_type?: WorkerFailureType;
  pr_number?: number;
  message: string;
}

/** The label every Leviathan pull request carries. */
export const PR_LABEL = 'leviathan';
/** Trailer of commits and marker line of PR bodies; the GitHub App links PRs to attempts by it. */
export const ATTEMPT_MARKER = 'Leviathan-Attempt';
/**
 * After a stop, how long the report may take to reach the control plane: the local executor
 * SIGKILLs 10 s after its SIGTERM, and the agent's group gets STOP_GRACE_MS of that first.
 */
export const STOP_FLUSH_MS = 5_000;


/**
 * Runs one attempt: clone → agent → final diff check → commit → push → pull request, reporting
 * attempt.started, pr.created and attempt.succeeded or attempt.failed. Never throws; every
 * failure becomes a `failure_type`. No token reaches an event, a log line or an error text.
 *
 * Logs the operator document's lines word for word — `Worker: Cloning repository <owner/repo>`,
 * `Worker: Executing task <task id>`, `Worker: Created PR #<n>` — and, for a failed attempt, one
 * error line `Worker: Failed to <step> (<cause>)`, e.g. `Worker: Failed to clone repository (auth error)`.
 */
export async function runWorker(deps: WorkerDeps): Promise<WorkerResult> {
  const { assignment: a, clock } = deps;
  const redactor = deps.redactor ?? new Redactor();
  const globs = deps.redactedVars ?? DEFAULT_REDACTED_VARS;
  for (const [name, value] of Object.entries(deps.agentEnv)) if (value && isRedactedVar(name, globs)) redactor.mask(name, value);
  const log = redactingLogger(deps.logger, redactor);
  const started = clock.now();
  const deadline = deps.deadline ?? attemptDeadline(a, started);
  const [owner = '', repo = ''] = a.target.split('/');
  const branch = `leviathan/${a.task.id}`;
  const attemptDir = path.join(deps.workDir, safeSegment(a.attempt_id));
  const base = { attempt_id: a.attempt_id, task_id: a.task.id };
  const seconds = () => Math.round((clock.now() - started) / 100) / 10;
  // Ids, actor and subjects as the attempt's token admits them (api/worker-token.ts).
  const emit = (type: WorkerEventType, data: Record<string, unknown>, subject = subjects.attempt(a.attempt_id)) =>
    deps.controlPlane.post(
      newEvent({
        id: workerEventId(a.attempt_id, type, typeof data.step === 'string' ? data.step : undefined),
        type,
        actor: workerActor(a),
        target: a.target,
        subject,
        data: redactor.value(data),
      }),
    );

  // The step under way, named as in `Worker: Failed to <step> (<cause>)`; updated as the attempt
  // progresses, and each step's start reported (attempt.step) so the console says what it is doing.
  let step: AttemptStep = 'clone repository';

  // Stopping: at the deadline, or when told to (a signal). Whatever the step is waiting on, the
  // attempt is reported failed at once; the agent's group, a git process or a GitHub request
  // under way is ended through `halt`, and no further step begins.
  const halt = new AbortController();
  const stopWith = (why: WorkerStop) => {
    if (!halt.signal.aborted) halt.abort(why);
  };
  const onStop = () => stopWith(deps.stop!.reason as WorkerStop);
  if (deps.stop?.aborted) onStop();
  else deps.stop?.addEventListener('abort', onStop, { once: true });
  const deadlineTimer = timerAt(deadline.at, clock, () => stopWith({ kind: 'deadline' }));
  // The failure of a stopped attempt, fixed when the stop came (its time, its step); null until then.
  let stopErr: { error: WorkerError; at: number } | null = null;
  const stopped = new Promise<never>((_, reject) => {
    const fail = () => {
      const at = clock.now();
      stopErr = { error: stopFailure(halt.signal.reason as WorkerStop, deadline, at, step), at };
      reject(stopErr.error);
    };
    if (halt.signal.aborted) fail();
    else halt.signal.addEventListener('abort', fail, { once: true });
  });
  stopped.catch(() => undefined);
  const reported = new Set<AttemptStep>();
  const begin = async (next: AttemptStep) => {
    if (stopErr) throw stopErr.error;
    step = next;
    // Once per step: the change is checked again after the commit, under the same name.
    if (reported.has(next)) return;
    reported.add(next);
    await emit('attempt.step', { ...base, step: next });
  };

  try {
    return await run();
  } finally {
    deadlineTimer.cancel();
    deps.stop?.removeEventListener('abort', onStop);
  }

  async function run(): Promise<WorkerResult> {
    await emit('attempt.started', { ...base });

    let result: WorkerResult;
    const work = attempt();
    try {
      const pr = await Promise.race([work, stopped]);
      await emit('attempt.succeeded', { ...base, pr_number: pr.number, duration_seconds: seconds() });
      result = { outcome: 'succeeded', pr_number: pr.number, message: `Opened pull request #${pr.number}: ${pr.url}` };
    } catch (e) {
      const failure = toWorkerError(e);
      // The control plane refuses messages over 4000 characters; the full stderr tail travels apart.
      const message = truncate(redactor.text(failure.message), 2_000);
      const duration = seconds();
      await emit('attempt.failed', {
        ...base,
        failure_type: failure.code,
        step,
        message,
        ...failure.data,
        duration_seconds: duration,
      });
      // The one error line of a failed attempt, worded like the operator document's
      // `Worker: Failed to clone repository (auth error)`.
      const errorKind = failure.data.error_kind === undefined ? {} : { error_kind: failure.data.error_kind };
      log.error(
        { ...base, step, failure_type: failure.code, ...errorKind, message, duration_seconds: duration },
        `Worker: Failed to ${step} (${failureCause(failure)})`,
      );
      result = { outcome: 'failed', failure_type: failure.code, message };
    } finally {
      // Stopped: the step's own work is being ended (the agent's group gets its grace); the
      // workspace goes once it has, or once it is clear it will not.
      if (halt.signal.aborted) await settled(work, STOP_GRACE_MS + 1_000);
      if (!deps.keepWorkspace) await rm(attemptDir, { recursive: true, force: true }).catch(() => undefined);
    }

    const flushBy =
      stopErr !== null
        ? stopErr.at + STOP_FLUSH_MS
        : clock.now() + (deps.timings?.flushTimeoutMs ?? Math.max(5_000, deadline.at - 5_000 - clock.now()));
    const { pending, refused = 0 } = await deps.controlPlane.flush(flushBy);
    if (pending > 0 || refused > 0) {
      const why = [
        pending > 0 ? `${pending} event(s) could not be delivered to the control plane and stay in the spool` : '',
        refused > 0 ? `${refused} event(s) were refused by the control plane (see the log)` : '',
      ].filter(Boolean);
      const message = `${result.message}; ${why.join('; ')}`;
      log.error({ ...base, pending, refused }, 'Worker: Events not delivered');
      return { ...result, outcome: 'failed', failure_type: 'control_plane_unreachable', message };
    }
    return result;
  }

  /** The GitHub token to use now, known to the redactor; failing to get one is an `auth_error`. */
  async function currentToken(): Promise<string> {
    let token: string;
    try {
      token = await deps.credentials.token();
    } catch (e) {
      throw new WorkerError('auth_error', e instanceof Error ? e.message : String(e));
    }
    redactor.add(token);
    return token;
  }

  async function attempt(): Promise<{ number: number; url: string }> {
    if (!deps.agentCommand.trim()) {
      step = 'run agent';
      throw new WorkerError('agent_error', 'No agent configured: set LEVIATHAN_AGENT_COMMAND');
    }
    await begin('clone repository');
    log.info({ ...base, target: a.target, branch: a.default_branch }, `Worker: Cloning repository ${a.target}`);
    const token = await currentToken();

    await rm(attemptDir, { recursive: true, force: true });
    await mkdir(attemptDir, { recursive: true });
    const git = new GitRunner({
      baseEnv: deps.gitEnv,
      remoteUrl: deps.remoteUrl,
      author: deps.author ?? DEFAULT_AUTHOR,
      redactor,
      deadline: deadline.at,
      signal: halt.signal,
    });
    git.setToken(token);
    const ws = new Workspace(path.join(attemptDir, 'repo'), git);
    await gitStep(() => ws.clone(deps.remoteUrl, a.default_branch));

    await begin('run agent');
    const maxFiles = a.policy.max_files_per_task[a.task.scope];
    const scopeAllowed = scopeGlobs(a);
    const rules = { allowed: a.task.allowed_paths, forbidden: a.policy.forbidden_paths, maxFiles, ...(scopeAllowed ? { scopeAllowed } : {}) };
    const taskJson = JSON.stringify(
      {
        attempt_id: a.attempt_id,
        target: a.target,
        default_branch: a.default_branch,
        branch,
        task: a.task,
        allowed_paths: rules.allowed,
        forbidden_paths: rules.forbidden,
        max_files: maxFiles ?? null,
        contract: a.contract ?? null,
      },
      null,
      2,
    );
    // Outside the clone, so the task file is never part of the diff.
    const taskFile = path.join(attemptDir, 'task.json');
    await writeFile(taskFile, taskJson);

    const beside = new Set(await readdir(attemptDir));
    const agentOutput = lineLogger((stream, line) =>
      log.debug({ ...base, stream, line: truncate(line, 2_000) }, 'Worker: Agent output'),
    );
    const agentTimeoutMs = deps.timings?.agentTimeoutMs ?? agentBudgetMs(deadline, clock.now());
    if (agentTimeoutMs <= 0) {
      throw new WorkerError('timeout', `No time left for the agent before the attempt's deadline (${new Date(deadline.at).toISOString()})`);
    }
    log.info({ ...base, timeout_ms: agentTimeoutMs }, `Worker: Executing task ${a.task.id}`);
    const outcome = await runAgent({
      command: deps.agentCommand,
      cwd: ws.dir,
      env: { ...scrubEnv(deps.agentEnv, redactor), LEVIATHAN_TASK_FILE: taskFile, LEVIATHAN_ATTEMPT_ID: a.attempt_id },
      input: taskJson,
      timeoutMs: agentTimeoutMs,
      killGraceMs: deps.timings?.killGraceMs ?? 5_000,
      signal: halt.signal,
      onOutput: (stream, chunk) => agentOutput.write(stream, chunk),
    });
    agentOutput.end();
    // Only `halt` stops the agent, and its first listener has set stopErr by then.
    if (outcome.kind === 'stopped') throw stopErr?.error ?? new WorkerError('other', 'The agent was stopped');
    const tail = redactor.text(lastLines(outcome.stderrTail, 20)).slice(-4_000);
    if (outcome.kind === 'timeout') {
      throw new WorkerError('timeout', `The agent did not finish within ${Math.round(agentTimeoutMs / 1000)}s and was stopped`, {
        stderr_tail: tail,
      });
    }
    if (outcome.kind === 'signalled' || outcome.exitCode !== 0) {
      const how = outcome.kind === 'signalled' ? `was killed by ${outcome.signal}` : `exited with code ${outcome.exitCode}`;
      throw new WorkerError('agent_error', `The agent ${how}${tail ? `: ${tail.slice(-1_500)}` : ''}`, { stderr_tail: tail });
    }

    await begin('check the change');
    await ws.restoreConfig();
    // Files written next to the clone (`../x`) never show in the diff; the ones we can see are
    // reported as `..` escapes. The container is the boundary for anything further out.
    const escapes: PathViolation[] = (await readdir(attemptDir))
      .filter((name) => !beside.has(name))
      .map((name) => ({ path: `../${name}`, reason: 'dotdot' as const }));
    const changes = await gitStep(() => ws.stageAndListChanges());
    if (changes.length === 0 && escapes.length === 0) throw new WorkerError('no_changes', 'The agent made no changes');
    const violations: PathViolation[] = [...escapes, ...(await checkDiff(changes, rules, (sha) => ws.blob(sha)))];
    if (violations.length > 0) {
      const list = violations.slice(0, 10).map((v) => `${truncate(v.path, 200)} (${v.reason})`).join(', ');
      throw new WorkerError(
        'path_violation',
        `The change touches paths this task may not change: ${list}${violations.length > 10 ? ', …' : ''}`,
        // Bounded: the control plane refuses event data over 64 KiB, and this event must arrive.
        {
          violations: violations.slice(0, 100).map((v) => ({
            ...v,
            path: truncate(v.path, 300),
            ...(v.link_target === undefined ? {} : { link_target: truncate(v.link_target, 300) }),
          })),
          violations_total: violations.length,
          files_changed: changes.length,
        },
      );
    }
    log.info({ ...base, files_changed: changes.length }, 'Worker: Diff accepted');

    await begin('commit the change');
    const sha = await gitStep(() => ws.commit(commitMessage(a)));
    // Check again what will actually be pushed: the commit against the real base, whatever the
    // agent did to the repository's metadata.
    await begin('check the change');
    const committed = await gitStep(() => ws.committedChanges(sha));
    const pushed = await checkDiff(committed, rules, (blob) => ws.blob(blob));
    if (pushed.length > 0 || committed.length !== changes.length) {
      const list = pushed.slice(0, 10).map((v) => `${truncate(v.path, 200)} (${v.reason})`).join(', ');
      throw new WorkerError('path_violation', `The commit differs from the checked diff${list ? `: ${list}` : ''}; nothing was pushed.`, {
        violations: pushed.slice(0, 100).map((v) => ({ ...v, path: truncate(v.path, 300) })),
        files_changed: committed.length,
      });
    }
    await refuseSecrets(ws, sha, committed, redactor);
    // Asked again, not kept from the clone: the agent may have run past the first token's hour,
    // and the credentials then hand out a fresh one.
    await begin('push branch');
    git.setToken(await currentToken());
    await gitStep(() => ws.push(deps.remoteUrl, branch), { push: true });
    log.info({ ...base, branch, head_sha: sha }, 'Worker: Pushed branch');

    await begin('open pull request');
    const pr = await deps.github.openPullRequest({ owner, repo, title: a.task.title, body: pullRequestBody(a), head: branch, base: a.default_branch });
    // A retry of the task finds its earlier pull request open, now showing the branch just pushed.
    if (pr.created) log.info({ ...base, pr_number: pr.number, url: pr.url }, `Worker: Created PR #${pr.number}`);
    else log.info({ ...base, pr_number: pr.number, url: pr.url }, `Worker: Updated existing PR #${pr.number}`);
    await begin('label pull request');
    await deps.github.addLabels({ owner, repo, number: pr.number, labels: [PR_LABEL] });
    await emit(
      'pr.created',
      { number: pr.number, url: pr.url, title: a.task.title, branch, ...base, head_sha: sha },
      subjects.pr(a.target, pr.number),
    );
    return pr;
  }
}

/**
 * policy.yaml's `allowed_paths` for the task's scope, if the policy lists that scope. A scope the
 * policy does not list is bounded by the task's own allowed_paths alone (read leniently, as the
 * target contract asks: a policy naming only `docs` says nothing about `tests`).
 */
function scopeGlobs(a: WorkerAssignment): string[] | undefined {
  const byScope = a.policy.allowed_paths as Record<string, string[]> | undefined;
  return byScope && Object.hasOwn(byScope, a.task.scope) ? byScope[a.task.scope] : undefined;
}

/** Shortest value of an agent's variable that refuses a change containing it (API keys are 30+). */
const MIN_REFUSED_AGENT_SECRET = 16;

/**
 * Refuses a commit that carries a secret the worker knows (an agent's key it echoed into a file,
 * say): once pushed it is in the repository's history for good. Names the files and whose
 * secret it is, never the value. Only verbatim values are caught; a secret encoded or split is not.
 */
async function refuseSecrets(ws: Workspace, sha: string, committed: Change[], redactor: Redactor): Promise<void> {
  const paths = committed.filter((c) => c.status !== 'D' && c.newMode !== MODE_GITLINK).map((c) => c.path);
  const found = new Map<string, Set<string>>();
  for (const { value, label, kind } of redactor.known) {
    // A multi-line secret (a PEM key) is looked for by its longest line: git greps line by line.
    const needle = value.split('\n').reduce((a, b) => (b.trim().length > a.length ? b.trim() : a), '');
    // The agent's are secrets by their variable's name only: a short value (SORT_KEY=created_at)
    // is masked in output, harmlessly, but refusing every change that contains it would not be.
    if (needle.length < (kind === 'agent' ? MIN_REFUSED_AGENT_SECRET : 6)) continue;
    for (const file of await gitStep(() => ws.filesContaining(sha, paths, needle))) {
      found.set(file, (found.get(file) ?? new Set()).add(label));
    }
  }
  if (found.size === 0) return;
  const labels = [...new Set([...found.values()].flatMap((l) => [...l]))];
  const files = [...found.keys()];
  throw new WorkerError(
    'other',
    `The change contains ${labels.join(', ')} in ${files.slice(0, 10).map((f) => truncate(f, 200)).join(', ')}${files.length > 10 ? ', …' : ''}; nothing was pushed.`,
    { ...kind('secret_in_change'), files: files.slice(0, 100).map((f) => truncate(f, 300)), files_total: files.length, secrets: labels },
  );
}

/** The steps of an attempt, as `Worker: Failed to <step> (<cause>)` names them. */
type AttemptStep =
  | 'clone repository'
  | 'run agent'
  | 'check the change'
  | 'commit the change'
  | 'push branch'
  | 'open pull request'
  | 'label pull request';

/** The `<cause>` of `Worker: Failed to <step> (<cause>)`: a few words for the failure type. */
const CAUSES: Record<WorkerFailureType, string> = {
  auth_error: 'auth error',
  timeout: 'timeout',
  agent_error: 'agent error',
  path_violation: 'path violation',
  no_changes: 'no changes',
  push_rejected: 'push rejected',
  control_plane_unreachable: 'control plane unreachable',
  other: 'error',
};

function failureCause(f: WorkerError): string {
  if (f.code !== 'other') return CAUSES[f.code];
  switch (f.data.error_kind as WorkerErrorKind | undefined) {
    case 'github_error':
      return 'GitHub API error';
    case 'secret_in_change':
      return 'secret in change';
    case 'workspace_error':
      return 'workspace error';
    case 'worker_terminated':
      return 'worker terminated';
    default:
      return CAUSES.other;
  }
}

/**
 * Runs a git step, turning its failure into a failure type: auth problems are always `auth_error`.
 * A push is `push_rejected` only when the remote refused the update itself (non-fast-forward,
 * protected branch, a hook declined it), which says something about the change; one that never
 * got that far (network, DNS, the remote gone) is `other`, a workspace error like any git step's.
 */
async function gitStep<T>(f: () => Promise<T>, o: { push?: boolean } = {}): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof GitCommandError) {
      if (e.timedOut) throw new WorkerError('timeout', e.message);
      if (e.isAuthFailure) throw new WorkerError('auth_error', e.message);
      if (o.push && e.isPushRejection) throw new WorkerError('push_rejected', e.message);
      throw new WorkerError('other', e.message, kind('workspace_error'));
    }
    throw e;
  }
}

function kind(k: WorkerErrorKind): Record<string, unknown> {
  return { error_kind: k };
}

function toWorkerError(e: unknown): WorkerError {
  if (e instanceof WorkerError) return e;
  // No token for the pull request (a refresh that failed once the held token was too old).
  if (e instanceof CredentialsError) return new WorkerError('auth_error', e.message);
  if (e instanceof GitHubApiError) {
    // A rate limit's 403 says nothing about the credentials.
    const auth = !e.rateLimited && (e.status === 401 || e.status === 403);
    const message = `GitHub API error${e.status ? ` (HTTP ${e.status})` : ''}: ${e.message}`;
    return auth ? new WorkerError('auth_error', message) : new WorkerError('other', message, kind('github_error'));
  }
  if (e instanceof GitCommandError) {
    if (e.timedOut) return new WorkerError('timeout', e.message);
    return e.isAuthFailure ? new WorkerError('auth_error', e.message) : new WorkerError('other', e.message, kind('workspace_error'));
  }
  return new WorkerError('other', e instanceof Error ? e.message : String(e), kind('workspace_error'));
}

/** Commit message: title, description, acceptance criteria, then the attempt trailer. */
export function commitMessage(a: WorkerAssignment): string {
  const parts = [a.task.title];
  if (a.task.description) parts.push(a.task.description.trim());
  if (a.task.acceptance_criteria.length > 0) {
    parts.push(`Acceptance criteria:\n${a.task.acceptance_criteria.map((c) => `- ${c}`).join('\n')}`);
  }
  parts.push(`Leviathan-Task: ${a.task.id}\n${ATTEMPT_MARKER}: ${a.attempt_id}`);
  return `${parts.join('\n\n')}\n`;
}

/** Pull request body: the task, its acceptance criteria as a checklist, its scope, and the attempt marker. */
export function pullRequestBody(a: WorkerAssignment): string {
  const lines = [
    a.task.description?.trim() || a.task.title,
    '',
    `**Task:** \`${a.task.id}\` · **Scope:** ${a.task.scope}`,
  ];
  if (a.task.acceptance_criteria.length > 0) {
    lines.push('', '### Acceptance criteria', ...a.task.acceptance_criteria.map((c) => `- [ ] ${c}`));
  }
  lines.push('', '---', 'Opened by Leviathan.', '', `${ATTEMPT_MARKER}: ${a.attempt_id}`);
  return `${lines.join('\n')}\n`;
}

/** The agent's environment without credentials: by name, and by value for every known secret. */
export function scrubEnv(env: Record<string, string | undefined>, redactor: Redactor): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || SECRET_ENV.test(k)) continue;
    if (redactor.secrets.some((s) => s.length >= 6 && v.includes(s))) continue;
    out[k] = v;
  }
  return out;
}

// A child logger whose metadata and messages pass through the redactor.
function redactingLogger(logger: Logger, redactor: Redactor) {
  const at =
    (level: 'debug' | 'info' | 'warn' | 'error') =>
    (meta: Record<string, unknown>, msg: string): void =>
      logger[level](redactor.value(meta), redactor.text(msg));
  return { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') };
}

// Agent output is logged by whole lines: a secret split across two chunks would escape redaction.
function lineLogger(emit: (stream: 'stdout' | 'stderr', line: string) => void) {
  const partial = { stdout: '', stderr: '' };
  return {
    write(stream: 'stdout' | 'stderr', chunk: string): void {
      const lines = (partial[stream] + chunk).split('\n');
      partial[stream] = lines.pop() ?? '';
      // An endless line is cut, not buffered forever; the cut point may split a secret, so
      // the piece is dropped rather than logged.
      if (partial[stream].length > 64 * 1024) partial[stream] = '';
      for (const line of lines) emit(stream, line);
    },
    end(): void {
      for (const stream of ['stdout', 'stderr'] as const) if (partial[stream]) emit(stream, partial[stream]);
    },
  };
}

/** Waits for `work` to settle, `ms` at most; its outcome is not wanted, only its end. */
async function settled(work: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work.then(noop, noop), new Promise<void>((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function noop(): void {}

/**
 * Calls `f` once `clock.now()` reaches `at`. Re-armed when it fires early: setTimeout takes at most
 * 2^31-1 ms (about 24 days) and fires at once for anything longer.
 */
function timerAt(at: number, clock: Clock, f: () => void): { cancel(): void } {
  let timer: NodeJS.Timeout;
  const arm = () => {
    const left = at - clock.now();
    if (left <= 0) return f();
    timer = setTimeout(arm, Math.min(left, 2 ** 31 - 1));
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}

// The attempt directory is removed recursively: an id such as `..` must never name a parent.
function safeSegment(id: string): string {
  return id.replace(/[^A-Za-z0-9_.-]/g, '_').replace(/^\./, '_');
}

function truncate(s: string, n: number): string {
  return s.length <= n ? s : `${s.slice(0, n)}…`;
}
