/**
 * `gcs`: Google Cloud Storage through its JSON API and the official @google-cloud/storage. Around
 * this module: gcs-errors.ts (the library's errors onto outlast's codes), gcs-setup.ts (`outlast
 * setup`) and gcs-options.ts (the config).
 *
 * Objects: the headers are the object resource's own fields (contentType, cacheControl, …); the
 * sha256 and user metadata are its custom `metadata`, so a listing (objects.list returns whole
 * resources) carries them. A put at most RESUMABLE_THRESHOLD bytes is read whole, then sent as one
 * multipart upload; a larger one is a resumable upload in CHUNK_SIZE chunks, which GCS makes an
 * object only when the last chunk arrives, so an aborted put leaves nothing visible (the session
 * expires unfinished). The MD5 the caller knows goes up as `md5Hash`, which GCS checks itself.
 *
 * Validation: the library's own (crc32c by default, md5 on request) hashes the bytes again as
 * they stream and, on a mismatch found after the upload, deletes the object: that delete would
 * take the key's previous object with it, and the hash is computed after GCS has committed. We
 * turn it off and rely on GCS verifying the `md5Hash` we send, which refuses the upload before
 * it becomes visible. Reads skip it too: Store's callers check the sha256 where it matters.
 *
 * Calls: the library takes no AbortSignal except through streams, so a call races its signal
 * (`cancelled` at once) and uploads and downloads are piped with it (the stream is destroyed, the
 * library aborts its request). The library's retries are off: Store retries, one attempt per call.
 */
import { createReadStream as openFile } from 'node:fs';
import { PassThrough, Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type File, type FileMetadata, Storage, type StorageOptions } from '@google-cloud/storage';
import { OutlastError } from '../../errors.ts';
import { checkSignal, readAll } from '../abort.ts';
import { type ObjectInfo, type ObjectSource, SHA256_METADATA_KEY, type StorageDriver } from '../driver.ts';
import { authOptions } from './gcs-auth.ts';
import { type GcsErrorContext, gcsError, gcsStatus, gcsWhere, noSuchBucket } from './gcs-errors.ts';
import { GCS_CAPABILITIES, GCS_TYPE, type GcsStorageConfig } from './gcs-options.ts';
import { setupGcsBucket } from './gcs-setup.ts';

export type { GcsStorageConfig } from './gcs-options.ts';

const DRIVER_NAME = GCS_TYPE;
/** objects.list's most items per page. */
const MAX_PAGE_SIZE = 1000;
/** Up to this size a put is read into memory and sent in one multipart request. */
export const RESUMABLE_THRESHOLD = 8 * 1024 * 1024;
/** A resumable upload's chunk: a multiple of 256 KiB, as GCS requires; one is buffered at a time. */
export const CHUNK_SIZE = 8 * 1024 * 1024;
const DEFAULT_ENDPOINT = 'https://storage.googleapis.com';

