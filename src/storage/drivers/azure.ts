/**
 * `azure`: Azure Blob Storage through @azure/storage-blob, block blobs in one container. Around
 * this module: azure-client.ts (the service client for each login), azure-upload.ts (how a put
 * goes up, by size), azure-metadata.ts (outlast's metadata keys as Azure metadata names),
 * azure-errors.ts (the SDK's errors onto outlast's codes) and azure-setup.ts (`outlast setup`).
 *
 * Objects: the headers are the blob's HTTP headers, the sha256 and user metadata its metadata
 * (`o_outlast_sha256`, see azure-metadata.ts). List Blobs with include=metadata carries both, so
 * a listing needs no stat per object. Copy is the service's Copy Blob, which keeps the source's
 * headers and metadata; deleteMany is one blob batch (up to 256 deletes).
 *
 * Listing order: the service documents "alphabetical" order. Azurite sorts names as JavaScript
 * strings (UTF-16 code units), which differs from the contract's UTF-8 byte order only where
 * one key has a character U+E000–U+FFFF and another an astral one (an emoji) at the first place
 * they differ. Each page is sorted here by UTF-8 bytes; across a page boundary such a pair may
 * still come out in the service's order (real Azure's exact order is unverified).
 *
 * What Azurite (the emulator the tests run against) does not show, so stays unverified here: the
 * static website endpoint itself (`<account>.z<N>.web.core.windows.net`: index documents and the
 * 404 page; Azurite only stores the setting), DefaultAzureCredential (it needs Entra ID or a
 * managed identity) and SAS logins against the real service, batch deletes with a SAS (Azurite
 * answers them HTTP 500, so a SAS login deletes one blob at a time), anonymous access being
 * disallowed on the account (AllowBlobPublicAccess, which Azurite does not have), real Azure's
 * listing order (above), and whether real Azure's Put Blob checks `x-ms-blob-content-md5` as well
 * as Content-MD5 (both are sent). Azurite does check Content-MD5 and each block's MD5, and keeps
 * Copy Blob's headers and metadata; it drops empty metadata values from Get Blob Properties
 * (azure-metadata.ts carries them in the name).
 */
import { PassThrough, Readable } from 'node:stream';
import type { BlobGetPropertiesResponse, BlobItem, ListBlobsFlatSegmentResponse } from '@azure/storage-blob';
import { OutlastError } from '../../errors.ts';
import { checkSignal } from '../abort.ts';
import { type ObjectHeaders, type ObjectInfo, SHA256_METADATA_KEY, type StorageDriver } from '../driver.ts';
import { compareKeys } from '../keys.ts';
import { azureClients, type ResolvedClients } from './azure-client.ts';
import {
  type AzureErrorContext,
  azureCodeOf,
  azureError,
  azureErrorName,
  azureWhere,
} from './azure-errors.ts';
import { decodeMetadata, encodeMetadata } from './azure-metadata.ts';
import {
  AZURE_CAPABILITIES,
  AZURE_MAX_DELETE_BATCH,
  AZURE_TYPE,
  type AzureStorageConfig,
} from './azure-options.ts';
import { setupAzureContainer } from './azure-setup.ts';
import { BLOCK_SIZE, MAX_BLOCKS, uploadBlob } from './azure-upload.ts';

export type { AzureStorageConfig } from './azure-options.ts';

const DRIVER_NAME = AZURE_TYPE;
/** List Blobs' most items per page. */
const MAX_PAGE_SIZE = 5000;
const DEFAULT_PAGE_SIZE = 1000;
/** How often a copy the service has not finished yet is asked about (within one account it
 * usually is done when Copy Blob answers). */
const COPY_POLL_MS = 200;
/** Per-key failures named in a deleteMany error before "and N more". */
const NAMED_FAILURES = 5;

/**
 * A driver for one container. Creating it makes no request; with `account` alone,
 * @azure/identity is imported and DefaultAzureCredential made on the first call.
 */
