/**
 * `s3`: Amazon S3 and S3-compatible stores (R2, B2, Wasabi, MinIO, Ceph, OpenStack Swift's s3api)
 * through the AWS SDK v3. Around this module: s3-client.ts (the client and its fixes for stores
 * other than AWS), s3-upload.ts (how a put goes up, by size), s3-errors.ts (the SDK's errors onto
 * outlast's codes) and s3-setup.ts (`outlast setup`).
 *
 * Objects: the sha256 is the user metadata `outlast-sha256` (`x-amz-meta-outlast-sha256`), the
 * headers are the object's own. ListObjectsV2 carries no user metadata: `listHasMetadata` is false.
 * Server-side copy keeps headers and metadata (MetadataDirective COPY), up to S3's 5 GiB limit.
 * Deletes stay idempotent where a store answers a missing key NoSuchKey (GCS's XML API); a store
 * that refuses DeleteObjects (NotImplemented) gets deleteMany as bounded single deletes from then on.
 */
import { PassThrough, Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  type GetObjectCommandOutput,
  HeadBucketCommand,
  HeadObjectCommand,
  type HeadObjectCommandOutput,
  ListObjectsV2Command,
  type PutObjectCommandInput,
  type _Error as S3DeleteError,
} from '@aws-sdk/client-s3';
import { type ErrorCode, OutlastError } from '../../errors.ts';
import { checkSignal } from '../abort.ts';
import {
  type CallOptions,
  type ObjectHeaders,
  type ObjectInfo,
  SHA256_METADATA_KEY,
  type StorageDriver,
} from '../driver.ts';
import { createS3Client, credentialSource, endpointLabel, type S3StorageConfig } from './s3-client.ts';
import {
  errorCodeOf,
  isBodiless,
  keyByKeyError,
  refusesDeleteObjects,
  type S3ErrorContext,
  s3Error,
  s3ErrorName,
  s3Status,
  s3Where,
} from './s3-errors.ts';
import { S3_CAPABILITIES, S3_MAX_DELETE_BATCH, S3_TYPE } from './s3-options.ts';
import { createDirectPut } from './s3-put-direct.ts';
import { setupS3Bucket } from './s3-setup.ts';
import { uploadObject } from './s3-upload.ts';

/** The `s3` storage config (declared in s3-options.ts). */
export type { S3StorageConfig } from './s3-client.ts';

const DRIVER_NAME = S3_TYPE;
/** ListObjectsV2's most keys per request. */
const MAX_PAGE_SIZE = 1000;
const MAX_DELETE_BATCH = S3_MAX_DELETE_BATCH;
/** Per-key failures named in a deleteMany error before "and N more". */
const NAMED_FAILURES = 5;
/** Single deletes in flight for a deleteMany once the store has refused DeleteObjects. */
const SINGLE_DELETE_CONCURRENCY = 16;

/**
 * A driver for one bucket. Creating it makes no request; credentials are resolved on the first
 * call. The driver keeps sockets alive between calls: `close()` releases them.
 */
