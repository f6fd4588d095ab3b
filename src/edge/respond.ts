/**
 * One visitor request at the edge: the path → a key of the current release's manifest → its
 * verified bytes (cache, else the origins in turn) → the answer, with the manifest's headers.
 *
 * Validators come from the release, not from whichever origin answered: the ETag is the
 * manifest's sha256 and Last-Modified the release's `deployedAt`, so a browser's conditional
 * request is right whatever origin filled the cache. HEAD, 304 and 412 need no bytes at all;
 * Range is served from the verified body. Works for HTTP/1.1 and HTTP/2 (compat API) alike.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { pipeline } from 'node:stream/promises';
import type { ManifestEntry } from '../release/types.ts';
import { chooseRange, evaluatePreconditions, type Validators } from '../serve/conditional.ts';
import { keyFromPath, parseTarget, pathOfKey } from '../serve/request-path.ts';
import { sendText, setContentHeaders } from '../serve/respond.ts';
import type { BlobCache, CachedBody } from './cache.ts';
import type { Fetcher } from './fetcher.ts';
import type { PassiveHealth } from './passive-health.ts';
import type { EdgeRelease, ReleaseView } from './release-view.ts';

/** The part of Node's request (HTTP/1.1 or HTTP/2 compat) the edge reads. */
export interface EdgeRequest {
  method?: string | undefined;
  url?: string | undefined;
  headers: IncomingHttpHeaders;
}

/** Node's response, HTTP/1.1 or HTTP/2 compat. */
export type EdgeResponse = ServerResponse | Http2ServerResponse;

/** What happened, for the access log, the stats and the metrics. */
export interface Served {
  status: number;
  key?: string;
  /** The origin that supplied the bytes, `cache`, or undefined when no bytes were needed or found. */
  source?: string;
  /** Origins tried before the one that answered (or all of them, when none did). */
  failovers: number;
  cacheHit: boolean;
  /** Every origin unusable: answered from the cache alone. */
  cacheOnly: boolean;
  bytes: number;
  release?: string;
}

export interface RespondContext {
  view: ReleaseView;
  fetcher: Fetcher;
  cache: BlobCache;
  health: PassiveHealth;
  requestTimeoutMs: number;
  /** Extra headers on every answer (HSTS). */
  extraHeaders: Record<string, string>;
}

export const EDGE_HEADER = 'X-Outlast-Edge';

export async function respond(context: RespondContext, req: EdgeRequest, res: EdgeResponse): Promise<Served> {
  const head = req.method === 'HEAD';
  const served: Served = { status: 200, failovers: 0, cacheHit: false, cacheOnly: false, bytes: 0 };
  for (const [name, value] of Object.entries(context.extraHeaders)) res.setHeader(name, value);
  if (req.method !== 'GET' && !head) {
    return text(res, served, 405, 'Method Not Allowed', head, { Allow: 'GET, HEAD' });
  }
  const release = context.view.current();
  if (release === undefined) {
    return text(res, served, 503, 'No release known yet: no origin has answered', head, {
      'Retry-After': '5',
    });
  }
  served.release = release.id;
  res.setHeader('X-Outlast-Release', release.id);
  const target = parseTarget(req.url ?? '/');
  if (target === undefined) return text(res, served, 400, 'Bad Request', head);
  const parsed = keyFromPath(target.rawPath, release.manifest.site.indexDocument);
  if (!parsed.ok) return notFound(context, release, req, res, served, parsed.status);
  const entry = release.files.get(parsed.key);
  served.key = parsed.key;
  if (entry === undefined) {
    // S3 website hosting: `/docs` with no object `docs` but a `docs/index.html` redirects to `/docs/`.
    if (!parsed.directory && release.files.has(`${parsed.key}/${release.manifest.site.indexDocument}`)) {
      const query = target.query === '' ? '' : `?${target.query}`;
      return text(res, served, 302, 'Found', head, { Location: `${pathOfKey(parsed.key)}/${query}` });
    }
    return notFound(context, release, req, res, served, 404);
  }
  const validators: Validators = { etag: `"${entry.sha256}"`, lastModified: release.lastModified };
  res.setHeader('ETag', validators.etag);
  res.setHeader('Last-Modified', release.lastModifiedHttp);
  res.setHeader('Accept-Ranges', 'bytes');
  if (entry.headers.cacheControl !== undefined) res.setHeader('Cache-Control', entry.headers.cacheControl);
  const precondition = evaluatePreconditions(req.headers, validators);
  if (precondition === 'not-modified') return empty(res, served, 304);
  if (precondition === 'failed') return text(res, served, 412, 'Precondition Failed', head);
  const range = chooseRange(req.headers, entry.size, validators);
  if (range.kind === 'unsatisfiable') {
    return text(res, served, 416, 'Range Not Satisfiable', head, {
      'Content-Range': `bytes */${entry.size}`,
    });
  }
  setContentHeaders(res, parsed.key, entry.headers);
  const start = range.kind === 'partial' ? range.start : 0;
  const end = range.kind === 'partial' ? range.end : entry.size - 1;
  if (range.kind === 'partial') res.setHeader('Content-Range', `bytes ${start}-${end}/${entry.size}`);
  const status = range.kind === 'partial' ? 206 : 200;
  if (head) {
    res.setHeader('Content-Length', end - start + 1);
    return empty(res, served, status);
  }
  const body = await bodyOf(context, parsed.key, entry, served);
  if (body === undefined) return unavailable(res, served, head);
  res.setHeader('Content-Length', end - start + 1);
  return send(context, res, served, status, body, start, end);
}

