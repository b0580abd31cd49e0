/** How long a commenter without standing waits for our next answer on the same issue. */
export const REPLY_COOLDOWN_MS = 10 * 60_000;

/** Most (commenter, issue) pairs remembered; past it the oldest answer is forgotten first. */
export const REPLY_COOLDOWN_ENTRIES = 10_000;

/**
 * When we last answered a commenter on an issue, so one person cannot make the App comment
 * without limit. In memory, per process: a restart or another replica forgets it, which costs at
 * most one more answer each. Bounded, so a flood of commenters cannot grow it without limit.
 */
export class ReplyCooldown {
  private readonly answered = new Map<string, number>();

  constructor(
    private readonly ms = REPLY_COOLDOWN_MS,
    private readonly maxEntries = REPLY_COOLDOWN_ENTRIES,
  ) {}

  /** Whether `key` was answered less than the cooldown before `now` (ms since epoch). */
  coolingDown(key: string, now: number): boolean {
    const at = this.answered.get(key);
    return at !== undefined && now - at < this.ms;
  }

  /** Notes an answer to `key` at `now`. */
  answeredAt(key: string, now: number): void {
    // Re-inserted, so the map's order is answer order and the first key is the oldest answer.
    this.answered.delete(key);
    this.answered.set(key, now);
    for (const oldest of this.answered.keys()) {
      if (this.answered.size <= this.maxEntries) break;
      this.answered.delete(oldest);
    }
  }

  /** The key of one commenter on one issue of a repository (logins are case-insensitive). */
  static key(repository: string, issue: number, login: string): string {
    return `${repository}#${issue}@${login.toLowerCase()}`;
  }
}
