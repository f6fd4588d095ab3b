/**
 * The HTTP plumbing of the `swift` driver: one undici agent with keep-alive, URL building for
 * Swift's path-style API, the mapping of statuses and network errors onto outlast's error codes,
 * and `SwiftClient`, which sends a request with the current token and, on a 401, logs in again
 * and sends it once more (the one retry a driver makes itself; Store retries everything else).
 *
 * Messages name the operation, the container and the key, never a token or a key/password.
 */
import type { Readable } from 'node:stream';
import { Agent, type Dispatcher, request } from 'undici';
import { type ErrorCode, messageOf, OutlastError, type OutlastErrorOptions } from '../../errors.ts';
import { cancelledError, isAbortError } from '../abort.ts';

/** A logged-in session (swift-auth.ts makes them): what every request carries. */
export interface SwiftSession {
  token: string;
  /** The account's URL, e.g. `https://storage101.dfw1.clouddrive.com/v1/MossoCloudFS_…`, no trailing `/`. */
  storageUrl: string;
  /** Local time (ms) from which the token is renewed before use; absent when no expiry is known. */
  renewAt?: number;
}

/** What the requests need of the login (swift-auth.ts implements it). */
export interface SwiftAuth {
  /** A usable session: the cached one while it is fresh, else one login shared by all callers. */
  session(): Promise<SwiftSession>;
  /** Forgets `stale` (its token was refused), so the next `session()` logs in again. A session
   * that replaced it meanwhile is kept, so a burst of 401s costs one login. */
  invalidate(stale: SwiftSession): void;
}

/** The source of every error the Swift driver throws (and the driver's name). */
export const DRIVER_NAME = 'swift';

export type SwiftResponse = Dispatcher.ResponseData;

export interface SwiftRequest {
  method: Dispatcher.HttpMethod;
  url: string;
  headers?: Record<string, string>;
  /** A factory, not a value: a request sent again after a 401 needs a fresh stream (a file is
   * opened per attempt). */
  body?: () => string | Uint8Array | Readable;
  /** Aborts the request (undici's `signal`): it then rejects with `cancelled`. */
  signal?: AbortSignal | undefined;
}

/** A connection that cannot be made in this long is a dead endpoint. */
const CONNECT_TIMEOUT_MS = 10_000;
/** Generous: a bulk delete answers its headers only when its first heartbeat is due (10 s). */
const HEADERS_TIMEOUT_MS = 60_000;
const BODY_TIMEOUT_MS = 60_000;
/** Below eventlet's idle timeout, so that we never reuse a socket the proxy is closing. */
const KEEP_ALIVE_TIMEOUT_MS = 4_000;
/** Sockets per origin; Store's concurrency (16 by default) stays well below it. */
const CONNECTIONS_PER_ORIGIN = 64;
/** How much of an error body a message quotes. */
const DETAIL_CHARS = 200;

/** The agent a driver owns (closed by its `close()`). */
export function createAgent(): Agent {
  return new Agent({
    connect: { timeout: CONNECT_TIMEOUT_MS },
    headersTimeout: HEADERS_TIMEOUT_MS,
    bodyTimeout: BODY_TIMEOUT_MS,
    keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
    connections: CONNECTIONS_PER_ORIGIN,
  });
}

/** One request, one attempt. Network failures become `unavailable`/`timeout` naming `what`. */
export async function send(dispatcher: Dispatcher, req: SwiftRequest, what: string): Promise<SwiftResponse> {
  if (req.signal?.aborted) throw cancelledError(DRIVER_NAME, what, req.signal.reason);
  const body = req.body?.();
  try {
    return await request(req.url, {
      dispatcher,
      method: req.method,
      headers: req.headers ?? {},
      body: body ?? null,
      ...(req.signal ? { signal: req.signal } : {}),
    });
  } catch (error) {
    throw networkError(error, what);
  } finally {
    // Swift may answer (a 401, a 404) before reading the whole body: free the file handle.
    if (body && typeof body === 'object' && 'destroy' in body && !body.readableEnded) body.destroy();
  }
}

/**
 * Sends requests for one Swift account with the current token. A 401 means the token expired
 * or was revoked: the token is dropped, a new one fetched (shared with concurrent callers), and
 * the request sent once more; a second 401 is `permission_denied`. Any other status is returned
 * for the caller to judge, with the body unread.
 */
export class SwiftClient {
  constructor(
    readonly auth: SwiftAuth,
    readonly dispatcher: Dispatcher,
  ) {}

  async call(what: string, build: (session: SwiftSession) => SwiftRequest): Promise<SwiftResponse> {
    for (let attempt = 1; ; attempt++) {
      const session = await this.auth.session();
      const response = await send(this.dispatcher, withToken(build(session), session), what);
      if (response.statusCode !== 401) return response;
      await response.body.dump();
      this.auth.invalidate(session);
      if (attempt >= 2) {
        throw new OutlastError('permission_denied', `${what}: Swift refused a fresh token (HTTP 401)`, {
          source: DRIVER_NAME,
          hint: 'check that the user may access this account and container',
        });
      }
    }
  }
}

function withToken(req: SwiftRequest, session: SwiftSession): SwiftRequest {
  return { ...req, headers: { ...req.headers, 'x-auth-token': session.token } };
}

/** `a b/c#d` → `a%20b/c%23d`: each segment escaped, the slashes kept. */
export function encodeSegments(path: string): string {
  return path.split('/').map(encodeURIComponent).join('/');
}

