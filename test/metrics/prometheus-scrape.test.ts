import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { SCRAPE_JOBS } from '../../src/metrics/metric-names.ts';
import { READ_TOKEN, startTestControlPlane, type TestControlPlane } from '../helpers/control-plane.ts';
import { freePort } from '../helpers/free-port.ts';

/** Debian's Prometheus; PROMETHEUS overrides the path. */
const PROMETHEUS = process.env.PROMETHEUS ?? '/usr/bin/prometheus';
const WAIT_MS = 30_000;
const T = 'acme/web';


let cp: TestControlPlane | null = null;
let prometheus: ChildProcess | null = null;
let dir = '';
let promLog = '';

afterAll(async () => {
  // Always stop Prometheus, whatever happened: SIGTERM, then SIGKILL if it lingers.
  if (prometheus && prometheus.exitCode === null && prometheus.signalCode === null) {
    const proc = prometheus;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGTERM');
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  await cp?.destroy();
  if (dir) await rm(dir, { recursive: true, force: true });
}, 30_000);

interface QueryResult {
  status: string;
  data: { resultType: string; result: Array<{ metric: Record<string, string>; value: [number, string] }> };
}

describe('a real Prometheus scraping /metrics', () => {
  it('stores leviathan_target_open_prs equal to what /v1/targets says', async () => {
    if (!existsSync(PROMETHEUS)) {
      throw new Error(
        `Prometheus not found at ${PROMETHEUS}. This test scrapes /metrics with the real Prometheus and must not be ` +
          'skipped: install it with `apt-get install -y prometheus` (Debian/Ubuntu; provides /usr/bin/prometheus), ' +
          'or point PROMETHEUS at a Prometheus 2.x binary.',
      );
    }

    cp = await startTestControlPlane();
    const seeded = await cp.api('/v1/events', {
      method: 'POST',
      json: [
        { type: 'autonomy.enabled', data: {} },
        { type: 'target.registered', target: T, data: { installation_id: 1 } },
        { type: 'task.selected', target: T, data: { task_id: 'docs', attempt_id: 'att-1' } },
        { type: 'attempt.succeeded', target: T, data: { attempt_id: 'att-1', task_id: 'docs', pr_number: 41, duration_seconds: 80 } },
        { type: 'pr.created', target: T, data: { number: 41, task_id: 'docs', attempt_id: 'att-1', title: 'Leviathan: docs' } },
        // Not Leviathan's PR: shown, not counted.
        { type: 'pr.observed', target: T, data: { number: 42 } },
      ],
    });
    expect(seeded.status).toBe(200);
    const targets = (await (await cp.api('/v1/targets', { token: READ_TOKEN })).json()) as { targets: Array<{ id: string; open_prs: unknown[] }> };
    const apiOpen = targets.targets.find((t) => t.id === T)!.open_prs.length;
    expect(apiOpen).toBe(1);

    dir = await mkdtemp(join(tmpdir(), 'leviathan-prometheus-'));
    const promPort = await freePort();
    const serverAddress = new URL(cp.url).host;
    const config = [
      'global:',
      '  scrape_interval: 1s',
      '  scrape_timeout: 1s',
      'scrape_configs:',
      `  - job_name: ${SCRAPE_JOBS.controlPlane.job}`,
      '    metrics_path: /metrics',
      '    static_configs:',
      `      - targets: ["${serverAddress}"]`,
      '',
    ].join('\n');
    await writeFile(join(dir, 'prometheus.yml'), config);
    prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stdout!.on('data', (c: Buffer) => (promLog += c.toString()));
    prometheus.stderr!.on('data', (c: Buffer) => (promLog += c.toString()));

    const query = async (q: string): Promise<QueryResult['data']['result']> => {
      const res = await fetch(`http://127.0.0.1:${promPort}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as QueryResult;
      expect(body.status).toBe('success');
      return body.data.result;
    };

    // Wait (bounded) for the first scrape to land.
    const deadline = Date.now() + WAIT_MS;
    let result: QueryResult['data']['result'] = [];
    for (;;) {
      if (prometheus.exitCode !== null) throw new Error(`Prometheus exited with ${prometheus.exitCode}:\n${promLog.slice(-3000)}`);
      try {
        result = await query(`leviathan_target_open_prs{target="${T}"}`);
        if (result.length > 0) break;
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error(`No leviathan_target_open_prs sample within ${WAIT_MS / 1000} s. Prometheus log:\n${promLog.slice(-3000)}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }

    expect(result).toHaveLength(1);
    expect(result[0]!.metric).toMatchObject({ __name__: 'leviathan_target_open_prs', job: 'leviathan-control-plane', target: T });
    expect(Number(result[0]!.value[1])).toBe(apiOpen);

    // The scrape itself was healthy, and the rest of the families arrived intact.
    const up = await query(`up{job="${SCRAPE_JOBS.controlPlane.job}"}`);
    expect(up.map((r) => r.value[1])).toEqual(['1']);
    const created = await query(`leviathan_prs_created_total{target="${T}"}`);
    expect(created.map((r) => r.value[1])).toEqual(['1']);
    const active = await query(`leviathan_target_status{target="${T}"} == 1`);
    expect(active.map((r) => r.metric.status)).toHaveLength(1);
    const p50 = await query(`histogram_quantile(0.5, leviathan_attempt_duration_seconds_bucket{target="${T}"})`);
    expect(Number(p50[0]!.value[1])).toBeGreaterThan(60);
    expect(Number(p50[0]!.value[1])).toBeLessThanOrEqual(120);
  }, 60_000);
});
