/**
 * One health probe: GET the release beacon through an origin's public URL, the way a visitor's
 * request would reach it (Host header, SNI, a verified certificate), and say whether it passes.
 *
 * A probe passes only when, within `timeoutMs` for the whole exchange, the status is expected, the
 * body is a beacon and (when asked) the beacon names the expected release. A proxy's own health
 * page can answer while the objects behind it are gone (swift.md G13), so a real object is read.
 *
 * Each probe opens its own connection (a fresh undici `Client`, destroyed afterwards, and
 * `Connection: close`): a kept-alive socket could hide that the host no longer accepts
 * connections, and a fresh handshake is what lets the probe read the certificate every time.
 * The certificate is captured in the TLS `checkServerIdentity` hook, which Node calls once the
 * chain is verified and before the name check, so a name mismatch still reports the certificate.
 * Verification stays on (`rejectUnauthorized`); a failure becomes `errorKind: 'tls'`.
 * Redirects are not followed: an origin that redirects its beacon is misconfigured.
 */
import {
  checkServerIdentity,
  createSecureContext,
  type PeerCertificate,
  rootCertificates,
  type SecureContext,
} from 'node:tls';
import { buildConnector, Client, type Dispatcher } from 'undici';
import { messageOf } from '../errors.ts';
import { parseBeacon } from '../release/manifest.ts';

/** Where to probe: one origin's public URL. */
export interface ProbeTarget {
  originId: string;
  /** The origin's public base URL; may carry a path (Swift: `/v1/AUTH_test/web`). Its query is not used. */
  url: string;
  /** Sent as Host (and used as the TLS server name) instead of the URL's host. */
  hostHeader?: string;
}

export interface ProbeOptions {
  /** Appended to the URL's path, e.g. `/.well-known/outlast/release.json`. */
  path: string;
  /** For the whole exchange: connect, TLS, headers and body. */
  timeoutMs: number;
  /** Statuses that pass. Anything else, a 3xx included, fails with `errorKind: 'status'`. */
  expectStatus: number[];
  /** The release the beacon must name; undefined: any release passes. */
  expectedRelease?: string;
  /** Extra trusted CA certificate(s) (PEM), added to Node's bundled roots: private CAs, tests. */
  ca?: string | Buffer;
  /** Sends the request through this dispatcher instead of a fresh connection. The caller then owns
   * connection reuse and TLS; `ca` is ignored and no certificate is reported. */
  dispatcher?: Dispatcher;
}

export type ProbeErrorKind = 'connect' | 'timeout' | 'status' | 'body' | 'release' | 'tls';

export interface ProbeResult {
  originId: string;
  ok: boolean;
  /** When the probe started. */
  at: Date;
  /** From the start to the last byte of the body (or to the failure). */
  latencyMs: number;
  status?: number;
  /** From the beacon, when the body was one (even if the probe failed on the release). */
  release?: string;
  deployedAt?: string;
  deploying?: string;
  /** Short and human: `connection refused`, `timed out after 2000 ms`, `status 503`, … */
  error?: string;
  errorKind?: ProbeErrorKind;
  /** The connection was refused (nothing listens): cheap to try again at once. */
  refused?: true;
  /** The server's certificate, for HTTPS probes whose chain verified (a name mismatch still
   * reports it, with `coversHost: false`; an untrusted or expired chain does not). */
  certificate?: ProbeCertificate;
}

/** What a probe saw of the server's certificate. */
export interface ProbeCertificate {
  /** The subject's common name (or, without one, the first name it covers). */
  subject: string;
  /** ISO 8601. */
  validTo: string;
  /** Whole days until it expires, from the probe's start; negative once expired. */
  daysLeft: number;
  /** Whether it is valid for the name the probe asked for (the Host header's). */
  coversHost: boolean;
}

/** A beacon is under 2 KB; anything past this is not one, and is not worth reading. */
const MAX_BODY_BYTES = 16 * 1024;

