import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { checkLink, GENESIS_HASH, type StoredEvent } from '../events/envelope.ts';
import type { Env } from '../env.ts';

interface Io {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
}

/** An API answer that was not 2xx, with the server's error code and message. */
class CtlError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

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
  verify                              recompute the hash chain; report the first bad seq

Environment: LEVIATHAN_CONTROL_PLANE_URL (default http://127.0.0.1:8000), LEVIATHAN_API_TOKEN
(else the token generated in $LEVIATHAN_DATA_DIR/api-token).
`;

/** `leviathan ctl …`: returns the exit code (0 ok, 1 failed, 2 usage). */
export async function ctl(env: Env, argv: string[], io: Io): Promise<number> {
  const [command, ...rest] = argv;
  const { values, positionals } = parseArgs({
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
    },
  });
  const api = new ApiClient(env.LEVIATHAN_CONTROL_PLANE_URL, await resolveToken(env));
  const print = (s: string) => io.out.write(`${s}\n`);
  const asJson = (v: unknown) => print(JSON.stringify(v, null, 2));
  try {
    switch (command) {
      case 'status': {
        const s = await api.get<StatusAnswer>('/v1/status');
        if (values.json) return asJson(s), 0;
        print(`Status: ${s.label}`);
        print(`Targets: ${s.targets.active} active, ${s.targets.blocked} blocked, ${s.targets.idle} idle, ${s.targets.paused} paused, ${s.targets.error} error`);
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
        const id = need(positionals[0], 'target <owner/repo>');
        const { target } = await api.get<{ target: TargetAnswer }>(`/v1/targets/${id}`);
        return asJson(target), 0;
      }
      case 'events': {
        const q = new URLSearchParams();
        if (values.target) q.set('target', values.target);
        if (values.type) q.set('type', values.type);
        if (values.subject) q.set('subject', values.subject);
        if (values.follow) {
          await api.stream(`/v1/events/stream?${q}`, (e) => print(formatEvent(e)));
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
        const id = need(positionals[0], 'pause <owner/repo> --reason "…"');
        if (!values.reason) throw new CtlError('pause needs --reason "why" (it is shown to everyone and kept in the audit log).', 2);
        const answer = await api.post<{ target: TargetAnswer }>(`/v1/targets/${id}/pause`, { reason: values.reason, via: 'ctl' });
        print(`${id}: ${answer.target.status} — ${answer.target.headline}`);
        return 0;
      }
      case 'resume': {
        const id = need(positionals[0], 'resume <owner/repo>');
        const answer = await api.post<{ target: TargetAnswer }>(`/v1/targets/${id}/resume`, { via: 'ctl', ...(values.reason ? { reason: values.reason } : {}) });
        print(`${id}: ${answer.target.status} — ${answer.target.headline}`);
        return 0;
      }
      case 'verify':
        return await verify(api, print);
      case undefined:
      case 'help':
        io.out.write(HELP);
        return command === undefined ? 2 : 0;
      default:
        io.err.write(`Unknown ctl command "${command}".\n\n${HELP}`);
        return 2;
    }
  } catch (err) {
    if (err instanceof CtlError) {
      io.err.write(`${err.message}\n`);
      return err.exitCode;
    }
    throw err;
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

function need(v: string | undefined, usage: string): string {
  if (!v) throw new CtlError(`Usage: leviathan ctl ${usage}`, 2);
  return v;
}

function formatEvent(e: StoredEvent): string {
  const data = JSON.stringify(e.data);
  return `${String(e.seq).padStart(6)} ${e.time} ${e.type.padEnd(26)} ${(e.target ?? '-').padEnd(24)} ${e.actor} ${data.length > 120 ? `${data.slice(0, 117)}...` : data}`;
}

async function resolveToken(env: Env): Promise<string | null> {
  const configured = env.LEVIATHAN_API_TOKEN?.split(',').map((s) => s.trim()).find(Boolean);
  if (configured) return configured.replace(/^read:/, '');
  try {
    return (await readFile(join(env.LEVIATHAN_DATA_DIR, 'api-token'), 'utf8')).trim() || null;
  } catch {
    return null;
  }
}

interface StatusAnswer {
  label: string;
  headline: string;
  action: string | null;
  targets: Record<'active' | 'blocked' | 'idle' | 'paused' | 'error', number>;
  open_prs: { open: number; max: number };
  ready_tasks: number;
  last_execution_at: string | null;
  autonomy: { enabled: boolean | null };
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
  ) {}

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { ...(this.token ? { authorization: `Bearer ${this.token}` } : {}), ...extra };
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
      throw new CtlError(`Control plane unreachable at ${this.base}: ${(err as Error).message}. Check LEVIATHAN_CONTROL_PLANE_URL and that \`leviathan serve\` is running.`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new CtlError(`Unexpected answer (${res.status}) from ${path}.`);
    }
    if (!res.ok) {
      const e = (body as { error?: { code?: string; message?: string } }).error;
      throw new CtlError(`${e?.code ?? res.status}: ${e?.message ?? 'request failed'}`);
    }
    return body as T;
  }

  /** Follows a Server-Sent Events stream, reconnecting with Last-Event-ID, until interrupted. */
  async stream(path: string, onEvent: (e: StoredEvent) => void, signal?: AbortSignal): Promise<void> {
    let lastId: string | null = null;
    while (!signal?.aborted) {
      try {
        const res = await fetch(new URL(path, this.base), { headers: this.headers(lastId ? { 'last-event-id': lastId } : {}), signal });
        if (!res.ok || !res.body) throw new CtlError(`Stream refused (${res.status}).`);
        let buffer = '';
        const decoder = new TextDecoder();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          buffer += decoder.decode(chunk, { stream: true });
          let cut: number;
          while ((cut = buffer.indexOf('\n\n')) >= 0) {
            const block = buffer.slice(0, cut);
            buffer = buffer.slice(cut + 2);
            const id = /^id: (.*)$/m.exec(block)?.[1];
            const data = /^data: (.*)$/m.exec(block)?.[1];
            if (id) lastId = id;
            if (data) onEvent(JSON.parse(data) as StoredEvent);
          }
        }
      } catch (err) {
        if (signal?.aborted || err instanceof CtlError) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}
