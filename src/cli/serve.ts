import type { Env } from '../env.ts';
import { startControlPlane } from '../main.ts';

/** `leviathan serve`: runs until SIGTERM/SIGINT, then closes the store cleanly. Returns -1 (keep running). */
export async function serve(env: Env, args: string[]): Promise<number> {
  const cp = await startControlPlane(env, { insecureDevWebhooks: args.includes('--insecure-dev-webhooks') });
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    cp.logger.info({ signal }, 'Shutting down');
    cp.close().then(
      () => process.exit(0),
      (err: unknown) => {
        cp.logger.error({ err }, 'Shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  return -1;
}
