/**
 * From a request target to an object key, and from a key to a file of a directory origin.
 *
 * The layout is the fs driver's: object `key` lives at `join(root, ...key.split('/'))`, and the
 * driver's own files live under `root/.outlast-fs`, which is never served.
 */
import { join, resolve, sep } from 'node:path';
import { keyProblem } from '../storage/keys.ts';

/** The fs driver's private folder (sidecar metadata, temp files), relative to the origin's root. */
export const FS_PRIVATE_DIR = '.outlast-fs';

export interface RequestTarget {
  /** The path as sent, still percent-encoded, always starting with `/`. */
  rawPath: string;
  /** The query string without `?`, or `''`. */
  query: string;
}

export type KeyResult =
  /** `key` is the object the path names; `directory` when the path ended in `/` (index applied). */
  { ok: true; key: string; directory: boolean } | { ok: false; status: 400 | 404; reason: string };

/** Splits the request target; `undefined` when it is not a path (or an absolute URL) at all. */
export function parseTarget(url: string): RequestTarget | undefined {
  let target = url;
  if (!url.startsWith('/')) {
    // A proxy-style absolute URL names the same path; the host part is not ours to judge.
    const origin = /^https?:\/\/[^/?#]*/i.exec(url);
    if (!origin) return undefined;
    target = url.slice(origin[0].length);
    if (!target.startsWith('/')) target = `/${target}`;
  }
  const hash = target.indexOf('#');
  const withoutHash = hash === -1 ? target : target.slice(0, hash);
  const question = withoutHash.indexOf('?');
  if (question === -1) return { rawPath: withoutHash, query: '' };
  return { rawPath: withoutHash.slice(0, question), query: withoutHash.slice(question + 1) };
}

/**
 * The key a request path names, the way S3 website hosting reads it: percent-decoded as UTF-8,
 * `+` kept literally, `%2F` a separator like `/`, and a path ending in `/` naming that folder's
 * index document.
 */
export function keyFromPath(rawPath: string, indexDocument: string): KeyResult {
  let decoded: string;
  try {
    // Node hands us the target's bytes as latin1; re-escape the non-ASCII ones so a client that
    // sent raw UTF-8 gets the same key as one that percent-encoded it.
    decoded = decodeURIComponent(escapeNonAscii(rawPath.slice(1)));
  } catch {
    return { ok: false, status: 400, reason: 'malformed percent-encoding' };
  }
  if (decoded.includes('\0')) return { ok: false, status: 400, reason: 'NUL in path' };
  if (decoded.split('/').some((segment) => segment === '.' || segment === '..'))
    return { ok: false, status: 400, reason: 'dot segment in path' };
  const directory = decoded === '' || decoded.endsWith('/');
  const key = directory ? decoded + indexDocument : decoded;
  // Anything else no store could hold as a key (empty segments, control characters, non-NFC)
  // simply names no object.
  const problem = keyProblem(key);
  if (problem !== undefined) return { ok: false, status: 404, reason: `key ${problem}` };
  return { ok: true, key, directory };
}

/**
 * The file that holds `fullKey` (prefix included) under `root`, or `undefined` when the key
 * would leave the root or reach the fs driver's private folder. Keys are validated before this;
 * this is the second, independent guard.
 */
export function objectPath(root: string, fullKey: string): string | undefined {
  if (fullKey.includes('\0')) return undefined;
  const path = resolve(join(root, ...fullKey.split('/')));
  if (!path.startsWith(root.endsWith(sep) ? root : root + sep)) return undefined;
  const privateDir = join(root, FS_PRIVATE_DIR);
  if (path === privateDir || path.startsWith(privateDir + sep)) return undefined;
  return path;
}

/** Percent-encodes every byte of a latin1 string outside printable ASCII. */
export function escapeNonAscii(latin1: string): string {
  if (/^[\x21-\x7e]*$/.test(latin1)) return latin1;
  let out = '';
  for (const byte of Buffer.from(latin1, 'latin1')) {
    out +=
      byte > 0x20 && byte < 0x7f
        ? String.fromCharCode(byte)
        : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** The URL path of a key, each segment percent-encoded, for a Location header. */
export function pathOfKey(key: string): string {
  return `/${key.split('/').map(encodeURIComponent).join('/')}`;
}
