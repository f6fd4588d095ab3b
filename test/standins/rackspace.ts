/**
 * A stand-in Rackspace Cloud Files on 127.0.0.1 around a real Swift cluster (test/servers/swift.ts),
 * written from Rackspace's identity v2.0 and Cloud Files CDN API references:
 *
 * - `POST /v2.0/tokens` with exactly `{"auth":{"RAX-KSKEY:apiKeyCredentials":{"username","apiKey"}}}`
 *   (JSON); a wrong user or key is a 401 `unauthorized`, a malformed body a 400 `badRequest`. The
 *   token handed out is a real tempauth token of the cluster, and the catalog's `cloudFiles`
 *   endpoint is the cluster's real storage URL, so every storage call stays real Swift. The
 *   catalog's `cloudFilesCDN` endpoint is this stand-in's CDN API (with a decoy in another region).
 * - The CDN API, `/v1/<account>/<container>[/<object>]`, with `X-Auth-Token` checked: HEAD (404 for
 *   a container never CDN-enabled), PUT (the storage container must exist; 201, then 202; `X-Ttl`
 *   900–31536000), POST (only X-Ttl, X-CDN-Enabled, X-Log-Retention; 404 when never enabled),
 *   DELETE of an object = a purge, 25 a day (then 498), `X-Purge-Email` logged.
 * - The CDN itself: each CDN-enabled container gets an HTTP and an HTTPS host (own ports,
 *   self-signed certificate `ca`) that serve it anonymously while it is enabled, by proxying to the
 *   real Swift with the account's token and `X-Web-Mode: true` (so staticweb applies the container's
 *   Web-Index / Web-Error, as Rackspace serves static websites through the CDN). Answers are cached
 *   like an edge for the TTL, by object name; a purge drops the object's entry.
 *
 * `violations` lists requests Rackspace would refuse for their shape: tests expect none.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type SwiftClusterInfo, swiftLogin } from '../servers/swift.ts';

export const PURGE_QUOTA = 25;
const TTL_MIN = 900;
const TTL_MAX = 31_536_000;
const TTL_DEFAULT = 259_200;
const REGION = 'DFW';
const CDN_POST_HEADERS = new Set(['x-ttl', 'x-cdn-enabled', 'x-log-retention']);
const PASSED_HEADERS = [
  'content-type',
  'content-length',
  'cache-control',
  'content-encoding',
  'content-language',
  'content-disposition',
  'etag',
  'last-modified',
];

export interface CdnContainer {
  enabled: boolean;
  ttl: number;
  logRetention: boolean;
  uri: string;
  sslUri: string;
  servers: Server[];
  /** Edge cache: object path (`/` + the decoded object name) → answer and when it expires. */
  cache: Map<string, { status: number; headers: Record<string, string>; body: Buffer; expires: number }>;
}

export interface Purge {
  container: string;
  object: string;
  email: string | undefined;
}

export interface RackspaceStandin {
  /** The identity URL for `auth.url` (…/v2.0). */
  identityUrl: string;
  /** The CDN management URL of the account, as the catalog lists it. */
  cdnUrl: string;
  /** The certificate the SSL CDN hosts present. */
  ca: Buffer;
  containers: Map<string, CdnContainer>;
  purges: Purge[];
  /** CDN API requests, `METHOD /path`. */
  cdnRequests: string[];
  /** Answers the CDN hosts gave: `status path`. */
  edgeRequests: string[];
  violations: string[];
  stop(): Promise<void>;
}

/** A CDN path as the object name it serves (segments decoded); the path itself when malformed. */
function objectPath(path: string): string {
  try {
    return path.split('/').map(decodeURIComponent).join('/');
  } catch {
    return path;
  }
}