/** The verified body of an entry, noting where it came from; undefined when nothing had it. */
async function bodyOf(
  context: RespondContext,
  key: string,
  entry: ManifestEntry,
  served: Served,
): Promise<CachedBody | undefined> {
  const wanted = { key, sha256: entry.sha256, size: entry.size };
  const held = context.fetcher.cached(wanted);
  if (held !== undefined) {
    served.source = 'cache';
    served.cacheHit = true;
    served.cacheOnly = context.health.noneUsable();
    if (held.buffer !== undefined) return held;
    const buffer = await context.cache.warmMemory(held.sha256);
    return buffer === undefined ? held : { ...held, buffer };
  }
  const outcome = await context.fetcher.body(wanted, AbortSignal.timeout(context.requestTimeoutMs));
  served.failovers = outcome.attempts.filter(
    (attempt) => attempt.outcome !== 'ok' && attempt.outcome !== 'mismatch',
  ).length;
  served.source = outcome.source;
  served.cacheHit = outcome.source === 'cache';
  return outcome.body;
}

async function send(
  context: RespondContext,
  res: EdgeResponse,
  served: Served,
  status: number,
  body: CachedBody,
  start: number,
  end: number,
): Promise<Served> {
  if (served.cacheOnly) res.setHeader(EDGE_HEADER, 'cache-only; every origin is down');
  res.setHeader('X-Outlast-Source', served.source ?? 'cache');
  served.status = status;
  served.bytes = end - start + 1;
  res.statusCode = status;
  if (body.buffer !== undefined) {
    res.end(start === 0 && end === body.size - 1 ? body.buffer : body.buffer.subarray(start, end + 1));
    return served;
  }
  try {
    await pipeline(context.cache.stream(body.sha256, start, end), res);
  } catch {
    // The visitor went away, or the file went (evicted) mid-body: the headers are gone, so a cut
    // connection is the only honest answer left.
  }
  return served;
}

/** 404, with the release's error document when it has one. */
async function notFound(
  context: RespondContext,
  release: EdgeRelease,
  req: EdgeRequest,
  res: EdgeResponse,
  served: Served,
  status: 400 | 404,
): Promise<Served> {
  const head = req.method === 'HEAD';
  const errorKey = release.manifest.site.errorDocument;
  const entry = errorKey === undefined ? undefined : release.files.get(errorKey);
  if (status === 400 || errorKey === undefined || entry === undefined) {
    return text(res, served, status, status === 400 ? 'Bad Request' : 'Not Found', head);
  }
  setContentHeaders(res, errorKey, entry.headers);
  res.setHeader('Content-Length', entry.size);
  if (head) return empty(res, served, 404);
  const body = await bodyOf(context, errorKey, entry, served);
  if (body === undefined) return text(res, served, 404, 'Not Found', head);
  return send(context, res, served, 404, body, 0, entry.size - 1);
}

function unavailable(res: EdgeResponse, served: Served, head: boolean): Served {
  return text(
    res,
    served,
    502,
    'Bad Gateway: no origin supplied the bytes of this release, and the cache does not hold them',
    head,
    {
      'Retry-After': '5',
      'Cache-Control': 'no-store',
    },
  );
}

function empty(res: EdgeResponse, served: Served, status: number): Served {
  served.status = status;
  res.statusCode = status;
  res.end();
  return served;
}

/** A short plain-text answer (`outlast serve`'s), noted as served. */
function text(
  res: EdgeResponse,
  served: Served,
  status: number,
  message: string,
  head: boolean,
  headers: Record<string, string> = {},
): Served {
  served.status = status;
  sendText(res, status, message, head, headers);
  return served;
}