/** A probe failure found after the answer arrived (status, body, release). */
class ProbeFailure extends Error {
  constructor(
    readonly kind: ProbeErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** Probes one origin. Never throws: every failure is a result with `ok: false`. */
export async function probeOrigin(target: ProbeTarget, options: ProbeOptions): Promise<ProbeResult> {
  const at = new Date();
  const started = performance.now();
  const elapsed = (): number => Math.round(performance.now() - started);
  const result: ProbeResult = { originId: target.originId, ok: false, at, latencyMs: 0 };

  let base: URL;
  try {
    base = new URL(target.url);
  } catch (error) {
    return { ...result, error: `invalid URL (${messageOf(error)})`, errorKind: 'connect' };
  }
  const host = target.hostHeader ?? base.host;
  const serverName = hostnameOf(host);
  const path = `${base.pathname.replace(/\/+$/, '')}${options.path}`;

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), options.timeoutMs);
  const seen: { certificate?: PeerCertificate } = {};
  const dispatcher = options.dispatcher ?? freshClient(base, serverName, options, seen);
  try {
    const answer = await dispatcher.request({
      origin: base.origin,
      path,
      method: 'GET',
      headers: { host, accept: 'application/json' },
      signal: controller.signal,
      // `Connection: close`, so no socket outlives the probe, whoever owns the dispatcher.
      reset: true,
    });
    result.status = answer.statusCode;
    if (!options.expectStatus.includes(answer.statusCode)) {
      discard(answer.body);
      const location = answer.headers.location;
      const to = typeof location === 'string' ? ` (redirect to ${location})` : '';
      throw new ProbeFailure('status', `status ${answer.statusCode}${to}`);
    }
    const bytes = await readLimited(answer.body, MAX_BODY_BYTES);
    let beacon: ReturnType<typeof parseBeacon>;
    try {
      beacon = parseBeacon(bytes, `origin ${target.originId}`);
    } catch (error) {
      throw new ProbeFailure('body', `not a release beacon: ${shorten(messageOf(error))}`);
    }
    result.release = beacon.release;
    result.deployedAt = beacon.deployedAt;
    if (beacon.deploying !== undefined) result.deploying = beacon.deploying;
    if (options.expectedRelease !== undefined && beacon.release !== options.expectedRelease) {
      throw new ProbeFailure('release', `serves release ${beacon.release}, not ${options.expectedRelease}`);
    }
    result.ok = true;
  } catch (error) {
    const failure =
      error instanceof ProbeFailure
        ? { kind: error.kind, message: error.message }
        : describeFailure(error, {
            timedOut: controller.signal.aborted,
            timeoutMs: options.timeoutMs,
            serverName,
          });
    result.error = failure.message;
    result.errorKind = failure.kind;
    if (codeOf(error) === 'ECONNREFUSED') result.refused = true;
  } finally {
    clearTimeout(timer);
    result.latencyMs = elapsed();
    if (dispatcher !== options.dispatcher) await dispatcher.destroy().catch(() => undefined);
  }
  if (seen.certificate) result.certificate = certificateInfo(seen.certificate, serverName, at);
  return result;
}

/**
 * A client for this one probe. Its connector sets SNI to the Host header's name (undici would take
 * it from the Host header too, but saying it here keeps it true whatever undici does) and records
 * the certificate the server presented.
 */
function freshClient(
  base: URL,
  serverName: string,
  options: ProbeOptions,
  seen: { certificate?: PeerCertificate },
): Client {
  const connector = buildConnector({
    rejectUnauthorized: true,
    ...(options.ca !== undefined ? { secureContext: secureContextFor(options.ca.toString()) } : {}),
    // No session resumption: a resumed session skips checkServerIdentity, so no certificate.
    maxCachedSessions: 0,
    timeout: options.timeoutMs,
    checkServerIdentity: (name: string, certificate: PeerCertificate) => {
      seen.certificate = certificate;
      return checkServerIdentity(name, certificate);
    },
  });
  const servername = isIpLiteral(serverName) ? undefined : serverName;
  return new Client(base.origin, {
    connect: (connectOptions, callback) => connector({ ...connectOptions, servername }, callback),
    pipelining: 0,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
  });
}

/** One TLS context per extra CA, made once: parsing the bundled roots costs ~100 ms of CPU, too much
 * to pay on every probe. */
