/**
 * The watcher's HTTP server (127.0.0.1 by default):
 *   GET  /healthz           200 while the watcher runs
 *   GET  /status            JSON: origins, the current choice, providers, recent events
 *   GET  /metrics           Prometheus
 *   GET  /events            server-sent events: each new timeline event as it happens
 *   POST /actions/<action>  failback | pause | resume | force ({"origins": [...]}), with
 *                           `Authorization: Bearer <token>` (OUTLAST_TOKEN or the state folder's token)
 *   GET  /                  the dashboard (src/daemon/dashboard.ts): one self-contained page
 *   GET  /demo              only with demo controls (else 404): {"origins": [{"id", "running"}]}
 *   POST /demo/origins/<id>/stop|start   only with demo controls, with the token
 * Anything that changes state needs the token; without it the server is read-only.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { isOutlastError, OutlastError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { DASHBOARD_CSP, dashboardHtml } from './dashboard.ts';
import type { WatchAction, Watcher } from './watcher.ts';

/** Local origins the dashboard may stop and start (`outlast demo`, tests). */
export interface DemoControls {
  list(): { id: string; running: boolean }[];
  stop(id: string): Promise<void>;
  start(id: string): Promise<void>;
}

export interface StatusServer {
  url: string;
  close(): Promise<void>;
}

const MAX_BODY = 16 * 1024;

export async function startStatusServer(
  watcher: Watcher,
  options: {
    host: string;
    port: number;
    token: string;
    logger: Logger;
    page?: (req: IncomingMessage) => string | undefined;
    demo?: DemoControls;
  },
): Promise<StatusServer> {
  const server: Server = createServer((req, res) => {
    handle(watcher, options, req, res).catch((error) => {
      options.logger.error({ err: String(error) }, 'status server error');
      if (!res.headersSent) json(res, 500, { error: 'internal error' });
      else res.end();
    });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(
        new OutlastError(
          error.code === 'EADDRINUSE' ? 'invalid_argument' : 'unavailable',
          `cannot listen on ${options.host}:${options.port}: ${error.code ?? error.message}`,
          {
            hint:
              error.code === 'EADDRINUSE' ? 'another watcher may be running; or set watch.listen' : undefined,
          },
        ),
      ),
    );
    server.listen(options.port, options.host, resolve);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function handle(
  watcher: Watcher,
  options: { token: string; page?: (req: IncomingMessage) => string | undefined; demo?: DemoControls },
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const path = url.pathname;
  if (req.method === 'GET' || req.method === 'HEAD') {
    if (path === '/healthz') return text(res, 200, 'ok\n');
    if (path === '/status') return json(res, 200, watcher.status());
    if (path === '/metrics') {
      res.writeHead(200, { 'content-type': watcher.metrics.contentType, 'cache-control': 'no-store' });
      return void res.end(await watcher.metrics.text());
    }
    if (path === '/events') return streamEvents(watcher, req, res);
    const page = options.page?.(req);
    if (page !== undefined) {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      return void res.end(page);
    }
    if (path === '/') {
      res.writeHead(200, {
        'content-type': 'text/html; charset=utf-8',
        'cache-control': 'no-store',
        'content-security-policy': DASHBOARD_CSP,
        'x-content-type-options': 'nosniff',
        'referrer-policy': 'no-referrer',
      });
      return void res.end(dashboardHtml({ title: `outlast · ${watcher.config.dns?.name ?? 'watch'}` }));
    }
    if (path === '/demo') {
      if (!options.demo) return json(res, 404, { error: 'no demo controls on this watcher' });
      return json(res, 200, { origins: options.demo.list() });
    }
    return json(res, 404, { error: `no such page: ${path}` });
  }
  if (req.method === 'POST' && path.startsWith('/actions/')) {
    if (!authorized(req, options.token)) {
      return json(res, 401, { error: 'this action needs the token (Authorization: Bearer …)' });
    }
    const name = path.slice('/actions/'.length);
    let action: WatchAction;
    if (name === 'failback' || name === 'pause' || name === 'resume') action = { type: name };
    else if (name === 'force') {
      const body = (await readJson(req)) as { origins?: unknown };
      if (
        !Array.isArray(body.origins) ||
        !body.origins.every((id) => typeof id === 'string') ||
        body.origins.length === 0
      ) {
        return json(res, 400, { error: 'expected {"origins": ["id", …]}' });
      }
      action = { type: 'force', originIds: body.origins as string[] };
    } else return json(res, 404, { error: `no such action: ${name}` });
    try {
      watcher.act(action);
    } catch (error) {
      if (isOutlastError(error)) return json(res, 400, { error: error.message });
      throw error;
    }
    return json(res, 202, { ok: true, status: watcher.status() });
  }
  const demoAction = req.method === 'POST' ? /^\/demo\/origins\/([^/]+)\/(stop|start)$/.exec(path) : null;
  if (demoAction) {
    if (!options.demo) return json(res, 404, { error: 'no demo controls on this watcher' });
    if (!authorized(req, options.token)) {
      return json(res, 401, { error: 'this action needs the token (Authorization: Bearer …)' });
    }
    let id: string;
    try {
      id = decodeURIComponent(demoAction[1]!);
    } catch {
      return json(res, 400, { error: 'malformed origin id' });
    }
    if (!options.demo.list().some((origin) => origin.id === id)) {
      return json(res, 404, { error: `no such demo origin: ${id}` });
    }
    try {
      await (demoAction[2] === 'stop' ? options.demo.stop(id) : options.demo.start(id));
    } catch (error) {
      if (isOutlastError(error)) return json(res, 400, { error: error.message });
      throw error;
    }
    return json(res, 202, { ok: true, origins: options.demo.list() });
  }
  res.setHeader('allow', 'GET, HEAD, POST');
  return json(res, 405, { error: `method ${req.method} not allowed` });
}

function authorized(req: IncomingMessage, token: string): boolean {
  const header = req.headers.authorization ?? '';
  const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7).trim() : '');
  const wanted = Buffer.from(token);
  return given.length === wanted.length && timingSafeEqual(given, wanted);
}

function streamEvents(watcher: Watcher, req: IncomingMessage, res: ServerResponse): void {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  res.write(': outlast events\n\n');
  const unsubscribe = watcher.subscribe((event) =>
    res.write(`event: timeline\ndata: ${JSON.stringify(event)}\n\n`),
  );
  // A heartbeat keeps proxies from closing an idle stream and tells the page it is still live.
  const heartbeat = setInterval(() => res.write(': ping\n\n'), 15_000);
  req.on('close', () => {
    clearInterval(heartbeat);
    unsubscribe();
  });
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new OutlastError('invalid_argument', 'request body too large');
    chunks.push(chunk as Buffer);
  }
  try {
    return chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
  } catch {
    return {};
  }
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body, null, 2)}\n`);
}

function text(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' });
  res.end(body);
}
