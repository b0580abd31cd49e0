import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { checkLink, GENESIS_HASH, targetIdSchema, type StoredEvent } from '../events/envelope.ts';
import type { Env } from '../env.ts';
import { clientToken } from './client-token.ts';
import { ctlMaintenance, isMaintenanceCommand, MAINTENANCE_HELP } from './ctl-maintenance.ts';

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Ends `events --follow` (a terminal ends it with Ctrl-C; tests with this). */
  signal?: AbortSignal;
}

/** A failed command: its message for stderr, its exit code, and the server's error when it answered one. */
class CtlError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
    readonly answer?: { code: string; message: string },
  ) {
    super(message);
  }
}

/**
 * Refusals that mean "already so": the action was a no-op, not a failure. As `kubectl` answers
 * "unchanged" with 0, a script that pauses a paused target goes on; the message says so.
 */
const UNCHANGED = new Set(['already_paused', 'not_paused', 'breaker_closed']);

/** `events --follow`: wait 1 s after a lost connection, doubling up to 30 s; a stream that answers resets it. */
const FOLLOW_RETRY = { firstMs: 1000, maxMs: 30_000 };

/** With no byte (not even a 15 s heartbeat) for this long, the connection is dead though no one closed it. */
const FOLLOW_IDLE_MS = 45_000;

const HELP = `leviathan ctl — the control plane API from a terminal

  status                              the dashboard: overall state, targets, open PRs, ready tasks
  targets                             every target with its status and reason
  target <owner/repo>                 one target in detail
  events [--target T] [--type T] [--subject S] [--limit N] [--follow]
                                      recent events, newest first (--follow streams live)
  nodes [--type T] [--target T]       graph nodes
  node <id>                           a graph node with its neighbours and events
  emit <type> [--target T] [--subject S] [--data JSON] [--id ID]
                                      append one event
  pause <owner/repo> --reason "…"     pause a target (the scheduler skips it)
  resume <owner/repo> [--reason "…"]  resume a paused target
  resume [--reason "…"]               resume the scheduler after an emergency stop
  autonomy [status]                   autonomy, the scheduler (suspended?) and its next tick
  autonomy on|off --reason "…"        enable or disable autonomy (the ConfigMap, in Kubernetes)
  stop --reason "…" [--delete-jobs]   emergency stop: suspend the scheduler CronJob (and delete
                                      running worker Jobs)
  diagnose <owner/repo>               why a target is not executing, and what to do about it
  reconcile                           bring targets and open PRs in line with GitHub now
  trigger <owner/repo> <task-id> [--reason "…"]
                                      run one task now (the guardrails still apply)
  reset-breaker <owner/repo> [--reason "…"]
                                      close the target's circuit breaker before its cooldown ends
  verify                              recompute the hash chain; report the first bad seq
  compact --before <time|Nd>          archive old events (server stopped); backup <dir>; restore <dir>
  verify --offline                    check archive + live log on disk (ctl help-maintenance)

Environment: LEVIATHAN_CONTROL_PLANE_URL (default http://127.0.0.1:8000), LEVIATHAN_API_TOKEN
(else the token generated in $LEVIATHAN_DATA_DIR/api-token).
`;

