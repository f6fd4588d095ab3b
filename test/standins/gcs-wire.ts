/**
 * The wire formats the GCS stand-in (gcs.ts) reads and writes, kept apart from its routes: GCS's
 * JSON error shape, the bearer token check (a self-signed service-account JWT, RS256, verified
 * with the public key the test registered: what google-auth-library's JWT client sends with
 * `useJWTAccessWithScope`), multipart/related upload bodies, object-name checks and CRC32C.
 */
import { createPublicKey, type KeyObject, verify } from 'node:crypto';

export interface Reply {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
  /** Raw bytes instead of JSON (media downloads). */
  raw?: Buffer;
}

/** GCS's JSON API error: `{ error: { code, message, errors: [{ domain, reason, message }] } }`. */
export function gcsFailure(
  status: number,
  reason: string,
  message: string,
  extra: Record<string, string> = {},
): Reply {
  return {
    status,
    body: { error: { code: status, message, errors: [{ message, domain: 'global', reason, ...extra }] } },
  };
}

export const notFoundBucket = () => gcsFailure(404, 'notFound', 'The specified bucket does not exist.');
export const notFoundObject = (bucket: string, name: string) =>
  gcsFailure(404, 'notFound', `No such object: ${bucket}/${name}`);
export const invalid = (message: string) => gcsFailure(400, 'invalid', message);
export const unauthenticated = () =>
  gcsFailure(401, 'authError', 'Invalid Credentials', { locationType: 'header', location: 'Authorization' });

/** The scopes that let a token use the JSON API for reads and writes. */
const STORAGE_SCOPES = new Set([
  'https://www.googleapis.com/auth/devstorage.full_control',
  'https://www.googleapis.com/auth/devstorage.read_write',
  'https://www.googleapis.com/auth/cloud-platform',
]);

/**
 * The service account a bearer token proves, or why not. The token is a JWT signed (RS256) by
 * one of `accounts`' keys: `iss` and `sub` are its e-mail, `exp` is ahead and at most an hour
 * after `iat`, and `scope` holds a storage scope (or, without scopes, `aud` is the API's URL).
 */
export function verifyBearer(
  authorization: string | undefined,
  accounts: ReadonlyMap<string, KeyObject>,
  audience: string,
): { email: string } | { why: string } {
  const match = /^Bearer ([\w-]+)\.([\w-]+)\.([\w-]+)$/.exec(authorization ?? '');
  if (!match) return { why: authorization ? 'not a bearer JWT' : 'no Authorization header' };
  const [, head, body, signature] = match as unknown as [string, string, string, string];
  let header: { alg?: string; typ?: string };
  let claims: { iss?: string; sub?: string; exp?: number; iat?: number; scope?: string; aud?: string };
  try {
    header = JSON.parse(Buffer.from(head, 'base64url').toString('utf8'));
    claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
  } catch {
    return { why: 'the JWT is not JSON' };
  }
  if (header.alg !== 'RS256') return { why: `alg ${String(header.alg)}, not RS256` };
  const key = claims.iss === undefined ? undefined : accounts.get(claims.iss);
  if (!key) return { why: `unknown service account ${String(claims.iss)}` };
  const signed = verify(
    'RSA-SHA256',
    Buffer.from(`${head}.${body}`),
    key,
    Buffer.from(signature, 'base64url'),
  );
  if (!signed) return { why: 'bad signature' };
  if (claims.sub !== claims.iss) return { why: 'sub is not iss' };
  const now = Date.now() / 1000;
  if (typeof claims.exp !== 'number' || claims.exp <= now) return { why: 'expired' };
  if (typeof claims.iat !== 'number' || claims.exp - claims.iat > 3600)
    return { why: 'lives more than an hour' };
  const scoped = (claims.scope ?? '').split(' ').some((scope) => STORAGE_SCOPES.has(scope));
  if (!scoped && !(claims.aud ?? '').startsWith(audience)) return { why: 'no storage scope nor audience' };
  return { email: claims.iss! };
}

export function publicKeyOf(pem: string): KeyObject {
  return createPublicKey(pem);
}

/** The metadata and media of a multipart/related upload body (two parts, JSON first). */
export function parseMultipart(
  contentType: string | undefined,
  body: Buffer,
): { metadata: Record<string, unknown>; mediaType: string; media: Buffer } | string {
  const boundary = /^multipart\/related;\s*boundary=("?)([^";]+)\1/i.exec(contentType ?? '')?.[2];
  if (!boundary) return `Content-Type is ${String(contentType)}, not multipart/related with a boundary`;
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Buffer[] = [];
  let at = body.indexOf(delimiter);
  if (at !== 0) return 'the body does not start with the boundary';
  for (;;) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === '--') break;
    const next = body.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), start);
    if (next < 0) return 'a part without a closing boundary';
    parts.push(body.subarray(start + 2, next));
    at = next + 2;
  }
  if (parts.length !== 2) return `${parts.length} parts, not 2`;
  const split = (part: Buffer) => {
    const end = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, end).toString('latin1');
    return { type: /^content-type:\s*(.+)$/im.exec(head)?.[1]?.trim() ?? '', data: part.subarray(end + 4) };
  };
  const [first, second] = parts.map(split) as [ReturnType<typeof split>, ReturnType<typeof split>];
  if (!/^application\/json/i.test(first.type)) return `the first part is ${first.type}, not JSON`;
  try {
    return { metadata: JSON.parse(first.data.toString('utf8')), mediaType: second.type, media: second.data };
  } catch {
    return 'the metadata part is not JSON';
  }
}

/** Why GCS would refuse this object name, or undefined (GCS's naming rules). */
export function badObjectName(name: string): string | undefined {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes < 1 || bytes > 1024) return `The object name is ${bytes} bytes; it must be 1 to 1024 bytes.`;
  if (/[\r\n]/.test(name)) return 'Object names cannot contain carriage return or line feed characters.';
  if (name === '.' || name === '..') return 'Object names cannot be . or ..';
  if (name.startsWith('.well-known/acme-challenge/')) return 'The name is reserved.';
  if (Buffer.from(name, 'utf8').toString('utf8') !== name) return 'The object name is not valid UTF-8.';
  return undefined;
}

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC32C (Castagnoli) as GCS reports it: base64 of the big-endian 32 bits. */
export function crc32c(bytes: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = CRC_TABLE[(crc ^ byte) & 0xff]! ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString('base64');
}

/** A JSON object body, or undefined for anything else. */
export function json(body: Buffer): Record<string, unknown> | undefined {
  try {
    const value = JSON.parse(body.toString('utf8')) as unknown;
    return value && typeof value === 'object' && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}
