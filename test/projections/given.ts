import { sealEvent, newEvent, GENESIS_HASH, type StoredEvent } from '../../src/events/envelope.ts';
import { evolve } from '../../src/projections/evolve.ts';
import { emptyState, type ProjectionState } from '../../src/projections/state.ts';

type Spec = { type: string; target?: string; actor?: string; data?: Record<string, unknown>; at?: string; subject?: string; id?: string };

/** Seals plain event specs into a chained log, one minute apart unless `at` is given. */
export function log(specs: Spec[], start = Date.parse('2026-11-27T10:00:00Z')): StoredEvent[] {
  let prev = GENESIS_HASH;
  return specs.map((s, i) => {
    const time = s.at ?? new Date(start + i * 60_000).toISOString();
    const e = sealEvent(
      newEvent({ type: s.type, actor: s.actor ?? 'test', target: s.target ?? null, subject: s.subject ?? null, data: s.data ?? {}, ...(s.id ? { id: s.id } : {}) }),
      i + 1,
      time,
      prev,
    );
    prev = e.hash;
    return e;
  });
}

/** Given/When/Then: `given(events).when(more).then(state => …)`. */
export function given(specs: Spec[]) {
  const base = log(specs);
  return {
    when(more: Spec[] = []) {
      const all = log([...specs, ...more]);
      const state = all.reduce((s, e) => evolve(s, e), emptyState());
      return {
        state,
        events: all,
        then(check: (state: ProjectionState) => void) {
          check(state);
          return state;
        },
      };
    },
    events: base,
  };
}

export const T = 'acme/web';
export const task = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  title: `Task ${id}`,
  priority: 'medium',
  ready: true,
  status: 'pending',
  dependencies: [],
  allowed_paths: ['docs/'],
  ...extra,
});
