/**
 * A PostgreSQL server for tests: the one in LEVIATHAN_TEST_DATABASE_URL when set, otherwise a
 * throwaway cluster (initdb into a temp dir, listening on 127.0.0.1 and a free port only, trust
 * authentication for 127.0.0.1 only), stopped and deleted by `stop()`. Missing binaries fail the
 * run loudly with the install hint: a skipped database test would hide a broken store.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './free-port.ts';

const run = promisify(execFile);

export interface TestPostgres {
  /** Connection string of the server's `postgres` database (administration only). */
  url: string;
  /** Creates an empty database and returns its connection string. */
  createDatabase(name: string): Promise<string>;
  /** Drops the databases created here; stops and deletes a throwaway server. */
  stop(): Promise<void>;
}

const INSTALL_HINT =
  'PostgreSQL server binaries (initdb, pg_ctl) were not found. Install them (Debian/Ubuntu: `apt-get install postgresql`) ' +
  'or point LEVIATHAN_TEST_DATABASE_URL at a server where the user may CREATE DATABASE.';

/** Where initdb and pg_ctl live: $PATH first, then Debian's versioned directories, newest first. */
function findBinDir(): string {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (dir && existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const dir = join(root, v, 'bin');
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) return dir;
  }
  throw new Error(INSTALL_HINT);
}


const isRoot = process.getuid?.() === 0;

/** initdb and postgres refuse to run as root; as root, run them as the `postgres` OS user. */
function asServerUser(bin: string, args: string[]): Promise<{ stdout: string; stderr: string }> {
  return isRoot ? run('runuser', ['-u', 'postgres', '--', bin, ...args]) : run(bin, args);
}

async function serverUserIds(): Promise<{ uid: number; gid: number }> {
  const { stdout } = await run('id', ['-u', 'postgres']);
  const { stdout: g } = await run('id', ['-g', 'postgres']);
  return { uid: Number(stdout.trim()), gid: Number(g.trim()) };
}

function withDatabase(url: string, name: string): string {
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

async function admin<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

function databaseFactory(url: string): { create: (name: string) => Promise<string>; dropAll: () => Promise<void> } {
  const created: string[] = [];
  let counter = 0;
  return {
    async create(name) {
      // Unique per process, so reruns against a shared server never collide with leftovers.
      const db = `${name.toLowerCase().replace(/[^a-z0-9_]/g, '_')}_${process.pid}_${++counter}`.slice(0, 63);
      await admin(url, (c) => c.query(`CREATE DATABASE "${db}" TEMPLATE template0`));
      created.push(db);
      return withDatabase(url, db);
    },
    async dropAll() {
      await admin(url, async (c) => {
        for (const db of created.splice(0)) await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
      });
    },
  };
}

/** Starts (or connects to) the test server; call `stop()` in afterAll. */
export async function startPostgres(): Promise<TestPostgres> {
  const external = process.env.LEVIATHAN_TEST_DATABASE_URL;
  if (external) {
    const dbs = databaseFactory(external);
    return { url: external, createDatabase: dbs.create, stop: dbs.dropAll };
  }

  const bin = findBinDir();
  const dir = await mkdtemp(join(tmpdir(), 'leviathan-pg-'));
  const data = join(dir, 'data');
  const sockets = join(dir, 'sock');
  await mkdir(sockets);
  if (isRoot) {
    const { uid, gid } = await serverUserIds();
    await chown(dir, uid, gid);
    await chown(sockets, uid, gid);
  }
  const port = await freePort();
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const stopServer = async () => {
    await asServerUser(join(bin, 'pg_ctl'), ['-D', data, '-m', 'immediate', '-w', 'stop']).catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await asServerUser(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C.UTF-8', '--no-sync']);
    // Only the unix socket in the temp dir and 127.0.0.1; nothing else may connect.
    await writeFile(join(data, 'pg_hba.conf'), 'local all all trust\nhost all all 127.0.0.1/32 trust\n');
    await asServerUser(join(bin, 'pg_ctl'), [
      '-D', data,
      '-l', join(dir, 'server.log'),
      '-o', `-c listen_addresses=127.0.0.1 -p ${port} -k ${sockets} -c max_connections=200`,
      '-w', '-t', '60',
      'start',
    ]);
  } catch (err) {
    const detail = (err as { stderr?: string }).stderr ?? String(err);
    await stopServer();
    throw new Error(`could not start a throwaway PostgreSQL (${bin}): ${detail}\n${INSTALL_HINT}`);
  }
  const dbs = databaseFactory(url);
  return {
    url,
    createDatabase: dbs.create,
    async stop() {
      await dbs.dropAll().catch(() => undefined);
      await stopServer();
    },
  };
}
