/**
 * A tiny fake of the GitHub REST API over real HTTP on 127.0.0.1, for code running in a child
 * process (the local worker), which nock cannot reach. It knows just what Leviathan calls:
 * opening and listing pull requests, labelling them, reading `.leviathan/` files with ETags, and
 * (with `app`) minting installation tokens for the App, checking its JWT like GitHub does.
 * Every call is recorded as a readable string (`acme/widgets#1:pr_opened`); anything else is
 * answered 404 and recorded as `unexpected …`, so a test can assert there was nothing else.
 */
import { createHash, createPublicKey, verify } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakePull {
  number: number;
  repo: string;
  title: string;
  body: string;
  head: string;
  base: string;
  labels: string[];
  state: 'open' | 'closed';
}

export interface FakeGitHub {
  /** Base URL for GITHUB_API_URL. */
  url: string;
  /** Side effects as strings, in order. */
  calls: string[];
  pulls: FakePull[];
  /** `owner/repo` → path → content, served by the contents API. */
  files: Record<string, Record<string, string>>;
  close(): Promise<void>;
}

/** The App the fake mints installation tokens for. */
export interface FakeGitHubApp {
  id: string;
  /** The App's private key: JWTs are verified against its public half. */
  privateKey: string;
  /** Every mint answers this token, which then authorises requests like `token`. */
  installationToken: string;
}

/**
 * Starts the fake; requests must carry `token` (as `token …` or `Bearer …`), or the App's
 * installation token once minted. `POST /app/installations/{id}/access_tokens` needs a JWT
 * signed with the App's key and records `installation <id>:token_minted(<repositories>; <permissions>)`.
 */
export async function startFakeGitHub(opts: { token: string; app?: FakeGitHubApp }): Promise<FakeGitHub> {
  const calls: string[] = [];
  const pulls: FakePull[] = [];
  const files: FakeGitHub['files'] = {};
  let url = '';

  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => send(res, 500, { message: String(err) }));
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const u = new URL(req.url ?? '/', 'http://x');
    const auth = req.headers.authorization ?? '';
    const mint = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(u.pathname);
    if (mint && req.method === 'POST' && opts.app) {
      if (!validAppJwt(auth, opts.app)) {
        calls.push(`unauthorized ${req.method} ${u.pathname}`);
        return send(res, 401, { message: 'A JSON web token could not be decoded' });
      }
      const b = ((await readJson(req)) ?? {}) as { repositories?: string[]; permissions?: Record<string, string> };
      const perms = Object.entries(b.permissions ?? {}).map(([k, v]) => `${k}=${v}`).join(',');
      calls.push(`installation ${mint[1]}:token_minted(${(b.repositories ?? ['*']).join(',')}; ${perms || 'all'})`);
      return send(res, 201, {
        token: opts.app.installationToken,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        permissions: b.permissions ?? {},
        repository_selection: b.repositories ? 'selected' : 'all',
      });
    }
    const accepted = [opts.token, ...(opts.app ? [opts.app.installationToken] : [])];
    if (!accepted.some((t) => auth === `token ${t}` || auth === `Bearer ${t}`)) {
      calls.push(`unauthorized ${req.method} ${u.pathname}`);
      return send(res, 401, { message: 'Bad credentials' });
    }
    const body = await readJson(req);
    let m: RegExpExecArray | null;
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/pulls$/.exec(u.pathname))) {
      const repo = `${m[1]}/${m[2]}`;
      if (req.method === 'POST') {
        const b = body as { title: string; body: string; head: string; base: string };
        if (pulls.some((p) => p.repo === repo && p.head === b.head && p.state === 'open')) {
          calls.push(`${repo}:pr_already_exists(${b.head})`);
          return send(res, 422, { message: 'Validation Failed', errors: [{ message: `A pull request already exists for ${b.head}.` }] });
        }
        const pr: FakePull = { number: pulls.length + 1, repo, title: b.title, body: b.body, head: b.head, base: b.base, labels: [], state: 'open' };
        pulls.push(pr);
        calls.push(`${repo}#${pr.number}:pr_opened(${b.head} -> ${b.base})`);
        return send(res, 201, view(pr));
      }
      if (req.method === 'GET') {
        const head = u.searchParams.get('head')?.split(':')[1];
        return send(res, 200, pulls.filter((p) => p.repo === repo && p.state === 'open' && (!head || p.head === head)).map(view));
      }
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/labels$/.exec(u.pathname)) && req.method === 'POST') {
      const repo = `${m[1]}/${m[2]}`;
      const pr = pulls.find((p) => p.repo === repo && p.number === Number(m![3]));
      if (!pr) return send(res, 404, { message: 'Not Found' });
      const labels = (body as { labels: string[] }).labels;
      pr.labels.push(...labels);
      calls.push(`${repo}#${pr.number}:labeled(${labels.join(',')})`);
      return send(res, 200, pr.labels.map((name) => ({ name })));
    }
    if ((m = /^\/repos\/([^/]+)\/([^/]+)\/contents\/(.+)$/.exec(u.pathname)) && req.method === 'GET') {
      const repo = `${m[1]}/${m[2]}`;
      const path = decodeURIComponent(m[3]!);
      const text = files[repo]?.[path];
      if (text === undefined) {
        calls.push(`${repo}:contents(${path}):404`);
        return send(res, 404, { message: 'Not Found' });
      }
      const etag = `"${createHash('sha1').update(text).digest('hex')}"`;
      if (req.headers['if-none-match'] === etag) {
        calls.push(`${repo}:contents(${path}):304`);
        res.writeHead(304, { etag });
        res.end();
        return;
      }
      calls.push(`${repo}:contents(${path}):200`);
      res.writeHead(200, { 'content-type': 'application/vnd.github.raw+json; charset=utf-8', etag });
      res.end(text);
      return;
    }
    calls.push(`unexpected ${req.method} ${u.pathname}`);
    send(res, 404, { message: 'Not Found' });
  }

  function view(pr: FakePull) {
    return {
      number: pr.number,
      state: pr.state,
      title: pr.title,
      body: pr.body,
      html_url: `${url}/${pr.repo}/pull/${pr.number}`,
      head: { ref: pr.head },
      base: { ref: pr.base },
      labels: pr.labels.map((name) => ({ name })),
    };
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    pulls,
    files,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** An RS256 JWT issued by the App and signed with its key, still valid: what GitHub requires of `/app` calls. */
function validAppJwt(authorization: string, app: FakeGitHubApp): boolean {
  const m = /^bearer (\S+)$/i.exec(authorization);
  const [header, payload, signature] = m?.[1]?.split('.') ?? [];
  if (!header || !payload || !signature) return false;
  const ok = verify('RSA-SHA256', Buffer.from(`${header}.${payload}`), createPublicKey(app.privateKey), Buffer.from(signature, 'base64url'));
  const claims = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')) as { iss?: unknown; exp?: unknown };
  return ok && String(claims.iss) === app.id && Number(claims.exp) * 1000 > Date.now();
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as unknown) : null;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}