/** A driver for one bucket. Creating it makes no request; credentials are read on the first call. */
export function createGcsDriver(options: GcsStorageConfig): StorageDriver {
  const storage = new Storage(storageOptions(options));
  const bucket = storage.bucket(options.bucket);
  const context: GcsErrorContext = {
    source: DRIVER_NAME,
    bucket: options.bucket,
    endpoint: options.apiEndpoint ?? DEFAULT_ENDPOINT,
    credentialSource: credentialSource(options),
    ...(options.credentials ? { secret: options.credentials.private_key } : {}),
  };
  // A missing object and a missing bucket are both 404: the first such 404 asks for the bucket.
  let bucketSeen = false;

  async function call<T>(
    operation: string,
    key: string | undefined,
    signal: AbortSignal | undefined,
    run: () => Promise<T>,
  ): Promise<T> {
    try {
      checkSignal(signal, DRIVER_NAME, gcsWhere(context, operation, key));
      const result = await raced(run(), signal);
      bucketSeen = true;
      return result;
    } catch (error) {
      throw gcsError(context, error, operation, key);
    }
  }

  /** Rethrows a 404 as the bucket's not_found when the bucket is missing; else undefined. */
  async function missingBucket(error: unknown, operation: string, key: string, signal?: AbortSignal) {
    if (gcsStatus(error) !== 404) throw gcsError(context, error, operation, key);
    if (bucketSeen) return;
    const [exists] = await raced(bucket.exists(), signal).catch((thrown: unknown) => {
      throw gcsError(context, thrown, operation, key);
    });
    if (!exists) throw noSuchBucket(context, operation, key);
    bucketSeen = true;
  }

  return {
    name: DRIVER_NAME,
    capabilities: GCS_CAPABILITIES,

    async list({ prefix = '', cursor, pageSize = MAX_PAGE_SIZE, signal }) {
      const [files, next] = await call('list', prefix || undefined, signal, () =>
        bucket.getFiles({
          autoPaginate: false,
          maxResults: Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(pageSize))),
          ...(prefix ? { prefix } : {}),
          ...(cursor === undefined ? {} : { pageToken: cursor }),
        }),
      );
      const items = files.map((file) => objectInfo(file.name, file.metadata));
      const token = (next as { pageToken?: string } | null | undefined)?.pageToken;
      return token ? { items, cursor: token } : { items };
    },

    async stat(key, callOptions) {
      const signal = callOptions?.signal;
      checkSignal(signal, DRIVER_NAME, gcsWhere(context, 'stat', key));
      try {
        const [metadata] = await raced(bucket.file(key).getMetadata(), signal);
        bucketSeen = true;
        return objectInfo(key, metadata);
      } catch (error) {
        await missingBucket(error, 'stat', key, signal);
        return undefined;
      }
    },

    async get(key, callOptions) {
      const signal = callOptions?.signal;
      const metadata = await call('get', key, signal, async () => (await bucket.file(key).getMetadata())[0]);
      // The bytes of the generation just read, so the info and the body are of the same object.
      const file = bucket.file(key, { generation: Number(metadata.generation) });
      checkSignal(signal, DRIVER_NAME, gcsWhere(context, 'get', key));
      // Stored bytes as they are: a gzip-encoded object is not decompressed (the origin serves
      // it with its Content-Encoding), and validation is off (see the module comment).
      const raw = file.createReadStream({ decompress: false, validation: false });
      return {
        info: objectInfo(key, metadata),
        body: guardBody(raw, signal, (e) => gcsError(context, e, 'get', key)),
      };
    },

    async put(key, source, putOptions) {
      const { sha256, md5, metadata = {}, signal, ...headers } = putOptions;
      const resource: FileMetadata = defined({
        contentType: headers.contentType,
        cacheControl: headers.cacheControl,
        contentEncoding: headers.contentEncoding,
        contentDisposition: headers.contentDisposition,
        contentLanguage: headers.contentLanguage,
        metadata: { ...metadata, [SHA256_METADATA_KEY]: sha256 },
        ...(md5 ? { md5Hash: Buffer.from(md5, 'hex').toString('base64') } : {}),
      });
      await call('put', key, signal, () => upload(bucket.file(key), source, resource, signal));
    },

    async delete(key, callOptions) {
      const signal = callOptions?.signal;
      checkSignal(signal, DRIVER_NAME, gcsWhere(context, 'delete', key));
      try {
        await raced(bucket.file(key).delete(), signal);
        bucketSeen = true;
      } catch (error) {
        // Idempotent: a missing object is deleted already; a missing bucket is still not_found.
        await missingBucket(error, 'delete', key, signal);
      }
    },

    async copy(fromKey, toKey, callOptions) {
      // objects.rewrite without a body: GCS keeps the source's headers and metadata. The
      // library follows rewriteTokens until the copy is done (large objects take several calls).
      await call(`copy to ${JSON.stringify(toKey)} from`, fromKey, callOptions?.signal, () =>
        bucket.file(fromKey).copy(bucket.file(toKey)),
      );
    },

    setup(setupOptions) {
      return setupGcsBucket(
        { ...context, storage, gcsBucket: bucket, projectId: options.projectId },
        setupOptions,
      );
    },

    async close() {
      // The library keeps no handles that outlive a request.
    },
  };
}

function storageOptions(options: GcsStorageConfig): StorageOptions {
  return {
    ...(options.projectId ? { projectId: options.projectId } : {}),
    ...authOptions(options, DRIVER_NAME),
    // Without useAuthWithCustomEndpoint the library sends no Authorization to another endpoint.
    ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint, useAuthWithCustomEndpoint: true } : {}),
    retryOptions: { autoRetry: false, maxRetries: 0 },
  };
}

