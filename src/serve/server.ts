/**
 * `outlast serve`: serves a directory origin over HTTP the way S3 website hosting serves a bucket,
 * so a plain folder can stand beside the cloud origins behind the same health checks and DNS.
 *
 * Headers come from the live release's manifest, re-read whenever the beacon changes; files the
 * manifest does not name are still served (S3 serves every object in a bucket) with a guessed
 * type. Files are streamed from an open descriptor, so a deploy that replaces them mid-request
 * leaves the request on the old bytes and never crashes the server.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import { OutlastError } from '../errors.ts';
import { keyProblem } from '../storage/keys.ts';
import { componentLogger, type Logger } from '../util/log.ts';
import { createReleaseReader, type ReleaseReader, type ServedRelease } from './release-state.ts';
import { keyFromPath, objectPath, parseTarget, pathOfKey } from './request-path.ts';
import {
  closingOnError,
  type OpenObject,
  openObject,
  sendErrorDocument,
  sendObject,
  sendText,
} from './respond.ts';

export interface ServeOptions {
  /** The origin's folder, absolute (the fs driver's `path`). */
  dir: string;
  /** The address to listen on, e.g. `127.0.0.1`, `::` or `localhost`. */
  host: string;
  /** The port; 0 picks any free port (see `RunningServer.port`). */
  port: number;
  /** Key prefix inside `dir`, as the origin's store applies it (`site` is read as `site/`). An
   * invalid prefix rejects with `invalid_argument`. */
  prefix?: string;
  /** Defaults to the `serve` component logger. Each request is logged at debug. */
  logger?: Logger;
  /** The index document while no release is deployed (a release's manifest names its own). */
  indexDocument?: string;
  /** The error document while no release is deployed (a release's manifest names its own). */
  errorDocument?: string;
}

export interface RunningServer {
  /** `http://host:port`, IPv6 hosts in brackets. */
  url: string;
  /** The port actually bound. */
  port: number;
  /** Stops listening and closes every connection, idle keep-alive ones included. Idempotent. */
  close(): Promise<void>;
}

const DEFAULT_INDEX_DOCUMENT = 'index.html';
// Longer than browsers' usual gap between page loads, short enough not to hoard descriptors.
const KEEP_ALIVE_TIMEOUT_MS = 30_000;
const HEADERS_TIMEOUT_MS = 40_000;
const REQUEST_TIMEOUT_MS = 60_000;

interface Context {
  dir: string;
  prefix: string;
  logger: Logger;
  releases: ReleaseReader;
  options: ServeOptions;
}

/** Starts serving `options.dir`; resolves once listening. A bad prefix or a bind failure rejects
 * with an OutlastError (`permission_denied` or `invalid_argument`). */
export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const dir = resolve(options.dir);
  const prefix = normalizePrefix(options.prefix ?? '');
  const logger = options.logger ?? componentLogger('serve');
  const context: Context = {
    dir,
    prefix,
    logger,
    options,
    releases: createReleaseReader(dir, prefix, logger),
  };

  const server = createServer((req, res) => {
    const started = performance.now();
    res.on('close', () => {
      const ms = Math.round((performance.now() - started) * 10) / 10;
      logger.debug({ method: req.method, path: req.url, status: res.statusCode, ms }, 'serve request');
    });
    handle(context, req, res).catch((error: unknown) => failRequest(context, res, error));
  });
  server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT_MS;
  server.headersTimeout = HEADERS_TIMEOUT_MS;
  server.requestTimeout = REQUEST_TIMEOUT_MS;

  await new Promise<void>((resolveListen, rejectListen) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      const where = `${options.host}:${options.port}`;
      rejectListen(
        error.code === 'EACCES'
          ? new OutlastError('permission_denied', `cannot listen on ${where}`, {
              cause: error,
              source: 'serve',
            })
          : new OutlastError(
              'invalid_argument',
              `cannot listen on ${where}: ${error.code ?? error.message}`,
              {
                cause: error,
                source: 'serve',
                hint: error.code === 'EADDRINUSE' ? 'choose another port, or 0 for any free one' : undefined,
              },
            ),
      );
    });
    server.listen(options.port, options.host, () => resolveListen());
  });

  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  const host = isIP(options.host) === 6 ? `[${options.host}]` : options.host;
  logger.info({ dir, prefix, url: `http://${host}:${port}` }, 'serve directory');

  let closing: Promise<void> | undefined;
  return {
    url: `http://${host}:${port}`,
    port,
    close() {
      closing ??= new Promise<void>((resolveClose) => {
        server.close(() => resolveClose());
        // close() only stops accepting; keep-alive and in-flight sockets would hold it open.
        server.closeAllConnections();
      });
      return closing;
    },
  };
}

