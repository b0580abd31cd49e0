import { existsSync } from 'node:fs';
import { loadEnv } from '../env.ts';
import { VERSION } from '../version.ts';
import { asBulkLoad } from '../bulk-load.ts';

const USAGE = `leviathan ${VERSION}

Usage:
  leviathan serve [--insecure-dev-webhooks]   control plane: webhooks, /v1 API, /metrics, console
  leviathan tick                              one scheduler cycle, then exit
  leviathan worker                            run one attempt (LEVIATHAN_TASK_FILE)
  leviathan ctl <command> [args]              the API from a terminal (leviathan ctl help)
`;

/**
 * `./.env`, where Probot's manifest flow writes the App's credentials (README, "Register the
 * GitHub App"), for the operator's commands; a variable already in the environment wins. Never
 * for `worker`: its environment is exactly what the executor gave it, and its working directory
 * is one an agent can write to.
 */
function loadDotEnv(): void {
  if (existsSync('.env')) process.loadEnvFile('.env');
}

/** Thin dispatch; each command lives in its own module and is loaded only when used. */
async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === 'serve' || command === 'tick' || command === 'ctl') loadDotEnv();
  switch (command) {
    case 'serve':
      return asBulkLoad(async () => {
        const { serve } = await import('./serve.ts');
        return serve(loadEnv(), rest);
      });
    case 'tick': {
      const { tick } = await import('./tick.ts');
      return tick(loadEnv(), { processEnv: process.env });
    }
    case 'worker': {
      const { worker } = await import('./worker.ts');
      return worker(loadEnv(), process.env);
    }
    case 'ctl': {
      const { ctl } = await import('./ctl.ts');
      return ctl(loadEnv(), rest, { out: process.stdout, err: process.stderr });
    }
    case '--version':
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`Unknown command "${command}".\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code !== -1) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
