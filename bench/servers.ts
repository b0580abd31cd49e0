import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TOKEN = 'bench-token-0123456789abcdef';
const ROOT = new URL('..', import.meta.url).pathname;

export interface Child {
  url: string;
  pid: number;
  proc: ChildProcess;
  /** ms from spawn until /health answered. */
  startMs: number;
  rssBytes(): Promise<number>;
  stop(): Promise<void>;
}

/** Waits until GET url answers 200, polling every 20 ms, for at most `timeoutMs`. */
async function waitHealthy(url: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const res = await fetch(url);
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function rssOf(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
  return kb * 1024;
}

async function launch(args: string[], env: Record<string, string>, port: number, healthPath: string): Promise<Child> {
  const t0 = performance.now();
  const proc = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'ignore', 'inherit'] });
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(`${url}${healthPath}`);
  const startMs = performance.now() - t0;
  return {
    url,
    pid: proc.pid!,
    proc,
    startMs,
    rssBytes: () => rssOf(proc.pid!),
    stop: () =>
      new Promise<void>((resolve) => {
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

let nextPort = 18_000 + Math.floor(Math.random() * 1000);

/**
 * `leviathan serve` in its own process, on the file store in `dataDir` (a fresh temp dir by
 * default), as the image runs it: the compiled dist/ (`npm run bench` builds it first).
 */
export async function startLeviathan(dataDir?: string): Promise<Child & { dataDir: string }> {
  const dir = dataDir ?? (await mkdtemp(join(tmpdir(), 'lv-bench-')));
  const port = nextPort++;
  const child = await launch(
    [join(ROOT, 'dist/cli/main.js'), 'serve'],
    { PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', LEVIATHAN_DATA_DIR: dir, LEVIATHAN_API_TOKEN: TOKEN },
    port,
    '/health',
  );
  return { ...child, dataDir: dir };
}

/** The baseline: a bare node:http server in its own process (bench/bare-server.mjs). */
export async function startBare(mode: 'ingest' | 'query'): Promise<Child> {
  const port = nextPort++;
  return launch([join(ROOT, 'bench/bare-server.mjs'), String(port), mode], {}, port, '/health');
}

/** The durability floor (bench/floor-server.mjs), appending to `file`. */
export async function startFloor(file: string): Promise<Child> {
  const port = nextPort++;
  return launch([join(ROOT, 'bench/floor-server.mjs'), String(port), file], {}, port, '/health');
}
