import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseIsoTime, readBody, sendError, sendJson } from '../../src/api/http.ts';

let server: Server | null = null;

afterEach(async () => {
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  server = null;
});

/** A server answering the body's length (read with a 1000-byte limit), or the error readBody threw. */
async function start(read: (req: IncomingMessage) => Promise<Buffer> = (req) => readBody(req, 1000)) {
  const errors: unknown[] = [];
  server = createServer(async (req, res) => {
    try {
      const body = await read(req);
      sendJson(res, 200, { n: body.length, text: body.toString('utf8') });
    } catch (err) {
      errors.push(err);
      sendError(res, err);
    }
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
  return { port: (server.address() as AddressInfo).port, errors };
}

/** Writes raw request bytes in pieces, a little apart; resolves with everything read once the socket closes. */
function raw(port: number, pieces: string[], { endAfterMs = 100 } = {}): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let out = '';
    s.on('data', (d) => (out += d.toString('utf8')));
    s.on('error', () => undefined);
    s.on('close', () => resolve(out));
    let i = 0;
    const next = () => {
      if (s.destroyed) return;
      if (i < pieces.length) {
        s.write(pieces[i++]!);
        setTimeout(next, 10);
      } else {
        setTimeout(() => {
          s.end();
          // A server that keeps the connection open once it answered: stop listening anyway.
          setTimeout(() => s.destroy(), 500);
        }, endAfterMs);
      }
    };
    next();
  });
}

const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;
const bodies = (out: string) => [...out.matchAll(/\r\n\r\n(\{[^\r]*?\})(?=HTTP|$)/g)].map((m) => JSON.parse(m[1]!) as Record<string, unknown>);

describe('readBody', () => {
  it('reads whole bodies, sized or chunked, several on one connection', async () => {
    const { port } = await start();
    const out = await raw(port, [
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc',
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      chunk('xy'),
      chunk('é'),
      '0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n',
    ]);
    expect(bodies(out)).toEqual([
      { n: 3, text: 'abc' },
      { n: 4, text: 'xyé' },
      { n: 0, text: '' },
    ]);
  });

  it('refuses a declared length over the limit before reading, keeping the connection', async () => {
    const { port } = await start();
    const out = await raw(port, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n', 'a'.repeat(2000)]);
    expect(out).toMatch(/^HTTP\/1\.1 413 /);
    expect(bodies(out)).toEqual([{ error: { code: 'payload_too_large', message: 'Body is 2000 bytes; the limit is 1000.' } }]);
  });

  it('refuses a chunked body as soon as it passes the limit, still answering 413', async () => {
    const { port, errors } = await start();
    const out = await raw(port, [
      'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n',
      chunk('a'.repeat(600)),
      chunk('b'.repeat(600)),
      chunk('c'.repeat(600)),
      '0\r\n\r\n',
    ]);
    expect(out).toMatch(/^HTTP\/1\.1 413 /);
    expect(bodies(out)).toEqual([{ error: { code: 'payload_too_large', message: 'Body exceeds the limit of 1000 bytes.' } }]);
    expect(errors).toHaveLength(1);
  });

  it('rejects when the client goes away mid-body', async () => {
    const { port, errors } = await start();
    await new Promise<void>((resolve) => {
      const s = connect(port, '127.0.0.1', () => {
        s.write('POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nabc');
        setTimeout(() => {
          s.destroy();
          setTimeout(resolve, 100);
        }, 50);
      });
    });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(Error);
  });

  it('answers an empty body for a request already read', async () => {
    const { port } = await start(async (req) => {
      const first = await readBody(req, 1000);
      const again = await readBody(req, 1000);
      return Buffer.from(`${first.toString('utf8')}|${again.length}`);
    });
    const out = await raw(port, ['POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc']);
    expect(bodies(out)).toEqual([{ n: 5, text: 'abc|0' }]);
  });
});

describe('ISO 8601 times in query parameters', () => {
  it('reads a time without a zone as UTC, whatever the server zone is', () => {
    const tz = process.env.TZ;
    process.env.TZ = 'America/New_York';
    try {
      expect(parseIsoTime('since', '2026-01-01T12:00')).toBe('2026-01-01T12:00:00.000Z');
      expect(parseIsoTime('since', '2026-01-01')).toBe('2026-01-01T00:00:00.000Z');
      expect(parseIsoTime('since', '2026-01-01T12:00:00+02:00')).toBe('2026-01-01T10:00:00.000Z');
    } finally {
      if (tz === undefined) delete process.env.TZ;
      else process.env.TZ = tz;
    }
  });

  it.each(['2026-02-30T00:00:00Z', '2026-13-01', '2025-02-29', 'Tuesday 1', '1'])('refuses %s', (value) => {
    expect(() => parseIsoTime('since', value)).toThrow(/since must be an ISO 8601 time/);
  });
});