async function handle(context: Context, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const head = req.method === 'HEAD';
  if (req.method !== 'GET' && !head) {
    return sendText(res, 405, 'Method Not Allowed', head, { Allow: 'GET, HEAD' });
  }
  const target = parseTarget(req.url ?? '');
  if (target === undefined) return sendText(res, 400, 'Bad Request', head);

  const release = await context.releases.current();
  const indexDocument = release?.indexDocument ?? context.options.indexDocument ?? DEFAULT_INDEX_DOCUMENT;
  const parsed = keyFromPath(target.rawPath, indexDocument);
  if (!parsed.ok) {
    if (parsed.status === 400) return sendText(res, 400, `Bad Request: ${parsed.reason}`, head);
    return sendNotFound(context, release, req, res);
  }

  const object = await openKey(context, parsed.key);
  if (object) return closingOnError(object, sendObject(req, res, object, release));

  // S3 website hosting: `/docs` with no object `docs` but a `docs/index.html` redirects to `/docs/`.
  if (!parsed.directory) {
    const indexKey = `${parsed.key}/${indexDocument}`;
    const index = keyProblem(indexKey) === undefined ? await openKey(context, indexKey) : undefined;
    if (index) {
      await index.handle.close();
      const query = target.query === '' ? '' : `?${target.query}`;
      return sendText(res, 302, 'Found', head, { Location: `${pathOfKey(parsed.key)}/${query}` });
    }
  }
  return sendNotFound(context, release, req, res);
}

/** 404, with the error document's bytes and type when the site has one, as S3 does. */
async function sendNotFound(
  context: Context,
  release: ServedRelease | undefined,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const head = req.method === 'HEAD';
  const errorDocument = release ? release.errorDocument : context.options.errorDocument;
  const object =
    errorDocument !== undefined && keyProblem(errorDocument) === undefined
      ? await openKey(context, errorDocument)
      : undefined;
  if (object === undefined) return sendText(res, 404, 'Not Found', head);
  return closingOnError(object, sendErrorDocument(res, object, release, head));
}

/** The prefix as Store reads it: empty, or a valid key ending in `/` (`site` means `site/`). */
function normalizePrefix(prefix: string): string {
  if (prefix === '') return '';
  const withSlash = prefix.endsWith('/') ? prefix : `${prefix}/`;
  const problem = keyProblem(withSlash.slice(0, -1));
  if (problem !== undefined) {
    throw new OutlastError('invalid_argument', `invalid key prefix ${JSON.stringify(prefix)}: ${problem}`, {
      source: 'serve',
    });
  }
  return withSlash;
}

/** Opens the object `key` of the site (the prefix is added here), or `undefined` when missing. */
function openKey(context: Context, key: string): Promise<OpenObject | undefined> {
  return openObject(objectPath(context.dir, context.prefix + key), key);
}

function failRequest(context: Context, res: ServerResponse, error: unknown): void {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const denied = code === 'EACCES' || code === 'EPERM';
  if (!denied) context.logger.error({ err: error }, 'serve request failed');
  if (res.headersSent) {
    res.destroy();
    return;
  }
  for (const name of res.getHeaderNames()) res.removeHeader(name);
  sendText(
    res,
    denied ? 403 : 500,
    denied ? 'Forbidden' : 'Internal Server Error',
    res.req.method === 'HEAD',
  );
}
