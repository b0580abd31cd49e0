import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Env } from '../env.ts';

/**
 * The token `tick`, `worker` and `ctl` present to the control plane: the first write token of
 * LEVIATHAN_API_TOKEN, else its first read-only one (enough for status), else the token `serve`
 * generated under the data dir.
 */
export async function clientToken(env: Env): Promise<string | null> {
  const entries = env.LEVIATHAN_API_TOKEN?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
  const write = entries.find((s) => !s.startsWith('read:'));
  if (write) return write;
  if (entries[0]) return entries[0].slice('read:'.length);
  try {
    return (await readFile(join(env.LEVIATHAN_DATA_DIR, 'api-token'), 'utf8')).trim() || null;
  } catch {
    return null;
  }
}
