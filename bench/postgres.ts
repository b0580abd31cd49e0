/**
 * Ingest on PostgreSQL beside the file store: the same single-event and 1000-event-batch loads
 * against `leviathan serve` on each store, in the same run, the file store being the baseline.
 * Also the same batch load spread over two replicas on one database (the scale-out layout).
 *
 * The server is a throwaway cluster from test/helpers/postgres.ts (initdb + pg_ctl, as the
 * postgres OS user when run as root), or LEVIATHAN_TEST_DATABASE_URL when set. Run alone with
 * `npm run bench -- postgresIngest`.
 */
import { postLoop } from './post-loop.ts';
import type { BenchRow } from './row.ts';
import autocannon from 'autocannon';
import { rm } from 'node:fs/promises';
import { startPostgres } from '../test/helpers/postgres.ts';
import { startLeviathan, TOKEN, type Child } from './servers.ts';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);

const auth = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' };
const singleBody = JSON.stringify({ type: 'bench.single', target: 'bench/single', data: { n: 1, note: 'a typical small worker event' } });
const batchBody = JSON.stringify(
  Array.from({ length: 1000 }, (_, i) => ({ type: 'bench.batch', target: `bench/t${i % 50}`, subject: `attempt:b${i}`, data: { i, note: 'batched event' } })),
);

/**
 * startLeviathan passes the parent's environment through, so setting the URL around the call
 * selects PostgreSQL without a second launcher.
 */
async function startOnPostgres(url: string): Promise<Child & { dataDir: string }> {
  process.env.LEVIATHAN_DATABASE_URL = url;
  try {
    return await startLeviathan();
  } finally {
    delete process.env.LEVIATHAN_DATABASE_URL;
  }
}

async function stopAll(children: (Child & { dataDir: string })[]): Promise<void> {
  for (const c of children) {
    await c.stop();
    await rm(c.dataDir, { recursive: true, force: true });
  }
}

async function singleRate(urls: string[]): Promise<number> {
  const results = await Promise.all(
    urls.map((url) => autocannon({ url: `${url}/v1/events`, method: 'POST', headers: auth, body: singleBody, connections: 64 / urls.length, duration: SECONDS })),
  );
  for (const r of results) if (r.non2xx || r.errors) throw new Error(`single ingest: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return results.reduce((sum, r) => sum + r.requests.average, 0);
}

async function batchRate(urls: string[]): Promise<number> {
  const results = await Promise.all(
    urls.map((url) => postLoop({ url, path: '/v1/events', headers: auth, body: batchBody, connections: 4 / urls.length, seconds: SECONDS })),
  );
  for (const r of results) if (r.non2xx || r.errors) throw new Error(`batch ingest: ${r.non2xx} non-2xx, ${r.errors} errors`);
  return results.reduce((sum, r) => sum + (r.requests * 1000) / (r.elapsedMs / 1000), 0);
}

/** Single and batch ingest on PostgreSQL (one and two replicas), each beside the file store. */
export async function postgresIngest(report: (row: BenchRow) => void): Promise<void> {
  const pg = await startPostgres();
  try {
    const file = await startLeviathan();
    const fileSingle = await singleRate([file.url]);
    await stopAll([file]);
    const file2 = await startLeviathan();
    const fileBatch = await batchRate([file2.url]);
    await stopAll([file2]);

    const one = await startOnPostgres(await pg.createDatabase('bench_single'));
    const pgSingle = await singleRate([one.url]);
    await stopAll([one]);
    const two = await startOnPostgres(await pg.createDatabase('bench_batch'));
    const pgBatch = await batchRate([two.url]);
    await stopAll([two]);
    const db = await pg.createDatabase('bench_replicas');
    const replicas = [await startOnPostgres(db), await startOnPostgres(db)];
    const pgBatch2 = await batchRate(replicas.map((r) => r.url));
    const pgSingle2 = await singleRate(replicas.map((r) => r.url));
    await stopAll(replicas);

    const fileName = 'file store, same load';
    report({
      name: 'PostgreSQL: durable single-event POST /v1/events (c=64)',
      value: pgSingle,
      unit: 'req/s',
      baseline: fileSingle,
      baselineName: fileName,
      ratio: pgSingle / fileSingle,
      target: '≥ 0.5× file store',
      met: pgSingle >= 0.5 * fileSingle,
    });
    report({
      name: 'PostgreSQL: batch ingest, 1000 events per POST (c=4)',
      value: pgBatch,
      unit: 'events/s',
      baseline: fileBatch,
      baselineName: fileName,
      ratio: pgBatch / fileBatch,
      target: '≥ 50,000 events/s',
      met: pgBatch >= 50_000,
    });
    report({
      name: 'PostgreSQL, 2 replicas: single-event POST split over both (c=64)',
      value: pgSingle2,
      unit: 'req/s',
      baseline: fileSingle,
      baselineName: fileName,
      ratio: pgSingle2 / fileSingle,
      target: '≥ 0.5× file store',
      met: pgSingle2 >= 0.5 * fileSingle,
    });
    report({
      name: 'PostgreSQL, 2 replicas: batch ingest split over both (c=4)',
      value: pgBatch2,
      unit: 'events/s',
      baseline: fileBatch,
      baselineName: fileName,
      ratio: pgBatch2 / fileBatch,
      target: '≥ 50,000 events/s',
      met: pgBatch2 >= 50_000,
    });
  } finally {
    await pg.stop();
  }
}
