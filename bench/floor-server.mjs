// The durability floor: the least a server can do and still answer a POST only once its event is
// on disk — the bare server's parse and answer, plus a SHA-256 hash chain, a group-committed
// write and fdatasync. No auth, validation, ids, indexes or projection. Whatever separates it from
// bare node:http is what durability itself costs on this machine; whatever separates `serve`
// from it is ours. Its shape is the fastest found: the group is written synchronously (the page
// cache), one fdatasync in flight covers everything written before it, answers follow the sync.
import { createHash } from 'node:crypto';
import { fdatasync, openSync, writeSync } from 'node:fs';
import { createServer } from 'node:http';

const [port, file] = process.argv.slice(2);
const fd = openSync(file, 'a');
let seq = 0;
let prev = '0'.repeat(64);
let queued = [];
let written = [];
let syncing = false;
let scheduled = false;

function writeQueued() {
  scheduled = false;
  const group = queued;
  queued = [];
  writeSync(fd, group.map((g) => g.line).join(''));
  written.push(...group);
  sync();
}

function sync() {
  if (syncing || written.length === 0) return;
  syncing = true;
  const covered = written;
  written = [];
  fdatasync(fd, (err) => {
    if (err) throw err;
    syncing = false;
    for (const g of covered) g.answer();
    sync();
  });
}

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const event = { seq: ++seq, id: String(seq), type: body.type, target: body.target, data: body.data, prev_hash: prev };
    const json = JSON.stringify(event);
    prev = createHash('sha256').update(json).digest('hex');
    queued.push({
      line: `${json.slice(0, -1)},"hash":"${prev}"}\n`,
      answer: () => {
        const text = JSON.stringify({ stored: [{ id: event.id, seq: event.seq }], duplicates: [] });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
        res.end(text);
      },
    });
    // Everything parsed in this turn of the event loop goes out in one write.
    if (!scheduled) {
      scheduled = true;
      setImmediate(writeQueued);
    }
  });
});
server.listen(Number(port), '127.0.0.1');
// Nothing to finish: every answered event is already on disk.
process.on('SIGTERM', () => process.exit(0));
