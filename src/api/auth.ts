import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiError } from './errors.ts';
import { verifyWorkerToken, workerActor, WORKER_TOKEN_PREFIX, type WorkerScope } from './worker-token.ts';

/** Who is calling, and what they may do. */
export interface Principal {
  /** Recorded as the event actor of everything they do, e.g. `token:3fa2c1` or `github:octocat`. */
  actor: string;
  canWrite: boolean;
  /**
   * Whether they may act on one target. Tokens with write scope may act on every target;
   * signed-in GitHub users need write, maintain or admin on the repository.
   */
  canActOn(target: string): Promise<boolean>;
  /** Set for a worker's attempt-scoped token: it may only post that attempt's events. */
  worker?: WorkerScope;
}

interface TokenEntry {
  digest: Buffer;
  /** What authenticate answers for this token (one object, not one per request). */
  principal: Principal;
}

/**
 * Bearer tokens from `LEVIATHAN_API_TOKEN`. Tokens are compared as SHA-256 digests with
 * timingSafeEqual, so neither the comparison nor the length leaks anything. Workers' attempt
 * tokens (`lvw_…`, see worker-token.ts) are accepted too, signed by one of the write tokens.
 */
export class TokenAuth {
  private readonly entries: TokenEntry[];
  private readonly writeSecrets: string[];

  constructor(
    spec: string,
    private readonly now: () => number = Date.now,
  ) {
    const raws = spec
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    // `READ:x` is a read-only token typed in capitals, never a write token whose secret starts
    // with "READ:"; `read:` alone is a token left out, said rather than silently unusable.
    const isReadOnly = (raw: string) => raw.slice(0, 5).toLowerCase() === 'read:';
    for (const raw of raws) {
      if (isReadOnly(raw) && raw.slice(5).trim() === '') throw new Error('LEVIATHAN_API_TOKEN has a "read:" entry without a token after it');
    }
    this.writeSecrets = raws.filter((raw) => !isReadOnly(raw));
    this.entries = raws.map((raw) => {
      const readOnly = isReadOnly(raw);
      const secret = readOnly ? raw.slice(5).trim() : raw;
      const digest = sha256(secret);
      const canWrite = !readOnly;
      const principal: Principal = Object.freeze({ actor: `token:${digest.toString('hex').slice(0, 8)}`, canWrite, canActOn: async () => canWrite });
      return { digest, principal };
    });
    if (this.entries.length === 0) throw new Error('LEVIATHAN_API_TOKEN contains no token');
  }

  /** The principal for an `Authorization` header, or null when it carries no valid token. */
  authenticate(header: string | undefined): Principal | null {
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
    if (!m) return null;
    if (m[1]!.startsWith(WORKER_TOKEN_PREFIX)) return this.worker(m[1]!);
    const digest = sha256(m[1]!);
    let found: TokenEntry | null = null;
    // Compare against every entry (no early exit) so timing does not reveal which one matched.
    for (const entry of this.entries) {
      if (timingSafeEqual(entry.digest, digest)) found = entry;
    }
    return found ? found.principal : null;
  }

  private worker(token: string): Principal | null {
    const scope = verifyWorkerToken(this.writeSecrets, token, this.now());
    if (!scope) return null;
    return { actor: workerActor(scope), canWrite: true, canActOn: async () => false, worker: scope };
  }
}

/** Throws 401/403 unless the principal exists (and may write, when asked). A worker token may do nothing here. */
export function requireScope(principal: Principal | null, need: 'read' | 'write'): Principal {
  if (!principal) throw new ApiError('unauthorized', 'Missing or invalid bearer token. Send "Authorization: Bearer <token>".');
  if (principal.worker) {
    throw new ApiError('forbidden', "A worker token may only post its own attempt's events (POST /v1/events) and ask for its own GitHub token.");
  }
  if (need === 'write' && !principal.canWrite) throw new ApiError('forbidden', 'This token is read-only.');
  return principal;
}

/**
 * Throws 401/403 unless the principal is the worker of `attemptId`, i.e. presents that attempt's
 * own token. Operators never pass: nothing they do needs a worker's credentials.
 */
export function requireWorkerOf(principal: Principal | null, attemptId: string): Principal & { worker: WorkerScope } {
  if (!principal) throw new ApiError('unauthorized', 'Missing, invalid or expired bearer token. Send "Authorization: Bearer <attempt token>".');
  if (!principal.worker) throw new ApiError('forbidden', `Only the worker of attempt ${attemptId}, with its attempt token, may do that.`);
  if (principal.worker.attempt_id !== attemptId) {
    throw new ApiError('forbidden', `A worker token for attempt ${principal.worker.attempt_id} may not act for attempt ${attemptId}.`);
  }
  return principal as Principal & { worker: WorkerScope };
}

/**
 * The token `serve` uses when none is configured: generated once, kept under the data dir with
 * mode 0600, so a fresh `npm start` is protected without any setup.
 */
export async function ensureGeneratedToken(dataDir: string): Promise<{ token: string; path: string; created: boolean }> {
  const path = join(dataDir, 'api-token');
  let empty = false;
  try {
    const token = (await readFile(path, 'utf8')).trim();
    if (token) {
      // A copy restored or edited by hand may have lost its mode; it is still the only key.
      await chmod(path, 0o600);
      return { token, path, created: false };
    }
    empty = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  await mkdir(dataDir, { recursive: true });
  const token = `lvt_${randomBytes(24).toString('base64url')}`;
  // Written whole to a temporary file, then linked into place: a crash mid-write leaves no empty
  // api-token behind (which every later start would have refused to overwrite), and a link, unlike
  // a rename, fails when the name exists, so of two `serve`s starting at once on a fresh data dir
  // one creates the token and the other reads it, rather than each keeping its own.
  const tmp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${token}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await chmod(tmp, 0o600);
    if (!empty) {
      try {
        await link(tmp, path);
        return { token, path, created: true };
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const winner = (await readFile(path, 'utf8')).trim();
      if (winner) return { token: winner, path, created: false };
    }
    // An empty api-token (a crash of an older, non-atomic write) is replaced whole.
    await rename(tmp, path);
    return { token, path, created: true };
  } finally {
    await rm(tmp, { force: true });
  }
}

function sha256(s: string): Buffer {
  return hash('sha256', s, 'buffer');
}
