import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { envSchema, type Env } from '../../src/env.ts';
import { startControlPlane, type ControlPlane, type ControlPlaneOverrides } from '../../src/main.ts';

export const WRITE_TOKEN = 'test-write-token-0123456789';
export const READ_TOKEN = 'test-read-token-0123456789';

export interface TestControlPlane extends ControlPlane {
  dataDir: string;
  env: Env;
  /** fetch against the server with the write token (or `token: null` for none). */
  api(path: string, init?: RequestInit & { token?: string | null; json?: unknown }): Promise<Response>;
  /** Stops the server and deletes its data dir. */
  destroy(): Promise<void>;
}

/**
 * A real control plane on 127.0.0.1 and an ephemeral port, on the file store in a fresh temp dir.
 * Pass `dataDir` to reopen an existing one (restart tests).
 */
export async function startTestControlPlane(
  opts: { env?: Record<string, string>; dataDir?: string; overrides?: ControlPlaneOverrides } = {},
): Promise<TestControlPlane> {
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), 'leviathan-test-')));
  const env = envSchema.parse({
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: 'silent',
    LEVIATHAN_DATA_DIR: dataDir,
    LEVIATHAN_API_TOKEN: `${WRITE_TOKEN},read:${READ_TOKEN}`,
    ...opts.env,
  });
  // No in-process scheduler loop unless a test asks: a cycle at a 5-minute boundary would add events mid-test.
  // TEST_LOG_LEVEL=error (say) shows the server's own log when a test meets a 5xx.
  const cp = await startControlPlane(env, { logger: pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' }), localSchedule: false, ...opts.overrides });
  const api: TestControlPlane['api'] = (path, init = {}) => {
    const { token = WRITE_TOKEN, json, headers, ...rest } = init;
    const h = new Headers(headers);
    if (token) h.set('authorization', `Bearer ${token}`);
    if (json !== undefined) h.set('content-type', 'application/json');
    return fetch(`${cp.url}${path}`, { ...rest, headers: h, ...(json !== undefined ? { body: JSON.stringify(json) } : {}) });
  };
  return {
    ...cp,
    dataDir,
    env,
    api,
    async destroy() {
      await cp.close();
      if (!opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