/** `leviathan ctl …`: returns the exit code (0 ok or unchanged, 1 failed, 2 usage). */
export async function ctl(env: Env, argv: string[], io: Io): Promise<number> {
  const stop = new AbortController();
  io.signal?.addEventListener('abort', () => stop.abort(), { once: true });
  // `ctl autonomy | head -2`: once the reader is gone, stop writing (and following) without a
  // stack trace, as `tail -f | head` ends. Never removed: the error may come after we return.
  let readerGone = false;
  io.out.on('error', (err: NodeJS.ErrnoException) => {
    if (!readerGone && err.code !== 'EPIPE') io.err.write(`Cannot write the output: ${err.message}\n`);
    readerGone = true;
    stop.abort();
  });
  // compact, backup, restore and verify --offline work on the data dir, not through the API.
  if (isMaintenanceCommand(argv)) return ctlMaintenance(env, argv, io);
  const [command, ...rest] = argv;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      options: {
        target: { type: 'string' },
        type: { type: 'string' },
        subject: { type: 'string' },
        limit: { type: 'string' },
        follow: { type: 'boolean', short: 'f' },
        data: { type: 'string' },
        id: { type: 'string' },
        reason: { type: 'string' },
        json: { type: 'boolean' },
        'delete-jobs': { type: 'boolean' },
      },
    });
  } catch (err) {
    if (!(err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS_')) throw err;
    io.err.write(`${(err as Error).message}\nSee: leviathan ctl help\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  const api = new ApiClient(env.LEVIATHAN_CONTROL_PLANE_URL, await clientToken(env), resolve(env.LEVIATHAN_DATA_DIR, 'api-token'));
  const print = (s: string) => {
    if (!readerGone) io.out.write(`${s}\n`);
  };
  const asJson = (v: unknown) => print(JSON.stringify(v, null, 2));
  try {
    switch (command) {
      case 'status': {
        const s = await api.get<StatusAnswer>('/v1/status');
        if (values.json) return asJson(s), 0;
        print(`Status: ${s.label}`);
        print(`Targets: ${s.targets_line.text}`);
        print(`Open PRs: ${s.open_prs.open}/${s.open_prs.max}`);
        print(`Ready Tasks: ${s.ready_tasks}`);
        print(`Last Execution: ${s.last_execution_at ?? 'never'}`);
        print(`Autonomy: ${s.autonomy.enabled === true ? 'enabled' : 'disabled'}`);
        print('');
        print(s.headline);
        if (s.action) print(s.action);
        return 0;
      }
      case 'targets': {
        const { targets } = await api.get<{ targets: TargetAnswer[] }>('/v1/targets');
        if (values.json) return asJson(targets), 0;
        if (targets.length === 0) print('No targets. Install the GitHub App on a repository.');
        for (const t of targets) {
          print(`${t.id.padEnd(32)} ${t.status.padEnd(8)} ${`${t.open_prs.length}/${t.max_open_prs} PRs`.padEnd(10)} ${t.reason}: ${t.headline}`);
        }
        return 0;
      }
      case 'target': {
        const id = needTarget(positionals[0], 'target <owner/repo>');
        const { target } = await api.get<{ target: TargetAnswer }>(`/v1/targets/${id}`);
        return asJson(target), 0;
      }
      case 'events': {
        const q = new URLSearchParams();
        if (values.target) q.set('target', values.target);
        if (values.type) q.set('type', values.type);
        if (values.subject) q.set('subject', values.subject);
        if (values.follow) {
          await api.stream(`/v1/events/stream?${q}`, (e) => print(formatEvent(e)), { signal: stop.signal, note: (s) => io.err.write(`${s}\n`) });
          return 0;
        }
        q.set('limit', values.limit ?? '20');
        const { events } = await api.get<{ events: StoredEvent[] }>(`/v1/graph/events?${q}`);
        if (values.json) return asJson(events), 0;
        for (const e of events) print(formatEvent(e));
        return 0;
      }
      case 'nodes': {
        const q = new URLSearchParams();
        if (values.type) q.set('type', values.type);
        if (values.target) q.set('target', values.target);
        q.set('limit', values.limit ?? '100');
        const { nodes } = await api.get<{ nodes: Array<{ id: string; type: string; label: string }> }>(`/v1/graph/nodes?${q}`);
        if (values.json) return asJson(nodes), 0;
        for (const n of nodes) print(`${n.type.padEnd(8)} ${n.id}  ${n.label}`);
        return 0;
      }
      case 'node': {
        const id = need(positionals[0], 'node <id>');
        return asJson(await api.get(`/v1/graph/nodes/${encodeURIComponent(id)}`)), 0;
      }
      case 'emit': {
        const type = need(positionals[0], 'emit <type>');
        let data: unknown = {};
        if (values.data) {
          try {
            data = JSON.parse(values.data);
          } catch {
            throw new CtlError('--data must be a JSON object.', 2);
          }
        }
        const event = { type, data, ...(values.target ? { target: values.target } : {}), ...(values.subject ? { subject: values.subject } : {}), ...(values.id ? { id: values.id } : {}) };
        const answer = await api.post<{ stored: Array<{ id: string; seq: number }>; duplicates: string[] }>('/v1/events', event);
        for (const s of answer.stored) print(`stored ${s.id} as seq ${s.seq}`);
        for (const d of answer.duplicates) print(`duplicate ${d} (already stored)`);
        return 0;
      }
      case 'pause': {
        const id = needTarget(positionals[0], 'pause <owner/repo> --reason "…"');
        if (!values.reason) throw new CtlError('pause needs --reason "why" (it is shown to everyone and kept in the audit log).', 2);
        const answer = await api.post<{ target: TargetAnswer }>(`/v1/targets/${id}/pause`, { reason: values.reason, via: 'ctl' });
        print(`${id}: ${answer.target.status} — ${answer.target.headline}`);
        return 0;
      }
      case 'resume': {
        // No target: lift the emergency stop. With one: resume that target, as before.
        if (positionals[0] === undefined) {
          const answer = await api.post<ControlAnswer>('/v1/autonomy/resume', { via: 'ctl', ...(values.reason ? { reason: values.reason } : {}) });
          if (values.json) return asJson(answer), 0;
          print(`Scheduler resumed (recorded as seq ${answer.event.seq}).`);
          printAutonomy(answer.autonomy, print);
          for (const w of answer.warnings) print(`⚠ ${w}`);
          return 0;
        }
        const id = needTarget(positionals[0], 'resume [<owner/repo>] [--reason "…"]');
        const answer = await api.post<{ target: TargetAnswer }>(`/v1/targets/${id}/resume`, { via: 'ctl', ...(values.reason ? { reason: values.reason } : {}) });
        print(`${id}: ${answer.target.status} — ${answer.target.headline}`);
        return 0;
      }
      case 'trigger': {
        const id = needTarget(positionals[0], 'trigger <owner/repo> <task-id> [--reason "…"]');
        const taskId = need(positionals[1], 'trigger <owner/repo> <task-id> [--reason "…"]');
        const answer = await api.post<{ attempt_id: string }>('/v1/tasks/trigger', {
          target: id,
          task_id: taskId,
          via: 'ctl',
          ...(values.reason ? { reason: values.reason } : {}),
        });
        if (values.json) return asJson(answer), 0;
        print(`${id}: task ${taskId} started as attempt ${answer.attempt_id}`);
        return 0;
      }
      case 'reset-breaker': {
        const id = needTarget(positionals[0], 'reset-breaker <owner/repo> [--reason "…"]');
        const answer = await api.post<{ target: TargetAnswer }>(`/v1/targets/${id}/breaker/reset`, { via: 'ctl', ...(values.reason ? { reason: values.reason } : {}) });
        print(`${id}: circuit breaker closed — ${answer.target.status}: ${answer.target.headline}`);
        return 0;
      }
      case 'autonomy': {
        const sub = positionals[0] ?? 'status';
        if (sub === 'status') {
          const status = await api.get<AutonomyAnswer>('/v1/autonomy/status');
          if (values.json) return asJson(status), 0;
          printAutonomy(status, print);
          return 0;
        }
        if (sub !== 'on' && sub !== 'off') throw new CtlError('Usage: leviathan ctl autonomy [status] | autonomy on|off --reason "…"', 2);
        if (!values.reason) throw new CtlError(`autonomy ${sub} needs --reason "why" (it is kept in the audit log and on the ConfigMap).`, 2);
        const answer = await api.post<ControlAnswer>('/v1/autonomy', { enabled: sub === 'on', reason: values.reason, via: 'ctl' });
        if (values.json) return asJson(answer), 0;
        print(`Autonomy ${sub === 'on' ? 'enabled' : 'disabled'} (recorded as seq ${answer.event.seq}).`);
        printAutonomy(answer.autonomy, print);
        return 0;
      }
      case 'stop': {
        if (!values.reason) throw new CtlError('stop needs --reason "why" (it is shown to everyone and kept in the audit log).', 2);
        const answer = await api.post<ControlAnswer & { deleted_jobs: string[] }>('/v1/autonomy/emergency-stop', {
          reason: values.reason,
          delete_running_jobs: values['delete-jobs'] === true,
          via: 'ctl',
        });
        if (values.json) return asJson(answer), 0;
        print(`Emergency stop recorded (seq ${answer.event.seq}): no new tasks will be selected.`);
        if (values['delete-jobs']) print(answer.deleted_jobs.length ? `Deleted worker Jobs: ${answer.deleted_jobs.join(', ')}` : 'No running worker Jobs to delete.');
        else print('Running workers continue to completion (add --delete-jobs to stop them).');
        printAutonomy(answer.autonomy, print);
        for (const w of answer.warnings) print(`⚠ ${w}`);
        print('Resume with: leviathan ctl resume');
        return 0;
      }
      case 'diagnose': {
        const id = needTarget(positionals[0], 'diagnose <owner/repo>');
        const { diagnosis } = await api.get<{ diagnosis: DiagnosisAnswer }>(`/v1/targets/${id}/diagnosis`);
        if (values.json) return asJson(diagnosis), 0;
        printDiagnosis(diagnosis, print);
        return 0;
      }
      case 'reconcile': {
        const { reconcile } = await api.post<{ reconcile: ReconcileAnswer }>('/v1/reconcile', {});
        if (values.json) return asJson(reconcile), 0;
        print(`Reconciled ${reconcile.targets} target${reconcile.targets === 1 ? '' : 's'} in ${reconcile.installations} installation${reconcile.installations === 1 ? '' : 's'}: ${reconcile.corrections.length} correction${reconcile.corrections.length === 1 ? '' : 's'}.`);
        for (const c of reconcile.corrections) print(`  ${c.type} ${c.target}${c.number !== undefined ? `#${c.number}` : ''}`);
        for (const e of reconcile.errors) print(`⚠ ${e.scope}: ${e.message}`);
        return reconcile.errors.length > 0 ? 1 : 0;
      }
      case 'verify':
        return await verify(api, print);
      case 'help-maintenance':
        print(MAINTENANCE_HELP.trimEnd());
        return 0;
      case undefined:
      case 'help':
        print(HELP.trimEnd());
        return command === undefined ? 2 : 0;
      default:
        io.err.write(`Unknown ctl command "${command}".\n\n${HELP}`);
        return 2;
    }
  } catch (err) {
    if (!(err instanceof CtlError)) throw err;
    if (err.answer && UNCHANGED.has(err.answer.code)) {
      print(`Nothing changed: ${err.answer.message}`);
      return 0;
    }
    // The standing stop holds, so the scheduler is stopped as asked; the message says by whom
    // and why (and which Jobs a repeated --delete-jobs still deleted, so not "Nothing changed").
    if (err.answer?.code === 'already_stopped') {
      print(err.answer.message);
      return 0;
    }
    io.err.write(`${err.message}\n`);
    return err.exitCode;
  }
}

/** Reads the whole log through the API, oldest first, and checks every link of the chain. */
async function verify(api: ApiClient, print: (s: string) => void): Promise<number> {
  let prev = { seq: 0, hash: GENESIS_HASH };
  let cursor: string | null = null;
  let count = 0;
  do {
    const q = new URLSearchParams({ order: 'asc', limit: '1000' });
    if (cursor) q.set('cursor', cursor);
    const page: { events: StoredEvent[]; next_cursor: string | null } = await api.get(`/v1/graph/events?${q}`);
    for (const e of page.events) {
      const problem = checkLink(e, prev);
      if (problem) {
        print(`Chain BROKEN at seq ${problem.seq}: ${problem.reason.replaceAll('_', ' ')} (${count} events verified before it).`);
        return 1;
      }
      prev = { seq: e.seq, hash: e.hash };
      count += 1;
    }
    cursor = page.next_cursor;
  } while (cursor);
  print(`Chain OK: ${count} events, head ${prev.hash}.`);
  return 0;
}

/** Autonomy and the scheduler in the operator document's terms. */
function printAutonomy(a: AutonomyAnswer, print: (s: string) => void): void {
  const who = [a.changed_by ? `by ${a.changed_by}` : null, a.changed_at ? `at ${a.changed_at}` : null].filter(Boolean).join(' ');
  print(`Autonomy: ${a.enabled ? 'enabled' : 'disabled'} (source: ${a.source})${who ? ` — changed ${who}` : ''}${a.reason ? `: ${a.reason}` : ''}`);
  if (a.drift) print(`⚠ ${a.drift.message}`);
  const stop = a.emergency_stop;
  const sched = a.scheduler;
  if (sched.suspended) print(`Scheduler: SUSPENDED${stop ? ` (emergency stop by ${stop.by} at ${stop.at}: ${stop.reason})` : ''}`);
  else print(`Scheduler: not suspended${sched.last_cycle_completed_at ? ` (last cycle completed ${sched.last_cycle_completed_at})` : ' (no cycle completed yet)'}`);
  if (sched.cronjob) print(`CronJob: ${sched.cronjob.name} "${sched.cronjob.schedule}" suspend=${sched.cronjob.suspended}${sched.cronjob.lastScheduleTime ? `, last scheduled ${sched.cronjob.lastScheduleTime}` : ''}`);
  print(`Next tick: ${sched.next_tick_at ?? 'none'}${sched.next_tick_note ? ` — ${sched.next_tick_note}` : ''}`);
  for (const e of a.cluster_errors ?? []) print(`⚠ ${e}`);
}

const MARK: Record<string, string> = { ok: '✓', blocking: '✗', warning: '!' };

/** The troubleshooting guide's answer: every check, with evidence, action and commands where it matters. */
function printDiagnosis(d: DiagnosisAnswer, print: (s: string) => void): void {
  print(d.summary);
  print('');
  for (const c of d.checks) {
    print(`${MARK[c.status] ?? '?'} ${c.id.padEnd(16)} ${c.title}`);
    if (c.status === 'ok') continue;
    for (const e of c.evidence) print(`    ${e.seq !== null ? `seq ${e.seq} ` : ''}${e.time} ${e.type}: ${e.summary}`);
    if (c.action) print(`    → ${c.action}`);
    for (const cmd of c.commands) print(`    $ ${cmd}`);
  }
}

function need(v: string | undefined, usage: string): string {
  if (!v) throw new CtlError(`Usage: leviathan ctl ${usage}`, 2);
  return v;
}

/** An `owner/repo` argument, checked here: `pause acme` would otherwise reach another route and get its 405. */
function needTarget(v: string | undefined, usage: string): string {
  const id = need(v, usage);
  if (!targetIdSchema.safeParse(id).success) throw new CtlError(`"${id}" is not a target: expected owner/repo.\nUsage: leviathan ctl ${usage}`, 2);
  return id;
}

function formatEvent(e: StoredEvent): string {
  const data = JSON.stringify(e.data);
  return `${String(e.seq).padStart(6)} ${e.time} ${e.type.padEnd(26)} ${(e.target ?? '-').padEnd(24)} ${e.actor} ${data.length > 120 ? `${data.slice(0, 117)}...` : data}`;
}

interface StatusAnswer {
  label: string;
  headline: string;
  action: string | null;
  /** The console's `Targets:` line, as the operator document words it. */
  targets_line: { text: string };
  open_prs: { open: number; max: number };
  ready_tasks: number;
  last_execution_at: string | null;
  autonomy: { enabled: boolean | null };
}

interface AutonomyAnswer {
  enabled: boolean;
  source: string;
  changed_by: string | null;
  changed_at: string | null;
  reason: string | null;
  drift: { message: string } | null;
  emergency_stop: { by: string; at: string; reason: string } | null;
  scheduler: {
    last_cycle_completed_at: string | null;
    suspended: boolean;
    cronjob: { name: string; schedule: string; suspended: boolean; lastScheduleTime?: string } | null;
    next_tick_at: string | null;
    next_tick_note: string | null;
  };
  cluster_errors?: string[];
}

interface ControlAnswer {
  event: { id: string; seq: number; type: string };
  autonomy: AutonomyAnswer;
  warnings: string[];
}

interface DiagnosisAnswer {
  summary: string;
  blocking: string | null;
  checks: Array<{
    id: string;
    status: 'ok' | 'blocking' | 'warning';
    title: string;
    evidence: Array<{ seq: number | null; type: string; time: string; summary: string }>;
    action: string | null;
    commands: string[];
  }>;
}

interface ReconcileAnswer {
  installations: number;
  targets: number;
  corrections: Array<{ type: string; target: string; number?: number }>;
  errors: Array<{ scope: string; message: string }>;
}

interface TargetAnswer {
  id: string;
  status: string;
  reason: string;
  headline: string;
  open_prs: unknown[];
  max_open_prs: number;
}

/** A thin fetch wrapper that turns `{error:{code,message}}` answers into CtlError. */
export class ApiClient {
  constructor(
    private readonly base: string,
    private readonly token: string | null,
    /** Where `serve` writes the token it generates, named when there is none. */
    private readonly tokenFile = '$LEVIATHAN_DATA_DIR/api-token',
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    // Every /v1 route needs one: say where we looked rather than let the server answer 401.
    if (!this.token) {
      throw new CtlError(
        `No API token: LEVIATHAN_API_TOKEN is not set and there is no token in ${this.tokenFile}. Set LEVIATHAN_API_TOKEN (or LEVIATHAN_DATA_DIR to the data dir of \`leviathan serve\`).`,
      );
    }
    return { authorization: `Bearer ${this.token}`, ...extra };
  }

  async get<T>(path: string): Promise<T> {
    return this.request<T>(path, { headers: this.headers() });
  }

  async post<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(path, { method: 'POST', headers: this.headers({ 'content-type': 'application/json' }), body: JSON.stringify(body) });
  }

  private async request<T>(path: string, init: RequestInit): Promise<T> {
    let res: Response;
    try {
      res = await fetch(new URL(path, this.base), init);
    } catch (err) {
      throw new CtlError(`Control plane unreachable at ${this.base}: ${networkCause(err)}. Check LEVIATHAN_CONTROL_PLANE_URL and that \`leviathan serve\` is running.`);
    }
    const text = await res.text();
    if (!res.ok) throw answerError(res.status, text, path);
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new CtlError(`Unexpected answer (${res.status}) from ${path}.`);
    }
  }

  /**
   * Follows a Server-Sent Events stream until `signal` aborts, resuming with Last-Event-ID. A lost
   * connection, a 5xx, 408 or 429 passes (a pod restarting behind its ingress answers 502 for a
   * while): each is told through `note`, so a dead stream never looks like a quiet one, and
   * retried with capped backoff. Any other refusal will not fix itself: it is thrown, worded as
   * every other command words the server's error.
   */
  async stream(path: string, onEvent: (e: StoredEvent) => void, opts: { signal?: AbortSignal; note: (line: string) => void }): Promise<void> {
    const { signal, note } = opts;
    let lastId: string | null = null;
    let delay = FOLLOW_RETRY.firstMs;
    let lost = false;
    while (!signal?.aborted) {
      const idle = new AbortController();
      let timer = setTimeout(() => idle.abort(), FOLLOW_IDLE_MS);
      const alive = () => {
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), FOLLOW_IDLE_MS);
      };
      let why: string;
      try {
        const res: Response = await fetch(new URL(path, this.base), {
          headers: this.headers({ accept: 'text/event-stream', ...(lastId ? { 'last-event-id': lastId } : {}) }),
          signal: signal ? AbortSignal.any([signal, idle.signal]) : idle.signal,
        });
        if (!res.ok || !res.body) {
          const text = await res.text();
          if (!passing(res.status)) throw answerError(res.status, text, path);
          why = `${res.status} ${res.statusText}`.trim();
        } else {
          if (lost) note(`reconnected, resuming after seq ${lastId ?? 'none'}`);
          lost = false;
          delay = FOLLOW_RETRY.firstMs;
          const parser = new SseParser();
          for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
            alive();
            for (const m of parser.push(chunk)) {
              if (m.id !== undefined) lastId = m.id;
              if (m.data !== undefined) onEvent(JSON.parse(m.data) as StoredEvent);
            }
          }
          why = 'the server closed the stream';
        }
      } catch (err) {
        if (signal?.aborted) return;
        if (err instanceof CtlError) throw err;
        why = idle.signal.aborted ? `nothing received for ${FOLLOW_IDLE_MS / 1000}s` : networkCause(err);
      } finally {
        clearTimeout(timer);
      }
      lost = true;
      note(`connection lost (${why}), retrying in ${delay / 1000}s (last seq ${lastId ?? 'none'})…`);
      try {
        await sleep(delay, undefined, signal ? { signal } : {});
      } catch {
        return;
      }
      delay = Math.min(delay * 2, FOLLOW_RETRY.maxMs);
    }
  }
}

