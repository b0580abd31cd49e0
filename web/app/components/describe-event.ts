import type { StoredEvent } from '../api-types.ts';

type Mark = '✓' | '✗' | '⚠' | '•';

const str = (v: unknown): string | null => (typeof v === 'string' && v ? v : null);
const num = (v: unknown): number | null => (typeof v === 'number' ? v : null);

/**
 * One event in the operator document's words (`PR #722 created (api-base-normalization)`),
 * with its mark. Plain text: React escapes it wherever it is shown.
 */
export function describeEvent(e: Pick<StoredEvent, 'type' | 'data' | 'actor' | 'target' | 'subject'>): { mark: Mark; text: string } {
  const d = e.data ?? {};
  const task = str(d.task_id);
  const paren = (x: string | null) => (x ? ` (${x})` : '');
  switch (e.type) {
    case 'pr.created':
      return { mark: '✓', text: `PR #${num(d.number)} created${paren(task ?? str(d.title))}` };
    case 'pr.merged':
      return { mark: '✓', text: `PR #${num(d.number)} merged${paren(task)}` };
    case 'pr.closed':
      return { mark: '•', text: `PR #${num(d.number)} closed${paren(task)}` };
    case 'pr.reopened':
      return { mark: '•', text: `PR #${num(d.number)} reopened` };
    case 'pr.observed':
      return { mark: '•', text: `PR #${num(d.number)} observed${paren(str(d.title))}` };
    case 'task.selected':
      return { mark: '✓', text: `Task selected${paren(task)}` };
    case 'task.triggered':
      return { mark: '•', text: `Task triggered by ${e.actor}${paren(task)}` };
    case 'task.skipped':
      return { mark: d.outcome === 'error' ? '✗' : d.outcome === 'blocked' ? '⚠' : '•', text: `Skipped: ${str(d.detail) ?? str(d.reason) ?? 'no reason'}` };
    case 'attempt.created':
      return { mark: '•', text: `Attempt created${paren(task)}` };
    case 'attempt.started':
      return { mark: '•', text: `Attempt started${paren(task)}` };
    case 'attempt.step':
      return { mark: '•', text: `Worker: ${str(d.step) ?? 'next step'}${paren(task)}` };
    case 'attempt.succeeded':
      return { mark: '✓', text: `Attempt succeeded${paren(task)}` };
    case 'attempt.failed':
      return { mark: '✗', text: `Attempt failed: ${task ?? str(d.attempt_id) ?? 'unknown task'}${paren(str(d.failure_type))}${str(d.step) ? ` at ${str(d.step)}` : ''}` };
    case 'attempt.token_refreshed':
      return { mark: '•', text: `GitHub token renewed for the attempt${paren(task)}, valid until ${str(d.expires_at) ?? '?'}` };
    case 'circuit_breaker.tripped':
      return { mark: '⚠', text: `Circuit breaker tripped after ${num(d.consecutive_failures)} consecutive failures` };
    case 'circuit_breaker.reset':
      return { mark: '•', text: `Circuit breaker reset by ${e.actor}` };
    case 'target.paused':
      return { mark: '⚠', text: `${e.target ?? 'Target'} paused by ${e.actor}: ${str(d.reason) ?? ''}` };
    case 'target.resumed':
      return { mark: '✓', text: `${e.target ?? 'Target'} resumed by ${e.actor}` };
    case 'target.registered':
      return { mark: '✓', text: `${e.target ?? 'Target'} registered` };
    case 'backlog.synced':
      return { mark: '•', text: `Backlog synced (${Array.isArray(d.tasks) ? d.tasks.length : 0} tasks)` };
    case 'backlog.invalid':
      return { mark: '✗', text: `Backlog invalid: ${str(d.reason) ?? ''}` };
    case 'autonomy.enabled':
      return { mark: '✓', text: `Autonomy enabled by ${e.actor}` };
    case 'autonomy.disabled':
      return { mark: '⚠', text: `Autonomy disabled by ${e.actor}` };
    case 'policy.change_proposed':
      return { mark: '•', text: `Policy change proposed by ${e.actor}${num(d.pr_number) ? ` (PR #${num(d.pr_number)})` : ''}` };
    case 'command.received':
      return { mark: d.allowed === false ? '⚠' : '•', text: `/${str(d.command) ?? 'command'} by ${e.actor}${d.allowed === false ? ' (refused)' : ''}` };
    case 'command.completed': {
      const how = d.answer === 'comment' ? 'answered' : d.answer === 'reaction' ? 'answered with a reaction' : 'not answered (cooldown)';
      return { mark: d.ok === true ? '✓' : '⚠', text: `/${str(d.command) ?? 'command'} ${d.ok === true ? 'done' : 'not done'}, ${how}` };
    }
    default:
      return { mark: '•', text: `${e.type}${e.subject ? ` ${e.subject}` : ''}` };
  }
}

/** Where an event's graph node is explored. */
export function graphLink(subject: string | null | undefined): string | null {
  return subject ? `/graph?node=${encodeURIComponent(subject)}` : null;
}