export function containerUrl(storageUrl: string, container: string): string {
  return `${storageUrl.replace(/\/+$/, '')}/${encodeURIComponent(container)}`;
}

export function objectUrl(storageUrl: string, container: string, key: string): string {
  return `${containerUrl(storageUrl, container)}/${encodeSegments(key)}`;
}

/** The cluster's `/info` (capabilities), at the proxy's root: the storage URL minus `/v1/<account>`. */
export function infoUrl(storageUrl: string): string {
  const url = new URL(storageUrl);
  const at = url.pathname.lastIndexOf('/v1/');
  url.pathname = `${at >= 0 ? url.pathname.slice(0, at) : ''}/info`;
  url.search = '';
  return url.toString();
}

/** A response header as one string (undici gives arrays for repeated headers). */
export function header(headers: SwiftResponse['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

export function isSuccess(response: SwiftResponse): boolean {
  return response.statusCode >= 200 && response.statusCode < 300;
}

/**
 * The error for a response that is not what `what` expected; reads (and so frees) its body,
 * unless it was drained already (a HEAD's, a delete's): undici 7 crashes the process, from a
 * microtask no caller can catch, when a body that has ended is read again (nodejs/undici#5614,
 * fixed only in undici 8, which needs Node 22). A 503 to a HEAD under load was enough.
 */
export async function failure(response: SwiftResponse, what: string): Promise<OutlastError> {
  const body = response.body;
  // An empty body that was dumped counts as neither used nor disturbed: ask whether it ended.
  const drained = body.bodyUsed || body.readableEnded || body.destroyed;
  const text = drained ? '' : await body.text().catch(() => '');
  return statusError(response.statusCode, response.headers, what, text);
}

/** Swift's statuses onto outlast's codes (see the driver's header comment for the reasoning). */
export function statusError(
  status: number,
  headers: SwiftResponse['headers'],
  what: string,
  body = '',
): OutlastError {
  const detail = plainText(body);
  const said = detail ? `: ${detail}` : '';
  const base = { source: DRIVER_NAME };
  const make = (code: ErrorCode, text: string, extra: OutlastErrorOptions = {}) =>
    new OutlastError(code, `${what}: ${text} (HTTP ${status})`, { ...base, ...extra });
  if (status === 401 || status === 403) {
    return make('permission_denied', 'permission denied', {
      hint: 'check that the user may read and write this container (its ACLs and roles)',
    });
  }
  if (status === 404) return make('not_found', 'not found');
  if (status === 408) return make('timeout', 'Swift timed out waiting for the request');
  if (status === 409 || status === 412) return make('conflict', `conflict${said}`);
  if (status === 413) {
    return make('invalid_argument', `too large for one object${said}`, {
      hint: 'objects over 5 GiB need segmented uploads (SLO), which outlast does not do yet',
    });
  }
  if (status === 422) {
    // Swift computed another MD5 than the ETag we sent: bytes damaged on the way, or a file that
    // changed between hashing and sending. A new attempt hashes and sends again.
    return make(
      'unavailable',
      'the bytes Swift received do not match their MD5 (damaged on the way, or the file changed since the site was scanned)',
      { retryable: true },
    );
  }
  if (status === 429 || status === 498) {
    const wait = retryAfterMs(header(headers, 'retry-after'));
    return make('rate_limited', 'Swift asked to slow down', wait === undefined ? {} : { retryAfterMs: wait });
  }
  if (status === 507) {
    // A full disk does not empty itself within a few retries.
    return make('unavailable', 'Swift has no space left', { retryable: false, hint: 'the cluster is full' });
  }
  if (status === 499 || status >= 500) return make('unavailable', `Swift is unavailable${said}`);
  if (status >= 400) return make('invalid_argument', `Swift refused the request${said}`);
  return make('internal', `unexpected answer${said}`);
}

/** Seconds or an HTTP date, as milliseconds from now. */
export function retryAfterMs(value: string | undefined): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

const TIMEOUT_CODES = new Set([
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ETIMEDOUT',
]);
const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_RES_CONTENT_LENGTH_MISMATCH',
]);

/** A thrown network error (undici's or the socket's, maybe wrapped) onto outlast's codes. */
export function networkError(error: unknown, what: string): OutlastError {
  if (error instanceof OutlastError) return error;
  if (isAbortError(error)) return cancelledError(DRIVER_NAME, what, error);
  const code = errorCodes(error).find((found) => TIMEOUT_CODES.has(found) || UNAVAILABLE_CODES.has(found));
  const message = `${what}: ${messageOf(error) || code || 'network error'}`;
  if (code && TIMEOUT_CODES.has(code))
    return new OutlastError('timeout', message, { source: DRIVER_NAME, cause: error });
  if (code) return new OutlastError('unavailable', message, { source: DRIVER_NAME, cause: error });
  return new OutlastError('internal', message, { source: DRIVER_NAME, cause: error });
}

/** The `code`s of an error, its causes and (for a multi-address connect) its aggregated errors. */
function errorCodes(error: unknown, depth = 0): string[] {
  if (typeof error !== 'object' || error === null || depth > 4) return [];
  const codes: string[] = [];
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') codes.push(code);
  if (error instanceof AggregateError) {
    for (const inner of error.errors) codes.push(...errorCodes(inner, depth + 1));
  }
  codes.push(...errorCodes((error as { cause?: unknown }).cause, depth + 1));
  return codes;
}

/** Swift's error pages are tiny HTML documents: keep their words. */
function plainText(body: string): string {
  const text = body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  return text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS)}…` : text;
}

/** The parsed JSON, or `undefined` for anything that is not JSON. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
