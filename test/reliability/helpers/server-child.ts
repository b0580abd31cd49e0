/**
 * A real control plane in its own process, for the crash trials: the parent drives load over
 * HTTP and SIGKILLs it. Prints `listening <url>` once it serves.
 *
 * Usage: node --import tsx test/reliability/helpers/server-child.ts <dataDir> [databaseUrl]
 */
import nock from 'nock';
import { startLeviathan } from './leviathan.ts';

// As in every test process (test/helpers/setup.ts): loopback only. A webhook for a repository
// that is not a target queues a reconcile of its installation; here that call fails at once,
// on this machine, instead of reaching GitHub.
nock.disableNetConnect();
nock.enableNetConnect(/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/);

const [dataDir, databaseUrl] = process.argv.slice(2);
if (!dataDir) throw new Error('usage: server-child.ts <dataDir> [databaseUrl]');
const cp = await startLeviathan({ dataDir, ...(databaseUrl ? { databaseUrl } : {}) });
process.stdout.write(`listening ${cp.url}\n`);
