import type { TargetView } from '../api-types.ts';

type Attempt = TargetView['recent_attempts'][number];

/**
 * Finished attempts over time as stacked bars (green: succeeded, red: failed), in inline SVG:
 * a dozen equal time buckets between the first and the last attempt.
 */
export function AttemptsChart({ attempts }: { attempts: Attempt[] }) {
  const done = attempts.filter((a) => a.state === 'succeeded' || a.state === 'failed');
  if (done.length === 0) return <p className="text-sm text-slate-500">No finished attempts yet.</p>;
  const times = done.map((a) => Date.parse(a.ended_at ?? a.created_at));
  const min = Math.min(...times);
  const max = Math.max(...times);
  const n = 12;
  const span = Math.max(max - min, 60_000);
  const buckets = Array.from({ length: n }, () => ({ ok: 0, fail: 0 }));
  done.forEach((a, i) => {
    const b = Math.min(n - 1, Math.floor(((times[i]! - min) / span) * n));
    if (a.state === 'succeeded') buckets[b]!.ok++;
    else buckets[b]!.fail++;
  });
  const top = Math.max(1, ...buckets.map((b) => b.ok + b.fail));
  const W = 480;
  const H = 120;
  const pad = 20;
  const bw = (W - pad * 2) / n;
  const y = (v: number) => ((H - pad * 2) * v) / top;
  const fmt = (t: number) => new Date(t).toISOString().slice(5, 16).replace('T', ' ');
  return (
    <figure>
      <svg viewBox={`0 0 ${W} ${H}`} className="w-full max-w-xl" role="img" aria-label={`Attempts over time: ${done.filter((a) => a.state === 'succeeded').length} succeeded, ${done.filter((a) => a.state === 'failed').length} failed`}>
        <line x1={pad} y1={H - pad} x2={W - pad} y2={H - pad} stroke="#cbd5e1" />
        {buckets.map((b, i) => {
          const x = pad + i * bw + 2;
          const hOk = y(b.ok);
          const hFail = y(b.fail);
          return (
            <g key={i}>
              {b.ok > 0 && <rect x={x} y={H - pad - hOk} width={bw - 4} height={hOk} fill="#059669"><title>{`${b.ok} succeeded`}</title></rect>}
              {b.fail > 0 && <rect x={x} y={H - pad - hOk - hFail} width={bw - 4} height={hFail} fill="#dc2626"><title>{`${b.fail} failed`}</title></rect>}
            </g>
          );
        })}
        <text x={pad} y={H - 4} fontSize="9" fill="#64748b">{fmt(min)}</text>
        <text x={W - pad} y={H - 4} fontSize="9" fill="#64748b" textAnchor="end">{fmt(min + span)}</text>
        <text x={pad} y={12} fontSize="9" fill="#64748b">{top}</text>
      </svg>
      <figcaption className="text-xs text-slate-500">
        <span className="text-emerald-700">■</span> succeeded <span className="text-red-700">■</span> failed
      </figcaption>
    </figure>
  );
}
