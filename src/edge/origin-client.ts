/**
 * How the edge talks to one origin: a keep-alive pool to its public URL, with the origin's own
 * Host header and TLS server name, and a GET of one key with the edge's timeouts (first byte,
 * idle) and the request's deadline.
 *
 * An object is read at `url/<key>`, each segment percent-encoded, not through the store's website
 * index rules: every kind of origin (an S3 website endpoint, Swift's `/v1/AUTH_…/container`, an
 * Azure or GCS bucket URL, a directory served by `outlast serve`) answers that path with the
 * object's bytes, so one rule serves them all.
 */
import { isIP } from 'node:net';
import { Pool } from 'undici';
import { messageOf } from '../errors.ts';
import { CODE_BY_ERRNO } from '../storage/network-errors.ts';
import type { EdgeOrigin } from './types.ts';

export interface OriginClientOptions {
  /** Sockets kept per origin. */
  connections: number;
  firstByteTimeoutMs: number;
  idleTimeoutMs: number;
  /** Extra trusted CA certificates (PEM) for https origins (private CAs, tests). */
  ca?: string;
}

/** What an origin answered: the status, the headers and a body to read or to dump. */
export interface OriginAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: AsyncIterable<Buffer> & { dump(): Promise<void>; destroy(error?: Error): void };
}

export class OriginClient {
  readonly id: string;
  readonly url: string;
  private readonly pool: Pool;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly host: string;

  constructor(
    origin: EdgeOrigin,
    private readonly options: OriginClientOptions,
  ) {
    this.id = origin.id;
    this.url = origin.url;
    const base = new URL(origin.url);
    this.origin = base.origin;
    this.basePath = base.pathname.replace(/\/+$/, '');
    this.host = origin.hostHeader ?? base.host;
    const name = this.host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    this.pool = new Pool(base.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connect: {
        timeout: options.firstByteTimeoutMs,
        ...(isIP(name) === 0 ? { servername: name } : {}),
        ...(options.ca === undefined ? {} : { ca: options.ca }),
      },
    });
  }

  /** The request path of `key` on this origin. */
  pathOf(key: string): string {
    return `${this.basePath}/${key.split('/').map(encodeURIComponent).join('/')}`;
  }

  /**
   * GET (or HEAD) of one key. Rejects on a connect error, on no headers within the first-byte
   * timeout, or when `signal` aborts; a body that stalls past the idle timeout errors while read.
   */
  async get(key: string, signal: AbortSignal, method: 'GET' | 'HEAD' = 'GET'): Promise<OriginAnswer> {
    const answer = await this.pool.request({
      origin: this.origin,
      path: this.pathOf(key),
      method,
      headers: { host: this.host, 'accept-encoding': 'identity' },
      signal,
      headersTimeout: this.options.firstByteTimeoutMs,
      bodyTimeout: this.options.idleTimeoutMs,
    });
    return { status: answer.statusCode, headers: answer.headers, body: answer.body };
  }

  /** Closes every socket, in-flight requests included. */
  async close(): Promise<void> {
    await this.pool.destroy().catch(() => undefined);
  }
}

/** Why a request to an origin failed, for people and for the edge's counters. */
export interface OriginFailure {
  outcome: 'connect' | 'timeout' | 'error';
  detail: string;
}

const DETAILS: Readonly<Record<string, OriginFailure>> = {
  UND_ERR_HEADERS_TIMEOUT: { outcome: 'timeout', detail: 'no answer within the first-byte timeout' },
  UND_ERR_BODY_TIMEOUT: { outcome: 'timeout', detail: 'the body stalled past the idle timeout' },
  UND_ERR_CONNECT_TIMEOUT: { outcome: 'connect', detail: 'connect timed out' },
  ECONNREFUSED: { outcome: 'connect', detail: 'connection refused' },
  ECONNRESET: { outcome: 'connect', detail: 'connection closed by the origin' },
  UND_ERR_SOCKET: { outcome: 'connect', detail: 'connection closed by the origin' },
};

/**
 * What a failed `get` means: the edge's own wording for the common cases, else the storage
 * drivers' errno table (src/storage/network-errors.ts) for which kind it is.
 */
export function failureOf(error: unknown): OriginFailure {
  const code = (error as { code?: string }).code ?? '';
  const known = DETAILS[code];
  if (known !== undefined) return known;
  if ((error as Error).name === 'TimeoutError') return { outcome: 'timeout', detail: 'timed out' };
  const kind = CODE_BY_ERRNO[code];
  const outcome = kind === 'timeout' ? 'timeout' : kind === 'unavailable' ? 'connect' : 'error';
  return { outcome, detail: messageOf(error) };
}
