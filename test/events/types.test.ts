import { describe, expect, it } from 'vitest';
import { eventDataSchemas } from '../../src/events/types.ts';

describe('scheduler.cycle_completed data (src/events/types.ts)', () => {
  const schema = eventDataSchemas['scheduler.cycle_completed'];
  const reading = { remaining: 4200, limit: 5000, reset: 1_795_000_000 };
  const issuePath = (data: unknown) => {
    const parsed = schema.safeParse(data);
    return parsed.success ? null : parsed.error.issues[0]!.path.join('.');
  };

  it('accepts a cycle with or without the GitHub rate-limit reading (reset may be unknown)', () => {
    expect(schema.safeParse({ cycle_id: 'c1', outcomes: { 'acme/web': 'idle:no_ready_tasks' } }).success).toBe(true);
    expect(schema.safeParse({ cycle_id: 'c1', outcomes: {}, github_rate_limit: reading }).success).toBe(true);
    expect(schema.safeParse({ cycle_id: 'c1', github_rate_limit: { ...reading, reset: null } }).success).toBe(true);
    expect(schema.safeParse({ cycle_id: 'c1', github_rate_limit: { ...reading, remaining: 0 } }).success).toBe(true);
  });

  it.each([
    ['a negative remaining', { ...reading, remaining: -1 }, 'github_rate_limit.remaining'],
    ['a limit of 0', { ...reading, limit: 0 }, 'github_rate_limit.limit'],
    ['an infinite limit', { ...reading, limit: Infinity }, 'github_rate_limit.limit'],
    ['a count as text', { ...reading, remaining: '4200' }, 'github_rate_limit.remaining'],
    ['no limit', { remaining: 4200, reset: null }, 'github_rate_limit.limit'],
    ['no reset (null says "unknown")', { remaining: 4200, limit: 5000 }, 'github_rate_limit.reset'],
    ['a negative reset', { ...reading, reset: -5 }, 'github_rate_limit.reset'],
    ['a reset as a date string', { ...reading, reset: '2026-11-27T12:30:00Z' }, 'github_rate_limit.reset'],
    ['not an object', 'plenty', 'github_rate_limit'],
    ['null', null, 'github_rate_limit'],
  ])('refuses a github_rate_limit with %s', (_why, github_rate_limit, path) => {
    expect(issuePath({ cycle_id: 'c1', outcomes: {}, github_rate_limit })).toBe(path);
  });
});