const secureContexts = new Map<string, SecureContext>();

/** Node's bundled roots plus `ca`: added rather than replacing them, so public origins keep working
 * when a user trusts a private CA for another origin. */
function secureContextFor(ca: string): SecureContext {
  let context = secureContexts.get(ca);
  if (!context) {
    context = createSecureContext({ ca: [...rootCertificates, ca] });
    secureContexts.set(ca, context);
  }
  return context;
}

/** Reads a body up to `limit` bytes; a longer one is a body failure (no beacon is that big). */
async function readLimited(body: Dispatcher.ResponseData['body'], limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > limit) {
      discard(body);
      throw new ProbeFailure('body', `not a release beacon: answer larger than ${limit / 1024} KB`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/** Drops a body unread. undici reports a destroyed body as an 'error' event, which nobody else
 * listens to here: without a listener it would be an uncaught exception. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** The name part of a Host header value: `www.example.com:8443` → `www.example.com`, `[::1]:80` → `::1`. */
function hostnameOf(host: string): string {
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (bracketed?.[1]) return bracketed[1];
  return host.replace(/:\d+$/, '').replace(/\.$/, '').toLowerCase();
}

/** SNI must not carry an IP address (RFC 6066 §3). */
function isIpLiteral(name: string): boolean {
  return /^[\d.]+$/.test(name) || name.includes(':');
}

function shorten(text: string, max = 160): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** TLS verification codes (OpenSSL's and Node's) → the short reason a user reads. */
const TLS_REASONS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate expired',
  CERT_NOT_YET_VALID: 'certificate not valid yet',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed certificate, not trusted',
  SELF_SIGNED_CERT_IN_CHAIN: 'certificate chain ends in an untrusted root',
  UNABLE_TO_GET_ISSUER_CERT: 'certificate issuer unknown',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'certificate issuer not trusted',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'certificate issuer not trusted',
  CERT_REVOKED: 'certificate revoked',
  CERT_UNTRUSTED: 'certificate not trusted',
};

/** Socket-level codes → the short reason a user reads. */
const CONNECT_REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EADDRNOTAVAIL: 'address not available',
  UND_ERR_SOCKET: 'connection closed before the answer',
  UND_ERR_CLOSED: 'connection closed before the answer',
};

/** Maps an error from connecting or reading to a kind and a short message. */
function describeFailure(
  error: unknown,
  context: { timedOut: boolean; timeoutMs: number; serverName: string },
): { kind: ProbeErrorKind; message: string } {
  const timeout = { kind: 'timeout' as const, message: `timed out after ${context.timeoutMs} ms` };
  if (context.timedOut) return timeout;
  const code = codeOf(error);
  if (code === undefined) return { kind: 'connect', message: shorten(messageOf(error)) };
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return { kind: 'tls', message: `certificate does not cover ${context.serverName}` };
  }
  const tlsReason = TLS_REASONS[code];
  if (tlsReason) return { kind: 'tls', message: tlsReason };
  if (code.startsWith('ERR_SSL_') || code === 'EPROTO' || code.startsWith('ERR_TLS_')) {
    return { kind: 'tls', message: `TLS handshake failed (${code})` };
  }
  if (
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return timeout;
  }
  if (code === 'ETIMEDOUT') return timeout;
  return { kind: 'connect', message: CONNECT_REASONS[code] ?? shorten(`${messageOf(error)} (${code})`) };
}

/** The first `code` along the error and its causes (undici and Node wrap socket errors). */
function codeOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth++) {
    const code = (current as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

function certificateInfo(certificate: PeerCertificate, serverName: string, at: Date): ProbeCertificate {
  const validTo = new Date(certificate.valid_to);
  const names = certificate.subjectaltname?.split(', ').map((entry) => entry.replace(/^DNS:/, '')) ?? [];
  const commonName = certificate.subject?.CN;
  return {
    subject: (Array.isArray(commonName) ? commonName[0] : commonName) ?? names[0] ?? '',
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - at.getTime()) / 86_400_000),
    coversHost: checkServerIdentity(serverName, certificate) === undefined,
  };
}