export function createS3Driver(options: S3StorageConfig): StorageDriver {
  const { bucket } = options;
  const client = createS3Client(options);
  // PutObject of bytes in memory, the bulk of a deploy, without the SDK's per-command cost.
  const direct = createDirectPut(client, options);
  const errorContext: S3ErrorContext = {
    source: DRIVER_NAME,
    bucket,
    endpoint: endpointLabel(options),
    credentialSource: credentialSource(options),
    ...(options.credentials ? { secret: options.credentials.secretAccessKey } : {}),
  };
  // A HEAD of a missing object and a HEAD in a missing bucket both answer a bare 404: the first
  // such 404 asks whether the bucket exists; once it did (or any call worked), it is not asked again.
  let bucketSeen = false;
  // Set when the store refuses DeleteObjects (GCS's XML API did, with NotImplemented, until 2026):
  // deleteMany then deletes key by key for the rest of the driver's life.
  let singleDeletes = false;

  /** One SDK call: the signal checked first (the SDK would reject too, but only once it signs). */
  async function call<T>(
    operation: string,
    key: string | undefined,
    signal: AbortSignal | undefined,
    run: (sendOptions: { abortSignal?: AbortSignal }) => Promise<T>,
  ): Promise<T> {
    try {
      checkSignal(signal, DRIVER_NAME, s3Where(errorContext, operation, key));
      const result = await run(sendOptions({ signal }));
      bucketSeen = true;
      return result;
    } catch (error) {
      throw s3Error(errorContext, error, operation, key);
    }
  }

  async function bucketMissing(callOptions: CallOptions | undefined): Promise<boolean> {
    if (bucketSeen) return false;
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }), sendOptions(callOptions));
      bucketSeen = true;
      return false;
    } catch (error) {
      if (callOptions?.signal?.aborted) throw error;
      // Only a clear 404 says so; a HEAD we may not make must not turn a missing object into an error.
      return s3Status(error) === 404;
    }
  }

  async function deleteOne(key: string, callOptions: CallOptions | undefined): Promise<void> {
    await call('delete', key, callOptions?.signal, (options) =>
      client
        .send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), options)
        // S3 answers a missing key 204, GCS's XML API 404 NoSuchKey: gone either way.
        .catch((error: unknown) => {
          if (s3ErrorName(error) !== 'NoSuchKey') throw error;
        }),
    );
  }

  /** deleteMany without DeleteObjects: every key is tried, SINGLE_DELETE_CONCURRENCY at a time. */
  async function deleteEach(keys: string[], label: string, callOptions: CallOptions | undefined) {
    checkSignal(callOptions?.signal, DRIVER_NAME, s3Where(errorContext, 'deleteMany', label));
    const failures: { key: string; error: OutlastError }[] = [];
    let next = 0;
    const worker = async () => {
      while (next < keys.length) {
        const key = keys[next++]!;
        await deleteOne(key, callOptions).catch((error: OutlastError) => failures.push({ key, error }));
      }
    };
    await Promise.all(Array.from({ length: Math.min(SINGLE_DELETE_CONCURRENCY, keys.length) }, worker));
    if (failures.length > 0) throw keyByKeyError(DRIVER_NAME, bucket, keys.length, failures, NAMED_FAILURES);
  }

  return {
    name: DRIVER_NAME,
    capabilities: S3_CAPABILITIES,

    async list({ prefix = '', cursor, pageSize = MAX_PAGE_SIZE, signal }) {
      const out = await call('list', prefix || undefined, signal, (options) =>
        client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            ...(prefix ? { Prefix: prefix } : {}),
            ...(cursor === undefined ? {} : { ContinuationToken: cursor }),
            MaxKeys: Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(pageSize))),
          }),
          options,
        ),
      );
      const items: ObjectInfo[] = (out.Contents ?? []).map((item) =>
        defined({
          key: item.Key ?? '',
          size: item.Size ?? 0,
          etag: unquote(item.ETag),
          lastModified: item.LastModified,
        }),
      );
      if (!out.IsTruncated) return { items };
      if (!out.NextContinuationToken) {
        const message = `list in bucket ${JSON.stringify(bucket)}: a truncated page without a continuation token`;
        throw new OutlastError('internal', message, { source: DRIVER_NAME });
      }
      return { items, cursor: out.NextContinuationToken };
    },

    async stat(key, callOptions) {
      checkSignal(callOptions?.signal, DRIVER_NAME, s3Where(errorContext, 'stat', key));
      try {
        const head = await client.send(
          new HeadObjectCommand({ Bucket: bucket, Key: key }),
          sendOptions(callOptions),
        );
        bucketSeen = true;
        return objectInfo(key, head);
      } catch (error) {
        if (s3Status(error) === 404) {
          const missing = await bucketMissing(callOptions).catch((thrown: unknown) => {
            throw s3Error(errorContext, thrown, 'stat', key);
          });
          if (missing) throw s3Error(errorContext, noSuchBucket(error), 'stat', key);
          return undefined;
        }
        throw s3Error(errorContext, await explainHead(error, key, callOptions), 'stat', key);
      }
    },

    async get(key, callOptions) {
      const out = await call('get', key, callOptions?.signal, (options) =>
        client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), options),
      );
      const body = guardBody(out.Body, (error) => s3Error(errorContext, error, 'get', key));
      return { info: objectInfo(key, out), body };
    },

    async put(key, source, putOptions) {
      const { sha256, md5, metadata = {}, signal, ...headers } = putOptions;
      const input: PutObjectCommandInput = {
        Bucket: bucket,
        Key: key,
        ...headerParams(headers),
        Metadata: { ...metadata, [SHA256_METADATA_KEY]: sha256 },
      };
      await call('put', key, signal, () =>
        uploadObject(client, input, source, sha256, DRIVER_NAME, signal, md5, direct),
      );
    },

    async delete(key, callOptions) {
      await deleteOne(key, callOptions);
    },

    async deleteMany(keys, callOptions) {
      if (keys.length === 0) return;
      if (keys.length > MAX_DELETE_BATCH) {
        const message = `deleteMany: ${keys.length} keys, at most ${MAX_DELETE_BATCH} per call`;
        throw new OutlastError('invalid_argument', message, { source: DRIVER_NAME });
      }
      const label = `${keys[0]} (+${keys.length - 1} more)`;
      if (singleDeletes) return deleteEach(keys, label, callOptions);
      const out = await call('deleteMany', label, callOptions?.signal, (options) =>
        client
          .send(
            new DeleteObjectsCommand({
              Bucket: bucket,
              Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
            }),
            options,
          )
          .catch((error: unknown) => {
            if (!refusesDeleteObjects(error)) throw error;
            return undefined;
          }),
      );
      if (out === undefined) {
        singleDeletes = true;
        return deleteEach(keys, label, callOptions);
      }
      // A key that was not there is deleted as far as the caller goes (GCS may say NoSuchKey).
      const failed = (out.Errors ?? []).filter((item) => item.Code !== 'NoSuchKey');
      if (failed.length) throw deleteManyError(bucket, keys.length, failed, out);
    },

    async copy(fromKey, toKey, callOptions) {
      await call(`copy to ${JSON.stringify(toKey)} from`, fromKey, callOptions?.signal, (options) =>
        client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: toKey,
            CopySource: `${bucket}/${encodeKey(fromKey)}`,
            MetadataDirective: 'COPY',
          }),
          options,
        ),
      );
    },

    setup(setupOptions) {
      const prefix = options.prefix ? options.prefix.replace(/\/*$/, '/') : '';
      return setupS3Bucket({ ...errorContext, client, region: options.region, prefix }, setupOptions);
    },

    async close() {
      client.destroy();
    },
  };

  /**
   * A HEAD's error has no body, so a 403 or 400 says nothing of why. A one-byte GET of the same
   * key gets the store's reason (wrong secret, unknown key id, denied); it is asked only then.
   */
  async function explainHead(
    error: unknown,
    key: string,
    callOptions: CallOptions | undefined,
  ): Promise<unknown> {
    const status = s3Status(error);
    if (!isBodiless(error) || (status !== 400 && status !== 401 && status !== 403)) return error;
    try {
      const out = await client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, Range: 'bytes=0-0' }),
        sendOptions(callOptions),
      );
      (out.Body as Readable | undefined)?.destroy?.();
      return error;
    } catch (detailed) {
      return isBodiless(detailed) ? error : detailed;
    }
  }
}

