import { describe, expect, it } from 'vitest';
import { nextCronTime, parseCron } from '../../src/control/cron-next.ts';

const at = (iso: string) => new Date(iso);
const next = (schedule: string, after: string) => nextCronTime(schedule, at(after))?.toISOString() ?? null;

describe('nextCronTime', () => {
  it('the CronJob schedule */5 fires at the next multiple of 5 minutes, strictly after now', () => {
    expect(next('*/5 * * * *', '2026-11-27T12:02:30Z')).toBe('2026-11-27T12:05:00.000Z');
    expect(next('*/5 * * * *', '2026-11-27T12:05:00Z')).toBe('2026-11-27T12:10:00.000Z');
    expect(next('*/5 * * * *', '2026-11-27T23:58:00Z')).toBe('2026-11-28T00:00:00.000Z');
  });

  it('understands lists, ranges, stepped ranges and macros', () => {
    expect(next('0,30 * * * *', '2026-11-27T12:10:00Z')).toBe('2026-11-27T12:30:00.000Z');
    expect(next('15 9-17/4 * * *', '2026-11-27T14:00:00Z')).toBe('2026-11-27T17:15:00.000Z');
    expect(next('0 9 * * 1-5', '2026-11-27T10:00:00Z')).toBe('2026-11-30T09:00:00.000Z'); // Friday → Monday
    expect(next('@hourly', '2026-11-27T10:20:00Z')).toBe('2026-11-27T11:00:00.000Z');
    expect(next('@monthly', '2026-11-27T10:20:00Z')).toBe('2026-12-01T00:00:00.000Z');
    expect(next('0 0 * * 7', '2026-11-27T10:00:00Z')).toBe('2026-11-29T00:00:00.000Z'); // 7 is Sunday
  });

  it('uses cron’s OR rule when both day fields are restricted', () => {
    // The 1st of the month or any Sunday, whichever comes first.
    expect(next('0 0 1 * 0', '2026-11-27T10:00:00Z')).toBe('2026-11-29T00:00:00.000Z');
  });

  it('returns null rather than a wrong time for forms it does not understand, or dates that never come', () => {
    expect(next('0 9 * * MON', '2026-11-27T10:00:00Z')).toBeNull();
    expect(next('*/5 * * *', '2026-11-27T10:00:00Z')).toBeNull();
    expect(next('61 * * * *', '2026-11-27T10:00:00Z')).toBeNull();
    expect(next('0 0 30 2 *', '2026-11-27T10:00:00Z')).toBeNull();
    expect(parseCron('H/5 * * * *')).toBeNull();
  });
});