/** Answers worth waiting out: the server or a proxy in front of it is busy, restarting or timed out. */
function passing(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

/** The CtlError for a non-2xx answer: `code: message` from the server's `{error}`, or what we got instead. */
function answerError(status: number, text: string, path: string): CtlError {
  let error: { code?: unknown; message?: unknown } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    return new CtlError(`Unexpected answer (${status}) from ${path}.`);
  }
  const code = typeof error?.code === 'string' ? error.code : null;
  const message = typeof error?.message === 'string' ? error.message : 'request failed';
  return new CtlError(`${code ?? status}: ${message}`, 1, code ? { code, message } : undefined);
}

/** fetch says only "fetch failed"; the reason is in its cause: a system error's code (ECONNREFUSED), else undici's words. */
function networkCause(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
  if (typeof cause?.code === 'string' && /^E[A-Z]+$/.test(cause.code)) return cause.code;
  return typeof cause?.message === 'string' ? cause.message : (err as Error).message;
}

interface SseMessage {
  id?: string;
  data?: string;
}

/**
 * The event stream format (html.spec.whatwg.org, "Parsing an event stream"), as far as the
 * follower needs it: a message's `id` counts even without `data` (the stream's first message
 * names where it starts, so a reconnect resumes there), comments are heartbeats.
 */
export class SseParser {
  private buffer = '';
  private readonly decoder = new TextDecoder();

  /** Feeds bytes; returns the messages they complete. */
  push(chunk: Uint8Array): SseMessage[] {
    this.buffer += this.decoder.decode(chunk, { stream: true });
    const messages: SseMessage[] = [];
    const blocks = this.buffer.split(/\r\n\r\n|\n\n|\r\r/);
    this.buffer = blocks.pop()!;
    for (const block of blocks) {
      const m: SseMessage = {};
      for (const line of block.split(/\r\n|\n|\r/)) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id' && !value.includes('\0')) m.id = value;
        else if (field === 'data') m.data = m.data === undefined ? value : `${m.data}\n${value}`;
      }
      if (m.id !== undefined || m.data !== undefined) messages.push(m);
    }
    return messages;
  }
}
