/**
 * How the `swift` driver (swift.ts) writes and reads one object: the put's headers (the object
 * headers Swift stores as they are, user metadata and the sha256 as `X-Object-Meta-*`), the bytes a
 * put sends with the MD5 that goes before them as its ETag, an object's info from a HEAD or GET's
 * headers, and a GET's body whose failure in mid-transfer is a retryable error.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { messageOf, OutlastError } from '../../errors.ts';
import { abortable, cancelledError, isAbortError } from '../abort.ts';
import {
  type ObjectInfo,
  type ObjectSource,
  type PutOptions,
  SHA256_METADATA_KEY,
  type UserMetadata,
} from '../driver.ts';
import { DRIVER_NAME, header, networkError, type SwiftResponse } from './swift-http.ts';

const META = 'x-object-meta-';
export const SHA256_HEADER = `${META}${SHA256_METADATA_KEY}`;
/** ObjectHeaders field → the HTTP header Swift stores and serves. */
const OBJECT_HEADERS = [
  ['contentType', 'content-type'],
  ['cacheControl', 'cache-control'],
  ['contentEncoding', 'content-encoding'],
  ['contentDisposition', 'content-disposition'],
  ['contentLanguage', 'content-language'],
] as const;

/**
 * A put's body: bytes as they are, a file (or stream) opened for each attempt. The MD5 for the
 * ETag is the caller's when it knows it; else bytes are hashed, and a file or stream is read once
 * first to hash it (the signal stops that pass; the request's own is stopped with the request).
 */
export async function prepareSource(
  source: ObjectSource,
  label: string,
  signal: AbortSignal | undefined,
  knownMd5: string | undefined,
): Promise<{ md5: string; size: number; body: () => Uint8Array | Readable }> {
  if (source.kind === 'bytes') {
    const bytes = source.bytes;
    const md5 = knownMd5 ?? createHash('md5').update(bytes).digest('hex');
    return { md5, size: bytes.byteLength, body: () => bytes };
  }
  if (knownMd5 !== undefined) {
    // Swift compares the bytes with the ETag and the length with Content-Length: a file that
    // changed since its MD5 was taken is refused, not stored.
    const open = source.kind === 'file' ? () => createReadStream(source.path) : source.open;
    return { md5: knownMd5, size: source.size, body: open };
  }
  // The ETag header goes before the body, so the MD5 needs a first pass over the file; the
  // second pass comes from the page cache.
  const open = source.kind === 'file' ? () => createReadStream(source.path) : source.open;
  const hash = createHash('md5');
  let size = 0;
  try {
    for await (const chunk of abortable(open(), signal)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (error) {
    if (isAbortError(error)) throw cancelledError(DRIVER_NAME, label, error);
    const what = source.kind === 'file' ? `the source file ${source.path}` : 'the source stream';
    throw new OutlastError('invalid_argument', `${label}: cannot read ${what}: ${messageOf(error)}`, {
      source: DRIVER_NAME,
      cause: error,
    });
  }
  return { md5: hash.digest('hex'), size, body: open };
}

export function putHeaders(options: PutOptions): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [field, name] of OBJECT_HEADERS) {
    const value = options[field];
    if (value !== undefined) headers[name] = value;
  }
  for (const [name, value] of Object.entries(options.metadata ?? {})) headers[`${META}${name}`] = value;
  headers[SHA256_HEADER] = options.sha256;
  return headers;
}

export function infoFromHeaders(key: string, response: SwiftResponse): ObjectInfo {
  const { headers } = response;
  const info: ObjectInfo = { key, size: Number(header(headers, 'content-length') ?? 0) };
  const sha256 = header(headers, SHA256_HEADER);
  if (sha256) info.sha256 = sha256;
  const etag = header(headers, 'etag');
  if (etag) info.etag = etag.replace(/^"(.*)"$/, '$1');
  // X-Timestamp has sub-second precision, Last-Modified only seconds.
  const timestamp = Number(header(headers, 'x-timestamp'));
  const modified = Number.isFinite(timestamp)
    ? new Date(timestamp * 1000)
    : new Date(header(headers, 'last-modified') ?? '');
  if (!Number.isNaN(modified.getTime())) info.lastModified = modified;
  for (const [field, name] of OBJECT_HEADERS) {
    const value = header(headers, name);
    if (value !== undefined) info[field] = value;
  }
  const metadata: UserMetadata = {};
  for (const [name, value] of Object.entries(headers)) {
    if (!name.startsWith(META) || name === SHA256_HEADER || value === undefined) continue;
    metadata[name.slice(META.length)] = Array.isArray(value) ? value.join(', ') : value;
  }
  info.metadata = metadata;
  return info;
}

/** The response body, with a failure in mid-transfer as a retryable outlast error. */
export function guardBody(body: SwiftResponse['body'], label: string): Readable {
  async function* chunks() {
    try {
      for await (const chunk of body) yield chunk as Buffer;
    } catch (error) {
      throw networkError(error, label);
    }
  }
  return Readable.from(chunks(), { objectMode: false });
}
