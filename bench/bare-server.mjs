// The baseline every HTTP figure is compared with: plain node:http doing the least a server can
// do for the same request (read and parse the same body; or answer the same bytes), no storage.
import { createServer } from 'node:http';

const [port, mode] = process.argv.slice(2);
let canned = '{}';

const server = createServer((req, res) => {
  if (req.url === '/health') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end('{"status":"ok"}');
    return;
  }
  if (req.method === 'PUT' && req.url === '/canned') {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      canned = Buffer.concat(chunks).toString('utf8');
      res.writeHead(204);
      res.end();
    });
    return;
  }
  if (mode === 'query') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(canned) });
    res.end(canned);
    return;
  }
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    const text = JSON.stringify({ stored: [{ id: body.id ?? 'x', seq: 1 }], duplicates: [] });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    res.end(text);
  });
});
server.listen(Number(port), '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
