import type { Logger } from 'pino';

/**
 * Work that runs after the webhook has been answered. GitHub gives a delivery 10 s; contents API
 * fetches and reconciles can take longer, so handlers record what the payload says at once and
 * queue the rest here. `close()` waits for queued work so nothing writes to a closed store.
 */
export class BackgroundWork {
  private readonly running = new Set<Promise<void>>();
  private closed = false;

  constructor(private readonly logger: Logger) {}

  /** Runs `fn` without blocking the caller; failures are logged, never thrown. */
  run(name: string, fn: () => Promise<void>): void {
    if (this.closed) {
      this.logger.warn({ work: name }, 'GitHub background work skipped: shutting down');
      return;
    }
    const p: Promise<void> = Promise.resolve()
      .then(fn)
      .catch((err: unknown) => this.logger.warn({ err: describe(err), work: name }, 'GitHub background work failed'))
      .finally(() => this.running.delete(p));
    this.running.add(p);
  }

  private readonly tails = new Map<string, Promise<void>>();

  /**
   * Like {@link run}, but one at a time per key, in the order queued: two pushes in quick
   * succession must not have the older read land last.
   */
  runInOrder(key: string, name: string, fn: () => Promise<void>): void {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((r) => (release = r));
    this.tails.set(key, mine);
    this.run(name, async () => {
      try {
        await previous;
        await fn();
      } finally {
        release();
        if (this.tails.get(key) === mine) this.tails.delete(key);
      }
    });
  }

  /** Resolves when everything queued so far (and what it queued) has finished. */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.allSettled([...this.running]);
  }

  /** Refuses new work and waits for the running work. */
  async close(): Promise<void> {
    this.closed = true;
    await this.idle();
  }
}

/** Octokit errors carry the request (headers included); only status and message are logged. */
export function describe(err: unknown): { status?: number; message: string } {
  const status = (err as { status?: unknown })?.status;
  return { ...(typeof status === 'number' ? { status } : {}), message: err instanceof Error ? err.message : String(err) };
}
