import type { TargetView } from '../api-types.ts';

const STATUS_STYLE: Record<TargetView['status'], string> = {
  active: 'bg-emerald-100 text-emerald-800',
  idle: 'bg-slate-100 text-slate-700',
  blocked: 'bg-amber-100 text-amber-800',
  paused: 'bg-sky-100 text-sky-800',
  error: 'bg-red-100 text-red-800',
};

const STATUS_WORD: Record<TargetView['status'], string> = {
  active: 'Active ✓',
  idle: 'Idle',
  blocked: 'Blocked ⚠',
  paused: 'Paused',
  error: 'Error ✗',
};

export function StatusBadge({ status }: { status: TargetView['status'] }) {
  return <span className={`inline-block rounded px-2 py-0.5 text-xs font-medium ${STATUS_STYLE[status]}`}>{STATUS_WORD[status]}</span>;
}

export function prUrl(target: string, n: number): string {
  return `https://github.com/${target}/pull/${n}`;
}

export function markClass(mark: string): string {
  return mark === '✓' ? 'text-emerald-700' : mark === '✗' ? 'text-red-700' : mark === '⚠' ? 'text-amber-700' : 'text-slate-500';
}