function credentialSource(options: GcsStorageConfig): string {
  if (options.credentials) return `the service account ${options.credentials.client_email} (credentials)`;
  if (options.keyFilename) return `the key file ${options.keyFilename}`;
  return 'Application Default Credentials';
}

/** One put: small ones read whole and sent in one request, large ones as a resumable upload. */
async function upload(
  file: File,
  source: ObjectSource,
  resource: FileMetadata,
  signal: AbortSignal | undefined,
): Promise<void> {
  const size = source.kind === 'bytes' ? source.bytes.byteLength : source.size;
  if (size <= RESUMABLE_THRESHOLD) {
    const bytes = source.kind === 'bytes' ? Buffer.from(source.bytes) : await readAll(open(source), signal);
    if (bytes.length !== size) throw sizeChanged(size, bytes.length);
    const writer = file.createWriteStream({ resumable: false, validation: false, metadata: resource });
    await pipeline(Readable.from([bytes]), writer, ...(signal ? [{ signal }] : []));
    return;
  }
  // The session is opened apart: the library's createWriteStream forgets useAuthWithCustomEndpoint
  // when it opens one itself, so against an emulator it would open it without a token. The PUTs
  // to the session URI need none (the URI is the credential).
  const metadata = { ...resource, contentLength: size } as FileMetadata;
  const [uri] = await raced(file.createResumableUpload({ metadata }), signal);
  checkSignal(signal, DRIVER_NAME, `put ${JSON.stringify(file.name)}`);
  const writer = file.createWriteStream({
    uri,
    resumable: true,
    validation: false,
    chunkSize: CHUNK_SIZE,
    metadata,
  });
  await pipeline(open(source), exactly(size), writer, ...(signal ? [{ signal }] : []));
}

function open(source: ObjectSource): Readable {
  if (source.kind === 'bytes') return Readable.from([Buffer.from(source.bytes)]);
  if (source.kind === 'file') return openFile(source.path);
  return source.open();
}

/** Passes `size` bytes through, and fails a source that gives more or fewer. */
function exactly(size: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length;
      if (seen > size) done(sizeChanged(size, seen));
      else done(null, chunk);
    },
    flush(done) {
      done(seen === size ? null : sizeChanged(size, seen));
    },
  });
}

function sizeChanged(expected: number, got: number): OutlastError {
  return new OutlastError(
    'conflict',
    `the source gave ${got} bytes, not the ${expected} announced: the file changed since it was scanned`,
    { source: DRIVER_NAME, retryable: false },
  );
}

/** `promise`, or an AbortError as soon as `signal` aborts (the request may still finish). */
function raced<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function objectInfo(key: string, resource: FileMetadata): ObjectInfo {
  const { [SHA256_METADATA_KEY]: sha256, ...rest } = (resource.metadata ?? {}) as Record<string, unknown>;
  const metadata = Object.fromEntries(
    Object.entries(rest)
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([name, value]) => [name, String(value)]),
  );
  return defined({
    key,
    size: Number(resource.size ?? 0),
    sha256: typeof sha256 === 'string' ? sha256 : undefined,
    etag: resource.etag,
    lastModified: resource.updated ? new Date(resource.updated) : undefined,
    contentType: resource.contentType,
    cacheControl: resource.cacheControl,
    contentEncoding: resource.contentEncoding,
    contentDisposition: resource.contentDisposition,
    contentLanguage: resource.contentLanguage,
    metadata,
  });
}

/** The download stream, its errors as outlast's, destroyed when `signal` aborts. */
function guardBody(
  raw: Readable,
  signal: AbortSignal | undefined,
  fail: (error: unknown) => OutlastError,
): Readable {
  const guarded = new PassThrough();
  raw.once('error', (error) => guarded.destroy(fail(error)));
  const onAbort = () => raw.destroy(Object.assign(new Error('aborted'), { name: 'AbortError' }));
  signal?.addEventListener('abort', onAbort, { once: true });
  guarded.once('close', () => {
    signal?.removeEventListener('abort', onAbort);
    if (!raw.readableEnded) raw.destroy();
  });
  return raw.pipe(guarded);
}

/** The object without its undefined fields, so infos compare and print cleanly. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
