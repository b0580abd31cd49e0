/**
 * The next time a CronJob schedule fires, for `GET /v1/autonomy/status` ("next tick").
 *
 * Deliberately tiny: the five standard fields with `*`, numbers, ranges `a-b`, steps `*\/n` and
 * `a-b/n`, and lists `a,b,c`, plus the `@hourly`/`@daily`/`@weekly`/`@monthly`/`@yearly` macros —
 * the forms Kubernetes CronJobs are written in. Month and weekday names, `?`, `L`, `W`, `#` and
 * `CRON_TZ=` are not understood: such schedules yield null rather than a wrong time. Times are
 * UTC, which is what kube-controller-manager uses for a CronJob without `spec.timeZone`.
 */

const MACROS: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

interface Field {
  values: Set<number>;
  /** Written as `*` or `*\/n`: matters for the day-of-month / day-of-week OR rule. */
  star: boolean;
}

/** A parsed schedule; null from {@link parseCron} when the form is not supported. */
export interface CronSchedule {
  minute: Field;
  hour: Field;
  dayOfMonth: Field;
  month: Field;
  dayOfWeek: Field;
}

function parseField(text: string, min: number, max: number): Field | null {
  const values = new Set<number>();
  for (const part of text.split(',')) {
    const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
    if (!m) return null;
    let lo = min;
    let hi = max;
    if (m[1] !== '*') {
      lo = Number(m[2]);
      // `5/15` means "from 5, every 15" (Vixie cron); a bare number is itself.
      hi = m[3] !== undefined ? Number(m[3]) : m[4] !== undefined ? max : lo;
    }
    const step = m[4] !== undefined ? Number(m[4]) : 1;
    if (step < 1 || lo < min || hi > max || lo > hi) return null;
    for (let v = lo; v <= hi; v += step) values.add(v);
  }
  return { values, star: text.startsWith('*') };
}

/** Parses a five-field schedule (or a macro); null for forms this module does not understand. */
export function parseCron(schedule: string): CronSchedule | null {
  const text = MACROS[schedule.trim().toLowerCase()] ?? schedule.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) return null;
  const [mi, h, dom, mo, dow] = parts as [string, string, string, string, string];
  const minute = parseField(mi, 0, 59);
  const hour = parseField(h, 0, 23);
  const dayOfMonth = parseField(dom, 1, 31);
  const month = parseField(mo, 1, 12);
  const dayOfWeek = parseField(dow, 0, 7);
  if (!minute || !hour || !dayOfMonth || !month || !dayOfWeek) return null;
  // 7 is Sunday too.
  if (dayOfWeek.values.has(7)) dayOfWeek.values.add(0);
  return { minute, hour, dayOfMonth, month, dayOfWeek };
}

function dayMatches(s: CronSchedule, d: Date): boolean {
  const dom = s.dayOfMonth.values.has(d.getUTCDate());
  const dow = s.dayOfWeek.values.has(d.getUTCDay());
  // Cron's rule: when both day fields are restricted, either may match.
  if (s.dayOfMonth.star && s.dayOfWeek.star) return true;
  if (s.dayOfMonth.star) return dow;
  if (s.dayOfWeek.star) return dom;
  return dom || dow;
}

/**
 * The first time strictly after `after` (to the minute) that `schedule` fires, or null when the
 * schedule is not understood or never fires (`0 0 30 2 *`).
 */
export function nextCronTime(schedule: string, after: Date): Date | null {
  const s = parseCron(schedule);
  if (!s) return null;
  let t = Math.floor(after.getTime() / 60_000) * 60_000 + 60_000;
  // Jumps by month, day or hour when those do not match, so even yearly schedules take a few
  // hundred steps; the bound only stops impossible dates.
  for (let i = 0; i < 100_000; i++) {
    const d = new Date(t);
    const y = d.getUTCFullYear();
    const mo = d.getUTCMonth();
    const day = d.getUTCDate();
    const h = d.getUTCHours();
    if (!s.month.values.has(mo + 1)) t = Date.UTC(y, mo + 1, 1);
    else if (!dayMatches(s, d)) t = Date.UTC(y, mo, day + 1);
    else if (!s.hour.values.has(h)) t = Date.UTC(y, mo, day, h + 1);
    else if (!s.minute.values.has(d.getUTCMinutes())) t += 60_000;
    else return d;
  }
  return null;
}
