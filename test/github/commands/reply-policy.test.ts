import { describe, expect, it } from 'vitest';
import { ReplyCooldown } from '../../../src/github/commands/reply-cooldown.ts';
import { answerFor, type CommandOutcome } from '../../../src/github/commands/reply-policy.ts';

describe('answerFor', () => {
  const outcomes: CommandOutcome[] = ['ran', 'refused', 'unknown', 'failed'];

  it("answers the repository's own people in full, cooldown or not", () => {
    for (const outcome of outcomes) for (const coolingDown of [false, true]) expect(answerFor({ outcome, trusted: true, coolingDown })).toBe('comment');
  });

  it('gives everyone else a reaction where a comment would only say no', () => {
    expect(outcomes.map((outcome) => answerFor({ outcome, trusted: false, coolingDown: false }))).toEqual(['comment', 'reaction', 'reaction', 'comment']);
  });

  it('gives them nothing while cooling down', () => {
    for (const outcome of outcomes) expect(answerFor({ outcome, trusted: false, coolingDown: true })).toBe('none');
  });
});

describe('ReplyCooldown', () => {
  const key = ReplyCooldown.key('acme/web', 7, 'Mallory');

  it('holds for its duration, per commenter and issue', () => {
    const c = new ReplyCooldown(60_000);
    c.answeredAt(key, 1_000);
    expect(c.coolingDown(key, 60_999)).toBe(true);
    expect(c.coolingDown(key, 61_000)).toBe(false);
    expect(c.coolingDown(ReplyCooldown.key('acme/web', 7, 'mallory'), 2_000)).toBe(true); // logins are case-insensitive
    expect(c.coolingDown(ReplyCooldown.key('acme/web', 8, 'Mallory'), 2_000)).toBe(false);
  });

  it('forgets the oldest answers beyond its bound', () => {
    const c = new ReplyCooldown(60_000, 2);
    c.answeredAt('a', 1);
    c.answeredAt('b', 2);
    c.answeredAt('a', 3); // answered again: now the newest
    c.answeredAt('c', 4);
    expect(['a', 'b', 'c'].map((k) => c.coolingDown(k, 5))).toEqual([true, false, true]);
  });
});
