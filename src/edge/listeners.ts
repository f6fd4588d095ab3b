/**
 * The edge's sockets. Without `tls`: one HTTP/1.1 listener serving the site. With `tls`: an HTTPS
 * listener speaking HTTP/2 and HTTP/1.1 (ALPN), its certificate swapped in place on every reload
 * or renewal, and, on `httpListen`, a plain listener that answers ACME's HTTP-01 challenges and
 * either redirects to HTTPS (`redirectHttp`) or serves the site too. And the admin listener:
 * `GET /status` (JSON) and `GET /metrics` (Prometheus), apart from the site's names.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import {
  createSecureServer,
  type Http2SecureServer,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type ServerHttp2Session,
} from 'node:http2';
import { isIP } from 'node:net';
import { OutlastError } from '../errors.ts';
import { parseListen } from '../util/listen.ts';
import type { Logger } from '../util/log.ts';
import type { AccessLog } from './access-log.ts';
import type { EdgeConfig } from './options.ts';
import { type RespondContext, respond } from './respond.ts';
import type { EdgeStats } from './stats.ts';
import type { TlsManager } from './tls.ts';
import type { EdgeStatus, EdgeTlsStatus } from './types.ts';

/** What the listeners need of the certificate side. */
export type CertificateSource = Pick<TlsManager, 'start' | 'current' | 'onChange' | 'challenge' | 'status'>;

export interface ListenerOptions {
  edge: EdgeConfig;
  respond: RespondContext;
  stats: EdgeStats;
  accessLog: AccessLog | undefined;
  status: () => EdgeStatus;
  logger: Logger;
  /** When `edge.tls` is set: started here once the HTTP listener answers challenges. */
  certificates?: CertificateSource;
}

export interface Listeners {
  urls: string[];
  adminUrl: string;
  tlsStatus?: () => EdgeTlsStatus;
  close(): Promise<void>;
}

const KEEP_ALIVE_TIMEOUT_MS = 30_000;
const CHALLENGE_PREFIX = '/.well-known/acme-challenge/';

type AnyServer = Server | Http2SecureServer;

export async function startListeners(options: ListenerOptions): Promise<Listeners> {
  const { edge, certificates } = options;
  const servers: AnyServer[] = [];
  const cleanups: (() => void)[] = [];
  const urls: string[] = [];
  try {
    if (edge.tls !== undefined) {
      if (certificates === undefined)
        throw new OutlastError('internal', 'edge: TLS is configured but no certificate source was given');
      // The plain listener first: ACME's HTTP-01 challenges reach it while the first certificate is issued.
      let httpsPort: number | undefined;
      if (edge.httpListen !== undefined) {
        const site = siteHandler(options, options.respond);
        const plain = createServer((req, res) => {
          if (answerChallenge(req, res, certificates)) return;
          if (edge.tls?.redirectHttp && httpsPort !== undefined) return redirect(req, res, httpsPort);
          site(req, res);
        });
        plain.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
        const bound = await listen(plain, edge.httpListen, 'edge.httpListen');
        servers.push(plain);
        urls.push(`http://${bound}`);
      }
      await certificates.start();
      const hsts = hstsHeader(edge.tls.hsts);
      const extraHeaders: Record<string, string> =
        hsts === undefined ? {} : { 'Strict-Transport-Security': hsts };
      const context: RespondContext = { ...options.respond, extraHeaders };
      const secure = createSecureServer(
        { allowHTTP1: true, ...certificates.current() },
        siteHandler(options, context),
      );
      cleanups.push(certificates.onChange(() => secure.setSecureContext(certificates.current())));
      // An HTTP/2 server has no closeAllConnections: its sessions are closed by hand at close.
      const sessions = new Set<ServerHttp2Session>();
      secure.on('session', (session) => {
        sessions.add(session);
        session.once('close', () => sessions.delete(session));
      });
      cleanups.push(() => {
        for (const session of sessions) session.destroy();
      });
      const bound = await listen(secure, edge.listen, 'edge');
      servers.push(secure);
      httpsPort = Number(/:(\d+)$/.exec(bound)![1]);
      urls.unshift(`https://${bound}`);
    } else {
      const plain = createServer(siteHandler(options, options.respond));
      plain.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
      urls.push(`http://${await listen(plain, edge.listen, 'edge')}`);
      servers.push(plain);
    }
    const admin = createServer((req, res) => void adminHandler(options, req, res));
    const adminUrl = `http://${await listen(admin, edge.admin, 'edge.admin')}`;
    servers.push(admin);
    options.logger.info({ urls, admin: adminUrl }, 'edge: listening');
    return {
      urls,
      adminUrl,
      ...(certificates === undefined ? {} : { tlsStatus: () => certificates.status() }),
      close: () => closeAll(servers, cleanups),
    };
  } catch (error) {
    await closeAll(servers, cleanups);
    throw error;
  }
}

