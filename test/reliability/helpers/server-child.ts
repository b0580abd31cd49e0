/**
 * A real control plane in its own process, for the crash trials: the parent drives load over
 * HTTP and SIGKILLs it. Prints `listening <url>` once it serves.
 *
 * Usage: node --import tsx test/reliability/helpers/server-child.ts <dataDir> [databaseUrl]
 */
import { startLeviathan } from './leviathan.ts';

const [dataDir, databaseUrl] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: server-child.ts <dataDir> [databaseUrl]');
const cp = await startLeviathan({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
process.stdout.write(`listening ${cp.url}\n`);
