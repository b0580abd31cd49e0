import { appendChecked } from '../control/selection-guard.ts';
import type { NewEvent } from '../events/envelope.ts';
import { SKIP_REASONS, type SkipReason } from '../events/types.ts';
import type { Projector } from '../projections/projector.ts';
import type { EventStore } from '../store/event-store.ts';
import { buildSnapshot, type SchedulerSnapshot } from './snapshot.ts';

/** The control plane as the scheduler needs it: read the snapshot, record events. */
export interface SchedulerControlPlane {
  snapshot(): Promise<SchedulerSnapshot>;
  /** Records events in order; resolves once they are stored (duplicates are acknowledged). */
  post(events: NewEvent[]): Promise<void>;
}

/** The control plane could not be reached or refused the scheduler: the cycle cannot run. */
export class ControlPlaneError extends Error {
  override readonly name = 'ControlPlaneError';
  readonly code = 'control_plane_unreachable';
}

/**
 * The control plane refused a task.selected: the task was started meanwhile (by a trigger or
 * another tick), or its target has no room or free paths left. `reason` is the skip reason code.
 */
export class SelectionRefused extends Error {
  override readonly name = 'SelectionRefused';
  constructor(
    message: string,
    readonly reason: string = 'attempt_in_flight',
  ) {
    super(message);
  }
}

/** Whether an error means "this task is already being worked on", in-process or over HTTP. */
export function isSelectionRefused(err: unknown): boolean {
  return err instanceof SelectionRefused || (err as { code?: unknown })?.code === 'attempt_in_flight';
}

/** The skip reason of a refused selection: what the guard found (in-process or over HTTP), attempt_in_flight by default. */
export function refusalReason(err: unknown): SkipReason {
  const reason = err instanceof SelectionRefused ? err.reason : (err as { details?: { reason?: unknown } })?.details?.reason;
  return typeof reason === 'string' && (SKIP_REASONS as readonly string[]).includes(reason) ? (reason as SkipReason) : 'attempt_in_flight';
}

/** Over HTTP (`leviathan tick`): GET /v1/scheduler/snapshot and POST /v1/events. */
export class HttpSchedulerControlPlane implements SchedulerControlPlane {
  constructor(
    private readonly opts: { url: string; token: string | null; fetch?: typeof fetch; timeoutMs?: number },
  ) {}

  async snapshot(): Promise<SchedulerSnapshot> {
    const body = await this.request('GET', '/v1/scheduler/snapshot');
    return (body as { snapshot: SchedulerSnapshot }).snapshot;
  }

  async post(events: NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    await this.request('POST', '/v1/events', events);
  }

  private async request(method: string, path: string, json?: unknown): Promise<unknown> {
    const f = this.opts.fetch ?? fetch;
    let res: Response;
    try {
      res = await f(new URL(path, this.opts.url), {
        method,
        headers: {
          ...(this.opts.token ? { authorization: `Bearer ${this.opts.token}` } : {}),
          ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? 30_000),
      });
    } catch (err) {
      throw new ControlPlaneError(`Control plane unreachable at ${this.opts.url} (${(err as Error).message}); check LEVIATHAN_CONTROL_PLANE_URL and that \`leviathan serve\` is running.`);
    }
    const text = await res.text();
    let body: unknown = null;
    try {
      body = JSON.parse(text);
    } catch {
      // keep null: reported below with the status
    }
    if (!res.ok) {
      const e = (body as { error?: { code?: string; message?: string; reason?: string } } | null)?.error;
      if (res.status === 409 && e?.code === 'attempt_in_flight') throw new SelectionRefused(e.message ?? 'attempt in flight', e.reason);
      throw new ControlPlaneError(`Control plane refused ${method} ${path} (${res.status} ${e?.code ?? ''}): ${e?.message ?? text.slice(0, 200)}`);
    }
    return body;
  }
}

/** In the control plane itself (POST /v1/tasks/trigger, the lost-worker watch): the store and projector directly. */
export class InProcessSchedulerControlPlane implements SchedulerControlPlane {
  constructor(private readonly deps: { store: EventStore; projector: Projector; clock: { now(): Date } }) {}

  async snapshot(): Promise<SchedulerSnapshot> {
    // Read-your-writes: everything acknowledged so far is in the projection we judge.
    await this.deps.projector.waitFor(this.deps.store.health().head.seq);
    return buildSnapshot(this.deps.projector.state, this.deps.clock.now());
  }

  async post(events: NewEvent[]): Promise<void> {
    if (events.length === 0) return;
    const { stored } = await appendChecked(this.deps, events);
    const last = stored.at(-1);
    if (last) await this.deps.projector.waitFor(last.seq);
  }
}