function siteHandler(options: ListenerOptions, context: RespondContext) {
  return (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    const started = performance.now();
    respond(context, req, res).then(
      (served) => {
        options.stats.request(served);
        options.accessLog?.add({
          method: req.method,
          path: req.url,
          served,
          ms: performance.now() - started,
          protocol: req.httpVersion === '2.0' ? 'h2' : 'http/1.1',
        });
      },
      (error: unknown) => {
        options.logger.error({ err: error, path: req.url }, 'edge: request failed');
        options.stats.request({ status: 500, failovers: 0, cacheHit: false, cacheOnly: false, bytes: 0 });
        if (!res.headersSent) {
          res.statusCode = 500;
          res.end();
        } else {
          res.destroy();
        }
      },
    );
  };
}

function answerChallenge(
  req: IncomingMessage,
  res: ServerResponse,
  certificates: CertificateSource,
): boolean {
  const url = req.url ?? '';
  if (!url.startsWith(CHALLENGE_PREFIX)) return false;
  const answer = certificates.challenge(url.slice(CHALLENGE_PREFIX.length));
  res.writeHead(answer === undefined ? 404 : 200, { 'Content-Type': 'text/plain' });
  res.end(answer ?? 'no such challenge\n');
  return true;
}

function redirect(req: IncomingMessage, res: ServerResponse, httpsPort: number): void {
  const host = (req.headers.host ?? '').replace(/:\d+$/, '');
  if (host === '' || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end('400 use HTTPS\n');
    return;
  }
  const port = httpsPort === 443 ? '' : `:${httpsPort}`;
  res.writeHead(308, { Location: `https://${host}${port}${req.url ?? '/'}`, 'Content-Length': 0 });
  res.end();
}

async function adminHandler(
  options: ListenerOptions,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  try {
    if (req.method === 'GET' && path === '/status') {
      const body = JSON.stringify(options.status(), null, 2);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(body);
    } else if (req.method === 'GET' && path === '/metrics') {
      const body = await options.stats.registry.metrics();
      res.writeHead(200, { 'Content-Type': options.stats.registry.contentType });
      res.end(body);
    } else {
      res.writeHead(404, { 'Content-Type': 'text/plain' });
      res.end('404 the edge admin serves /status and /metrics\n');
    }
  } catch (error) {
    options.logger.error({ err: error }, 'edge admin: request failed');
    if (!res.headersSent) res.writeHead(500).end();
  }
}

function hstsHeader(hsts: NonNullable<EdgeConfig['tls']>['hsts']): string | undefined {
  if (hsts === undefined) return undefined;
  return [
    `max-age=${hsts.maxAge}`,
    hsts.includeSubDomains ? 'includeSubDomains' : '',
    hsts.preload ? 'preload' : '',
  ]
    .filter((part) => part !== '')
    .join('; ');
}

/** Listens on HOST:PORT; resolves with `host:port` as bound (port 0 picks one). */
function listen(server: AnyServer, where: string, what: string): Promise<string> {
  const { host, port } = parseListen(where, what);
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new OutlastError(
          error.code === 'EACCES' ? 'permission_denied' : 'invalid_argument',
          `${what}: cannot listen on ${where}: ${error.code ?? error.message}`,
          {
            cause: error,
            source: 'edge',
            hint: error.code === 'EADDRINUSE' ? 'choose another port' : undefined,
          },
        ),
      ),
    );
    server.listen(port, host, () => {
      const address = server.address();
      const bound = typeof address === 'object' && address !== null ? address.port : port;
      resolve(`${isIP(host) === 6 ? `[${host}]` : host}:${bound}`);
    });
  });
}

async function closeAll(servers: AnyServer[], cleanups: (() => void)[]): Promise<void> {
  const closed = servers.map(
    (server) =>
      new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
        if ('closeAllConnections' in server) server.closeAllConnections();
      }),
  );
  for (const cleanup of cleanups) cleanup();
  await Promise.all(closed);
}