export function createAzureDriver(options: AzureStorageConfig): StorageDriver {
  const clients = azureClients(options);
  const { container } = options;
  const errorContext: AzureErrorContext = {
    source: DRIVER_NAME,
    container,
    endpoint: clients.endpoint,
    credentialSource: clients.credentialSource,
    secrets: clients.secrets,
  };

  async function call<T>(
    operation: string,
    key: string | undefined,
    signal: AbortSignal | undefined,
    run: (clients: ResolvedClients) => Promise<T>,
  ): Promise<T> {
    try {
      checkSignal(signal, DRIVER_NAME, azureWhere(errorContext, operation, key));
      const resolved = await clients.resolved();
      checkSignal(signal, DRIVER_NAME, azureWhere(errorContext, operation, key));
      return await run(resolved);
    } catch (error) {
      throw azureError(errorContext, error, operation, key);
    }
  }
  const abort = (signal: AbortSignal | undefined) => (signal ? { abortSignal: signal } : {});

  return {
    name: DRIVER_NAME,
    // Azurite answers a blob batch made with a SAS with HTTP 500; whether Azure takes one depends
    // on the kind of SAS. Single deletes (run concurrently by Store) work with any SAS.
    capabilities: clients.bySas ? { ...AZURE_CAPABILITIES, deleteMany: false } : AZURE_CAPABILITIES,

    async list({ prefix = '', cursor, pageSize = DEFAULT_PAGE_SIZE, signal }) {
      const maxPageSize = Math.min(MAX_PAGE_SIZE, Math.max(1, Math.floor(pageSize)));
      const page = await call('list', prefix || undefined, signal, async ({ containerClient }) => {
        const pages = containerClient
          .listBlobsFlat({ includeMetadata: true, ...(prefix ? { prefix } : {}), ...abort(signal) })
          .byPage({ maxPageSize, ...(cursor === undefined ? {} : { continuationToken: cursor }) });
        const next = await pages.next();
        return next.done ? undefined : (next.value as ListBlobsFlatSegmentResponse);
      });
      const items = (page?.segment.blobItems ?? [])
        .map(listedInfo)
        .sort((a: ObjectInfo, b: ObjectInfo) => compareKeys(a.key, b.key));
      return page?.continuationToken ? { items, cursor: page.continuationToken } : { items };
    },

    async stat(key, callOptions) {
      const signal = callOptions?.signal;
      try {
        return await call('stat', key, signal, async ({ containerClient }) =>
          objectInfo(key, await containerClient.getBlobClient(key).getProperties(abort(signal))),
        );
      } catch (error) {
        // A HEAD has no body, but the service's error code is a header: a missing container says so.
        const cause = (error as OutlastError).cause;
        if (azureErrorName(cause) === 'BlobNotFound') return undefined;
        throw error;
      }
    },

    async get(key, callOptions) {
      const signal = callOptions?.signal;
      const out = await call('get', key, signal, ({ containerClient }) =>
        containerClient.getBlobClient(key).download(0, undefined, abort(signal)),
      );
      const body = guardBody(out.readableStreamBody, (error) => azureError(errorContext, error, 'get', key));
      return { info: objectInfo(key, out), body };
    },

    async put(key, source, putOptions) {
      const { sha256, md5, metadata = {}, signal, ...headers } = putOptions;
      await call('put', key, signal, ({ containerClient }) =>
        uploadBlob(containerClient.getBlockBlobClient(key), source, {
          headers: blobHeaders(headers),
          metadata: encodeMetadata({ ...metadata, [SHA256_METADATA_KEY]: sha256 }),
          md5,
          signal,
          key,
          errorSource: DRIVER_NAME,
        }),
      );
    },

    async delete(key, callOptions) {
      const signal = callOptions?.signal;
      await call('delete', key, signal, async ({ containerClient }) => {
        await containerClient.getBlobClient(key).deleteIfExists(abort(signal));
      });
    },

    async deleteMany(keys, callOptions) {
      if (keys.length === 0) return;
      if (keys.length > AZURE_MAX_DELETE_BATCH) {
        const message = `deleteMany: ${keys.length} keys, at most ${AZURE_MAX_DELETE_BATCH} per call`;
        throw new OutlastError('invalid_argument', message, { source: DRIVER_NAME });
      }
      const signal = callOptions?.signal;
      const label = `${keys[0]} (+${keys.length - 1} more)`;
      const out = await call('deleteMany', label, signal, ({ containerClient }) =>
        containerClient.getBlobBatchClient().deleteBlobs(
          keys.map((key) => containerClient.getBlobClient(key)),
          abort(signal),
        ),
      );
      // A blob already gone is what a delete wants.
      const failed = out.subResponses.filter(
        (item) => item.status >= 300 && item.errorCode !== 'BlobNotFound',
      );
      if (failed.length > 0) throw deleteManyError(errorContext, keys.length, failed, out);
    },

    async copy(fromKey, toKey, callOptions) {
      const signal = callOptions?.signal;
      await call(`copy to ${JSON.stringify(toKey)} from`, fromKey, signal, async ({ containerClient }) => {
        const source = containerClient.getBlobClient(fromKey);
        // Copy Blob within one account is authorized by the request's own credentials (and a SAS
        // client's URL carries its token); without metadata given, the source's is kept.
        const poller = await containerClient.getBlobClient(toKey).beginCopyFromURL(source.url, {
          ...abort(signal),
          intervalInMs: COPY_POLL_MS,
        });
        const done = await poller.pollUntilDone();
        if (done.copyStatus && done.copyStatus !== 'success') {
          throw new OutlastError('unavailable', `the copy ended ${done.copyStatus}`, { source: DRIVER_NAME });
        }
      });
    },

    setup(setupOptions) {
      return setupAzureContainer({ ...errorContext, clients: () => clients.resolved() }, setupOptions);
    },

    async maxObjectBytes() {
      return BLOCK_SIZE * MAX_BLOCKS;
    },

    async close() {},
  };
}

