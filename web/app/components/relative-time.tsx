import { useEffect, useState } from 'react';

/** "2 minutes ago" / "in 30 minutes", in the operator document's words. */
export function relative(iso: string | null | undefined, now: number): string {
  if (!iso) return 'never';
  const diff = Date.parse(iso) - now;
  const future = diff > 0;
  const s = Math.round(Math.abs(diff) / 1000);
  // Clocks of browser and server differ by a little: a few seconds either way is "now".
  if (s < 5) return 'just now';
  let text: string;
  if (s < 45) text = `${s} second${s === 1 ? '' : 's'}`;
  else if (s < 90 * 60) {
    const m = Math.max(1, Math.round(s / 60));
    text = `${m} minute${m === 1 ? '' : 's'}`;
  } else if (s < 36 * 3600) {
    const h = Math.round(s / 3600);
    text = `${h} hour${h === 1 ? '' : 's'}`;
  } else {
    const d = Math.round(s / 86400);
    text = `${d} day${d === 1 ? '' : 's'}`;
  }
  return future ? `in ${text}` : `${text} ago`;
}

/** Short form for activity lists: `2m ago`. */
export function shortAgo(iso: string, now: number): string {
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s ago`;
  if (s < 3600) return `${Math.floor(s / 60)}m ago`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ago`;
  return `${Math.floor(s / 86400)}d ago`;
}

/** The current time, ticking; the server render and the first client render may differ by a second. */
export function useNow(everyMs = 15_000): number {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), everyMs);
    return () => clearInterval(t);
  }, [everyMs]);
  return now;
}

export function RelativeTime({ iso, short = false }: { iso: string | null | undefined; short?: boolean }) {
  const now = useNow();
  return (
    <time dateTime={iso ?? undefined} title={iso ?? undefined} suppressHydrationWarning>
      {short && iso ? shortAgo(iso, now) : relative(iso, now)}
    </time>
  );
}
