/**
 * Opening and sending one object of a directory origin: headers from its manifest entry (or
 * guessed), validators, conditional and range requests, and a streamed body.
 */
import type { Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import { pipeline } from 'node:stream/promises';
import mime from 'mime';
import { BEACON_KEY } from '../release/types.ts';
import type { ObjectHeaders } from '../storage/driver.ts';
import { chooseRange, evaluatePreconditions, type Validators } from './conditional.ts';
import { describeObject, type ServedRelease } from './release-state.ts';

/** An object opened for serving: the descriptor and the stats of that very file. */
export interface OpenObject {
  key: string;
  handle: FileHandle;
  stats: Stats;
}

/** Opens the file at `path` that holds `key`, or `undefined` when there is no such object (a
 * folder is none). Other errors (EACCES) are thrown. */
export async function openObject(path: string | undefined, key: string): Promise<OpenObject | undefined> {
  if (path === undefined) return undefined;
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (error) {
    if (isNoSuchObject(error)) return undefined;
    throw error;
  }
  try {
    // Stats of the open descriptor, not the path: a rename since then cannot mismatch them.
    const stats = await handle.stat();
    if (stats.isFile()) return { key, handle, stats };
  } catch (error) {
    await handle.close().catch(() => {});
    throw error;
  }
  await handle.close();
  return undefined;
}

/** Sends the object (200, 206, 304, 412 or 416), honouring conditional and range headers. */
export async function sendObject(
  req: IncomingMessage,
  res: ServerResponse,
  object: OpenObject,
  release: ServedRelease | undefined,
): Promise<void> {
  const { key, handle, stats } = object;
  const head = req.method === 'HEAD';
  const described = describeObject(release, key, stats.size);
  const headers = described?.headers ?? {};
  const validators: Validators = {
    // Without a sha256 we are sure of, a weak tag from what the file system knows.
    etag:
      described?.sha256 !== undefined
        ? `"${described.sha256}"`
        : `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`,
    lastModified: stats.mtime,
  };
  // The beacon must never be answered from a cache: health checks read it to see the release.
  const cacheControl = headers.cacheControl ?? (key === BEACON_KEY ? 'no-cache' : undefined);
  res.setHeader('ETag', validators.etag);
  res.setHeader('Last-Modified', stats.mtime.toUTCString());
  if (cacheControl !== undefined) res.setHeader('Cache-Control', cacheControl);
  res.setHeader('Accept-Ranges', 'bytes');

  const precondition = evaluatePreconditions(req.headers, validators);
  if (precondition !== 'proceed') {
    await handle.close();
    if (precondition === 'not-modified') {
      res.writeHead(304).end();
      return;
    }
    return sendText(res, 412, 'Precondition Failed', head);
  }

  const range = chooseRange(req.headers, stats.size, validators);
  if (range.kind === 'unsatisfiable') {
    await handle.close();
    return sendText(res, 416, 'Range Not Satisfiable', head, { 'Content-Range': `bytes */${stats.size}` });
  }
  setContentHeaders(res, key, headers);
  if (range.kind === 'partial') {
    res.setHeader('Content-Range', `bytes ${range.start}-${range.end}/${stats.size}`);
    res.setHeader('Content-Length', range.end - range.start + 1);
    res.statusCode = 206;
    return streamBody(res, handle, head, range.start, range.end);
  }
  res.setHeader('Content-Length', stats.size);
  res.statusCode = 200;
  return streamBody(res, handle, head, 0, stats.size - 1);
}

/** Sends an error document's bytes with status 404. */
export async function sendErrorDocument(
  res: ServerResponse,
  object: OpenObject,
  release: ServedRelease | undefined,
  head: boolean,
): Promise<void> {
  // Only the headers that describe the bytes: the error page's validators and caching are not
  // those of the missing URL.
  setContentHeaders(res, object.key, describeObject(release, object.key, object.stats.size)?.headers ?? {});
  res.setHeader('Content-Length', object.stats.size);
  res.statusCode = 404;
  return streamBody(res, object.handle, head, 0, object.stats.size - 1);
}

/** Content-Type (the manifest's, else guessed from the key) and the other headers that describe the
 * bytes. Also the edge's (HTTP/1.1 or HTTP/2). */
export function setContentHeaders(
  res: ServerResponse | Http2ServerResponse,
  key: string,
  headers: ObjectHeaders,
): void {
  res.setHeader('Content-Type', headers.contentType ?? mime.getType(key) ?? 'application/octet-stream');
  if (headers.contentEncoding !== undefined) res.setHeader('Content-Encoding', headers.contentEncoding);
  if (headers.contentDisposition !== undefined)
    res.setHeader('Content-Disposition', headers.contentDisposition);
  if (headers.contentLanguage !== undefined) res.setHeader('Content-Language', headers.contentLanguage);
}

/** Sends bytes `start`..`end` (inclusive) of the open file and closes it, whatever happens. */
async function streamBody(
  res: ServerResponse,
  handle: FileHandle,
  head: boolean,
  start: number,
  end: number,
): Promise<void> {
  if (head || end < start) {
    await handle.close();
    res.end();
    return;
  }
  // autoClose: the stream closes the descriptor on end, error and destroy (a client gone).
  const body = handle.createReadStream({ start, end, autoClose: true });
  try {
    await pipeline(body, res);
  } catch {
    // The client went away or the read failed mid-body; the headers are gone, so the only
    // honest answer left is the cut connection pipeline already made.
  }
}

/** Closes the object's descriptor if sending it fails before the body stream owns it. */
export async function closingOnError(object: OpenObject, sending: Promise<void>): Promise<void> {
  try {
    await sending;
  } catch (error) {
    await object.handle.close().catch(() => {});
    throw error;
  }
}

/** A short plain-text answer, `Content-Length` set, no body for HEAD. */
export function sendText(
  res: ServerResponse | Http2ServerResponse,
  status: number,
  message: string,
  head: boolean,
  headers: Record<string, string> = {},
): void {
  const body = Buffer.from(`${status} ${message}\n`, 'utf8');
  res.writeHead(status, {
    ...headers,
    'Content-Type': 'text/plain; charset=utf-8',
    'Content-Length': body.length,
  });
  if (head) res.end();
  else res.end(body);
}

function isNoSuchObject(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  // ENAMETOOLONG/ELOOP: a name no file can have; EISDIR: a folder, which is not an object.
  return (
    code === 'ENOENT' ||
    code === 'ENOTDIR' ||
    code === 'ENAMETOOLONG' ||
    code === 'ELOOP' ||
    code === 'EISDIR'
  );
}