type Properties = Pick<
  BlobGetPropertiesResponse,
  | 'contentLength'
  | 'etag'
  | 'lastModified'
  | 'contentType'
  | 'cacheControl'
  | 'contentEncoding'
  | 'contentDisposition'
  | 'contentLanguage'
  | 'metadata'
>;

function objectInfo(key: string, out: Properties): ObjectInfo {
  const { [SHA256_METADATA_KEY]: sha256, ...metadata } = decodeMetadata(out.metadata);
  return defined({
    key,
    size: out.contentLength ?? 0,
    sha256,
    etag: unquote(out.etag),
    lastModified: out.lastModified,
    contentType: out.contentType,
    cacheControl: out.cacheControl,
    contentEncoding: out.contentEncoding,
    contentDisposition: out.contentDisposition,
    contentLanguage: out.contentLanguage,
    metadata,
  });
}

function listedInfo(item: BlobItem): ObjectInfo {
  const { properties } = item;
  return objectInfo(item.name, { ...properties, metadata: item.metadata ?? {} });
}

function blobHeaders(headers: ObjectHeaders) {
  return defined({
    blobContentType: headers.contentType,
    blobCacheControl: headers.cacheControl,
    blobContentEncoding: headers.contentEncoding,
    blobContentDisposition: headers.contentDisposition,
    blobContentLanguage: headers.contentLanguage,
  });
}

/** The failed sub-requests of a batch as one error, naming the first few keys. */
function deleteManyError(
  context: AzureErrorContext,
  total: number,
  failed: Array<{ status: number; errorCode?: string; _request: { url: string } }>,
  cause: unknown,
): OutlastError {
  const codes = failed.map((item) => azureCodeOf(item.errorCode, item.status));
  const code =
    codes.find((item) => item !== 'unavailable' && item !== 'rate_limited' && item !== 'timeout') ??
    codes[0]!;
  const named = failed
    .slice(0, NAMED_FAILURES)
    .map(
      (item) =>
        `${JSON.stringify(keyOfUrl(item._request.url, context.container))} (${item.errorCode ?? `HTTP ${item.status}`})`,
    );
  const more = failed.length > NAMED_FAILURES ? ` and ${failed.length - NAMED_FAILURES} more` : '';
  return new OutlastError(
    code,
    `deleteMany in container ${JSON.stringify(context.container)}: ${failed.length} of ${total} keys not deleted: ${named.join(', ')}${more}`,
    { source: DRIVER_NAME, cause },
  );
}

/** The key of a blob URL (`…/container/a%20b`) in `container`. */
function keyOfUrl(url: string, container: string): string {
  const path = new URL(url).pathname;
  const at = path.indexOf(`/${encodeURIComponent(container)}/`);
  return decodeURIComponent(at < 0 ? path : path.slice(at + container.length + 2));
}

/** The body of a download, whose network errors become outlast's (so Store retries a broken transfer). */
function guardBody(
  body: NodeJS.ReadableStream | undefined,
  fail: (error: unknown) => OutlastError,
): Readable {
  if (body === undefined) return Readable.from([]);
  const source = body as Readable;
  const guarded = new PassThrough();
  source.once('error', (error) => guarded.destroy(fail(error)));
  guarded.once('close', () => {
    if (!source.readableEnded) source.destroy();
  });
  return source.pipe(guarded);
}

function unquote(etag: string | undefined): string | undefined {
  return etag?.replace(/^(W\/)?"(.*)"$/, '$2');
}

/** The object without its undefined fields, so infos compare and print cleanly. */
function defined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, item]) => item !== undefined)) as T;
}