export async function startRackspaceStandin(options: {
  swift: SwiftClusterInfo;
  username: string;
  apiKey: string;
  /** The day purges are counted in (default today, UTC); tests fix it so midnight cannot reset it. */
  day?: () => string;
}): Promise<RackspaceStandin> {
  const { swift } = options;
  const dir = mkdtempSync(join(tmpdir(), 'outlast-rackspace-'));
  const key = join(dir, 'cdn.key');
  const cert = join(dir, 'cdn.pem');
  execFileSync(
    'openssl',
    [
      ...'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days 2 -nodes'.split(' '),
      ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
      ...['-keyout', key, '-out', cert],
    ],
    { stdio: 'ignore' },
  );
  const tls = { key: readFileSync(key), cert: readFileSync(cert) };
  rmSync(dir, { recursive: true, force: true });

  const tokens = new Set<string>();
  let login = await swiftLogin(swift);
  const account = new URL(login.storageUrl).pathname.split('/')[2]!;
  const containers = new Map<string, CdnContainer>();
  const purges: Purge[] = [];
  const cdnRequests: string[] = [];
  const edgeRequests: string[] = [];
  const violations: string[] = [];
  const purgesByDay = new Map<string, number>();

  /** A storage request with the account's token; one fresh login on a 401. */
  async function storage(path: string, init: RequestInit = {}): Promise<Response> {
    for (let attempt = 1; ; attempt++) {
      const headers = new Headers(init.headers);
      headers.set('x-auth-token', login.token);
      const response = await fetch(`${login.storageUrl}${path}`, { ...init, headers, redirect: 'manual' });
      if (response.status !== 401 || attempt === 2) return response;
      await response.arrayBuffer();
      login = await swiftLogin(swift);
    }
  }

  const api = createServer((req, res) => {
    handleApi(req, res).catch((error: unknown) => {
      violations.push(`stand-in error: ${String(error)}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  const base = await listen(api);
  const cdnUrl = `${base}/v1/${account}`;

  async function handleApi(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = new URL(req.url ?? '/', base);
    if (url.pathname === '/v2.0/tokens') return identity(req, res, body);
    if (url.pathname.startsWith('/decoy/')) {
      violations.push(`${req.method} ${url.pathname}: the CDN endpoint of another region was used`);
      return send(res, 404);
    }
    cdnRequests.push(`${req.method} ${url.pathname}`);
    return cdnApi(req, res, url);
  }

  async function identity(req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<void> {
    if (req.method !== 'POST') return send(res, 405);
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) {
      violations.push(`tokens: content-type ${req.headers['content-type']}`);
      return json(res, 415, { unsupportedMediaType: { code: 415, message: 'Unsupported Media Type' } });
    }
    const bad = (why: string) => {
      violations.push(`tokens: ${why}`);
      return json(res, 400, { badRequest: { code: 400, message: 'Invalid json request body' } });
    };
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return bad('the body is not JSON');
    }
    const auth = (parsed as { auth?: unknown })?.auth;
    const credentials = (auth as Record<string, unknown> | undefined)?.['RAX-KSKEY:apiKeyCredentials'] as
      | Record<string, unknown>
      | undefined;
    if (
      !isPlain(parsed, ['auth']) ||
      !isPlain(auth, ['RAX-KSKEY:apiKeyCredentials']) ||
      !isPlain(credentials, ['username', 'apiKey']) ||
      typeof credentials?.username !== 'string' ||
      typeof credentials.apiKey !== 'string'
    ) {
      return bad(`not an API-key body: ${Object.keys((parsed as object) ?? {}).join(',')}`);
    }
    if (credentials.username !== options.username || credentials.apiKey !== options.apiKey) {
      return json(res, 401, { unauthorized: { code: 401, message: 'Username or api key is invalid.' } });
    }
    login = await swiftLogin(swift);
    tokens.add(login.token);
    const tenant = account;
    return json(res, 200, {
      access: {
        token: {
          id: login.token,
          expires: new Date(Date.now() + 3_600_000).toISOString(),
          tenant: { id: '123456', name: '123456' },
          'RAX-AUTH:authenticatedBy': ['APIKEY'],
        },
        serviceCatalog: [
          {
            name: 'cloudFilesCDN',
            type: 'rax:object-cdn',
            endpoints: [
              { region: 'ORD', tenantId: tenant, publicURL: `${base}/decoy/v1/${account}` },
              { region: REGION, tenantId: tenant, publicURL: cdnUrl },
            ],
          },
          {
            name: 'cloudFiles',
            type: 'object-store',
            endpoints: [
              {
                region: REGION,
                tenantId: tenant,
                publicURL: login.storageUrl,
                internalURL: login.storageUrl,
              },
            ],
          },
        ],
        user: { id: '1', name: options.username, 'RAX-AUTH:defaultRegion': REGION, roles: [] },
      },
    });
  }

  async function cdnApi(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const token = req.headers['x-auth-token'];
    if (typeof token !== 'string' || !tokens.has(token)) return send(res, 401);
    const [, version, acct, rawContainer, ...rest] = url.pathname.split('/');
    if (version !== 'v1' || acct !== account || !rawContainer) {
      violations.push(`${req.method} ${url.pathname}: not a container of the account`);
      return send(res, acct === account ? 400 : 403);
    }
    const name = decodeURIComponent(rawContainer);
    const object = rest.length > 0 ? rest.map(decodeURIComponent).join('/') : undefined;
    const entry = containers.get(name);
    const method = req.method ?? 'GET';

    if (object !== undefined) {
      if (method !== 'DELETE') return send(res, 405);
      if (!entry) return send(res, 404);
      const day = options.day?.() ?? new Date().toISOString().slice(0, 10);
      const used = purgesByDay.get(day) ?? 0;
      if (used >= PURGE_QUOTA) return send(res, 498, {}, 'Purge limit exceeded');
      purgesByDay.set(day, used + 1);
      const email = header(req, 'x-purge-email');
      purges.push({ container: name, object, email });
      entry.cache.delete(`/${object}`);
      return send(res, 204);
    }
    switch (method) {
      case 'HEAD':
        return entry ? send(res, 204, cdnHeaders(entry)) : send(res, 404);
      case 'PUT': {
        const exists = await storage(`/${encodeURIComponent(name)}`, { method: 'HEAD' });
        if (exists.status === 404) return send(res, 404);
        const ttl = ttlOf(req);
        if (ttl === 'bad') return send(res, 400, {}, 'Invalid X-TTL');
        const enabled = header(req, 'x-cdn-enabled');
        if (enabled !== undefined && !/^(true|false)$/i.test(enabled)) return send(res, 400);
        const created = !entry;
        const container = entry ?? (await newContainer(name));
        container.enabled = enabled === undefined ? true : enabled.toLowerCase() === 'true';
        if (ttl !== undefined) container.ttl = ttl;
        return send(res, created ? 201 : 202, cdnHeaders(container));
      }
      case 'POST': {
        if (!entry) return send(res, 404);
        for (const name of Object.keys(req.headers)) {
          if (name.startsWith('x-') && name !== 'x-auth-token' && !CDN_POST_HEADERS.has(name)) {
            violations.push(`POST ${url.pathname}: header ${name} cannot be set on the CDN`);
            return send(res, 400);
          }
        }
        const ttl = ttlOf(req);
        if (ttl === 'bad') return send(res, 400, {}, 'Invalid X-TTL');
        const enabled = header(req, 'x-cdn-enabled');
        if (enabled !== undefined) entry.enabled = enabled.toLowerCase() === 'true';
        if (ttl !== undefined) entry.ttl = ttl;
        const retention = header(req, 'x-log-retention');
        if (retention !== undefined) entry.logRetention = retention.toLowerCase() === 'true';
        return send(res, 204, cdnHeaders(entry));
      }
      default:
        return send(res, 405);
    }
  }

  function ttlOf(req: IncomingMessage): number | undefined | 'bad' {
    const value = header(req, 'x-ttl');
    if (value === undefined) return undefined;
    const ttl = Number(value);
    return Number.isInteger(ttl) && ttl >= TTL_MIN && ttl <= TTL_MAX ? ttl : 'bad';
  }

  async function newContainer(name: string): Promise<CdnContainer> {
    const entry: CdnContainer = {
      enabled: true,
      ttl: TTL_DEFAULT,
      logRetention: false,
      uri: '',
      sslUri: '',
      servers: [],
      cache: new Map(),
    };
    const edge = (req: IncomingMessage, res: ServerResponse) => {
      serveEdge(name, entry, req, res).catch((error: unknown) => {
        violations.push(`edge error: ${String(error)}`);
        if (!res.headersSent) res.writeHead(502);
        res.end();
      });
    };
    const plain = createServer(edge);
    const secure = createHttpsServer(tls, edge);
    entry.servers.push(plain, secure);
    entry.uri = await listen(plain);
    entry.sslUri = (await listen(secure)).replace(/^http:/, 'https:');
    containers.set(name, entry);
    return entry;
  }

  async function serveEdge(
    name: string,
    entry: CdnContainer,
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    await readBody(req);
    const path = new URL(req.url ?? '/', 'http://edge').pathname;
    const method = req.method ?? 'GET';
    if (method !== 'GET' && method !== 'HEAD') return send(res, 405);
    // Cached by object name (decoded), as a purge names it: `/a%20b.html` and `/a b.html` are one.
    const cacheKey = objectPath(path);
    const cached = entry.cache.get(cacheKey);
    let answer = cached && cached.expires > Date.now() ? cached : undefined;
    if (!answer) {
      // Uncached: fetched from Cloud Files only while the container is CDN-enabled.
      if (!entry.enabled) {
        edgeRequests.push(`404 ${path}`);
        return send(res, 404);
      }
      const response = await storage(`/${encodeURIComponent(name)}${path}`, {
        headers: { 'x-web-mode': 'true' },
      });
      const headers: Record<string, string> = {};
      for (const key of PASSED_HEADERS) {
        const value = response.headers.get(key);
        if (value !== null) headers[key] = value;
      }
      const location = response.headers.get('location');
      if (location) headers.location = new URL(location).pathname.replace(`/${encodeURIComponent(name)}`, '');
      answer = {
        status: response.status,
        headers,
        body: Buffer.from(await response.arrayBuffer()),
        expires: Date.now() + entry.ttl * 1000,
      };
      if (response.status === 200) entry.cache.set(cacheKey, answer);
    }
    edgeRequests.push(`${answer.status} ${path}`);
    res.writeHead(answer.status, answer.headers);
    res.end(method === 'HEAD' ? undefined : answer.body);
  }

  return {
    identityUrl: `${base}/v2.0`,
    cdnUrl,
    ca: tls.cert,
    containers,
    purges,
    cdnRequests,
    edgeRequests,
    violations,
    async stop() {
      const servers = [api, ...[...containers.values()].flatMap((entry) => entry.servers)];
      await Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              server.close(() => resolve());
              server.closeAllConnections();
            }),
        ),
      );
    },
  };
}

function cdnHeaders(entry: CdnContainer): Record<string, string> {
  return {
    'x-cdn-enabled': entry.enabled ? 'True' : 'False',
    'x-ttl': String(entry.ttl),
    'x-log-retention': entry.logRetention ? 'True' : 'False',
    'x-cdn-uri': entry.uri,
    'x-cdn-ssl-uri': entry.sslUri,
    'x-cdn-streaming-uri': `${entry.uri}/streaming`,
    'x-cdn-ios-uri': `${entry.uri}/ios`,
    'x-trans-id': `tx${randomBytes(8).toString('hex')}`,
  };
}

function isPlain(value: unknown, keys: string[]): boolean {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const own = Object.keys(value).sort();
  return own.length === keys.length && [...keys].sort().every((key, index) => own[index] === key);
}

function header(req: IncomingMessage, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function send(res: ServerResponse, status: number, headers: Record<string, string> = {}, body = ''): void {
  res.writeHead(status, { ...headers, 'content-length': String(Buffer.byteLength(body)) });
  res.end(body);
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': String(Buffer.byteLength(body)),
  });
  res.end(body);
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function listen(server: Server): Promise<string> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve(`http://127.0.0.1:${port}`);
    });
  });
}
