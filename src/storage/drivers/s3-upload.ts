/**
 * The `s3` driver's put: how the bytes go up, by size. Every put sends the sha256 it stores as
 * `x-amz-content-sha256`, so the store checks the bytes against the manifest's hash (AWS and
 * Swift's s3api both refuse a mismatch); all but multipart puts also send Content-MD5.
 *
 *   - bytes, and files below BUFFER_LIMIT: read into memory, one PUT (a signed payload), sent
 *     past the SDK's per-command stack when the bucket allows (s3-put-direct.ts);
 *   - files up to MULTIPART_THRESHOLD: streamed with their length and an MD5 computed first.
 *     A stream of unknown length would make the SDK use aws-chunked, which Swift's S3 API and
 *     other stores refuse (notes §3(5)); with ContentLength set, a plain streamed PUT works;
 *   - larger files: a multipart upload (lib-storage), PART_SIZE parts, PART_QUEUE in flight, each
 *     with its Content-MD5 (s3-client.ts). The ETag is then `<md5 of the parts' md5s>-<parts>`.
 *
 * Buffering below 8 MiB keeps one read per file; streaming above bounds memory at about
 * 16 concurrent puts × 8 MiB, and multipart at 4 × 8 MiB per upload. A stream source goes the same
 * ways as a file, by its announced size.
 *
 * The signal aborts the reads of the source and the requests (the SDK's `abortSignal`); an
 * aborted multipart upload is aborted at the store too, so no part is left behind.
 */
import { createHash } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { PutObjectCommand, type PutObjectCommandInput, type S3Client } from '@aws-sdk/client-s3';
import { abortable, readAll } from '../abort.ts';
import type { ObjectSource } from '../driver.ts';
import { changedSource, sourceReadError } from '../source-errors.ts';
import type { DirectPut } from './s3-put-direct.ts';

/** Files below this are read into memory: one read, a signed payload, no second pass for MD5. */
export const BUFFER_LIMIT = 8 * 1024 * 1024;
/** Files from this size on go up in parts: a failed part costs a part, and memory stays bounded. */
export const MULTIPART_THRESHOLD = 16 * 1024 * 1024;
export const PART_SIZE = 8 * 1024 * 1024;
/** Parts in flight per upload. */
const PART_QUEUE = 4;

/**
 * Uploads `source` with `input` (bucket, key, headers, metadata). Errors are the SDK's (an abort
 * included: an AbortError), except for the source file's own (unreadable, or not the size the
 * scan saw), which are OutlastErrors.
 */
export async function uploadObject(
  client: S3Client,
  input: PutObjectCommandInput,
  source: ObjectSource,
  sha256: string,
  errorSource: string,
  signal?: AbortSignal,
  knownMd5?: string,
  direct?: DirectPut,
): Promise<void> {
  // The caller's MD5 (hex, from the scan) saves a pass over the bytes; S3 checks it all the same.
  const md5Of = (bytes: Uint8Array) =>
    knownMd5 === undefined ? md5(bytes) : Buffer.from(knownMd5, 'hex').toString('base64');
  // Bytes in memory go the direct way when the bucket's endpoint allows (s3-put-direct.ts).
  const putBytes = async (bytes: Buffer) => {
    const withMd5 = { ...input, ContentMD5: md5Of(bytes) };
    if (direct && (await direct.put(withMd5, bytes, sha256, signal))) return;
    await putOnce(client, { ...withMd5, Body: bytes, ContentLength: bytes.length }, signal);
  };
  if (source.kind === 'bytes') {
    await putBytes(Buffer.from(source.bytes.buffer, source.bytes.byteOffset, source.bytes.byteLength));
    return;
  }
  const key = input.Key ?? '';
  const reader =
    source.kind === 'file' ? await fileReader(source.path, key, errorSource) : streamReader(source);
  const streams: Readable[] = [];
  const stream = () => {
    const created = abortable(reader.stream(), signal);
    streams.push(created);
    return created;
  };
  try {
    const size = await reader.size();
    if (size !== source.size) throw changedSource(key, source, size, errorSource);
    if (size < BUFFER_LIMIT) {
      const bytes = await reader.readAll(signal);
      if (bytes.length !== size) throw changedSource(key, source, bytes.length, errorSource);
      await putBytes(bytes);
    } else if (size < MULTIPART_THRESHOLD) {
      const digest =
        knownMd5 === undefined ? await md5Stream(stream()) : Buffer.from(knownMd5, 'hex').toString('base64');
      await putOnce(client, { ...input, Body: stream(), ContentLength: size, ContentMD5: digest }, signal);
    } else {
      const params = { ...input, Body: stream(), ContentLength: size };
      // Loaded here: only files past the multipart threshold need it.
      const { Upload } = await import('@aws-sdk/lib-storage');
      const upload = new Upload({ client, params, partSize: PART_SIZE, queueSize: PART_QUEUE });
      // abort() makes done() reject at once; the parts in flight stop, then AbortMultipartUpload
      // goes out in the background, so no part is left at the store.
      const onAbort = () => void upload.abort().catch(() => undefined);
      signal?.addEventListener('abort', onAbort, { once: true });
      try {
        if (signal?.aborted) onAbort();
        await upload.done();
      } finally {
        signal?.removeEventListener('abort', onAbort);
      }
    }
  } finally {
    // A failed request may leave a stream mid-read: stop it before its handle goes away.
    for (const created of streams) created.destroy();
    await reader.close();
  }
}

/** How the upload reads a file or a stream source: its size, all of it, or a stream of it. */
interface SourceReader {
  size(): Promise<number>;
  readAll(signal: AbortSignal | undefined): Promise<Buffer>;
  stream(): Readable;
  close(): Promise<void>;
}

/** One open handle for every read, so the bytes sent are those whose size was checked. */
async function fileReader(path: string, key: string, errorSource: string): Promise<SourceReader> {
  const handle = await openSource(path, key, errorSource);
  return {
    size: async () => (await handle.stat()).size,
    readAll: (signal) => handle.readFile({ signal }),
    stream: () => handle.createReadStream({ start: 0, autoClose: false }),
    close: () => handle.close(),
  };
}

function streamReader(source: { open: () => Readable; size: number }): SourceReader {
  return {
    size: async () => source.size,
    readAll: (signal) => readAll(source.open(), signal),
    stream: () => source.open(),
    close: async () => {},
  };
}

/** One PutObject. Its payload hash is preset from the sha256 in its metadata (s3-client.ts). */
async function putOnce(client: S3Client, input: PutObjectCommandInput, signal: AbortSignal | undefined) {
  await client.send(new PutObjectCommand(input), signal ? { abortSignal: signal } : {});
}

async function openSource(path: string, key: string, errorSource: string): Promise<FileHandle> {
  try {
    return await open(path, 'r');
  } catch (error) {
    throw sourceReadError(error, path, key, errorSource);
  }
}

function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('base64');
}

async function md5Stream(stream: Readable): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of stream) hash.update(chunk as Buffer);
  return hash.digest('base64');
}