/** The SDK's per-call options for a driver call's options. */
function sendOptions(callOptions: CallOptions | undefined): { abortSignal?: AbortSignal } {
  return callOptions?.signal ? { abortSignal: callOptions.signal } : {};
}

function objectInfo(key: string, out: HeadObjectCommandOutput | GetObjectCommandOutput): ObjectInfo {
  const { [SHA256_METADATA_KEY]: sha256, ...metadata } = out.Metadata ?? {};
  return defined({
    key,
    size: out.ContentLength ?? 0,
    sha256,
    etag: unquote(out.ETag),
    lastModified: out.LastModified,
    contentType: out.ContentType,
    cacheControl: out.CacheControl,
    contentEncoding: out.ContentEncoding,
    contentDisposition: out.ContentDisposition,
    contentLanguage: out.ContentLanguage,
    metadata,
  });
}

function headerParams(headers: ObjectHeaders): Partial<PutObjectCommandInput> {
  return defined({
    ContentType: headers.contentType,
    CacheControl: headers.cacheControl,
    ContentEncoding: headers.contentEncoding,
    ContentDisposition: headers.contentDisposition,
    ContentLanguage: headers.contentLanguage,
  });
}

/**
 * The key as it goes into `x-amz-copy-source`: each segment percent-encoded (UTF-8), the slashes
 * kept. encodeURIComponent leaves `!'()*` as they are, which S3 and Swift read back unchanged.
 */
export function encodeKey(key: string): string {
  return key.split('/').map(encodeURIComponent).join('/');
}

/** The per-key failures of a DeleteObjects answer as one error, naming the first few keys. */
function deleteManyError(
  bucket: string,
  total: number,
  errors: S3DeleteError[],
  cause: unknown,
): OutlastError {
  const codes = errors.map((item) => errorCodeOf(item.Code));
  // Retrying the batch cannot fix a refusal: report that one before any transient failure.
  const code: ErrorCode =
    codes.find((item) => item !== 'unavailable' && item !== 'rate_limited' && item !== 'timeout') ??
    codes[0]!;
  const named = errors
    .slice(0, NAMED_FAILURES)
    .map(
      (item) =>
        `${JSON.stringify(item.Key ?? '')} (${item.Code ?? 'error'}${item.Message ? `: ${item.Message}` : ''})`,
    );
  const more = errors.length > NAMED_FAILURES ? ` and ${errors.length - NAMED_FAILURES} more` : '';
  return new OutlastError(
    code,
    `deleteMany in bucket ${JSON.stringify(bucket)}: ${errors.length} of ${total} keys not deleted: ${named.join(', ')}${more}`,
    { source: DRIVER_NAME, cause },
  );
}

/** The body of a GET, whose network errors become outlast's (so Store retries a broken transfer). */
function guardBody(body: unknown, fail: (error: unknown) => OutlastError): Readable {
  if (body === undefined) return Readable.from([]);
  if (!(body instanceof Readable)) {
    throw new OutlastError('internal', 'get: the SDK returned a body that is not a Node stream', {
      source: DRIVER_NAME,
    });
  }
  const guarded = new PassThrough();
  body.once('error', (error) => guarded.destroy(fail(error)));
  // A reader that stops early closes the response, so its socket is not left half-read.
  guarded.once('close', () => {
    if (!body.readableEnded) body.destroy();
  });
  return body.pipe(guarded);
}

/** What a HEAD's bare 404 meant once HeadBucket said the bucket is missing too. */
function noSuchBucket(cause: unknown): Error {
  return Object.assign(new Error('The specified bucket does not exist.', { cause }), {
    Code: 'NoSuchBucket',
    $metadata: { httpStatusCode: 404 },
  });
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^(W\/)?"(.*)"$/, '$2');
}

/** The object without its undefined fields, so infos compare and print cleanly. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
