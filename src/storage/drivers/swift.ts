/**
 * `swift`: OpenStack Swift's native API (Rackspace Cloud Files, OVHcloud Object Storage, any
 * Swift cluster), through a small client of our own on undici (swift-http.ts) and the three
 * usual logins (swift-auth.ts). One container is one origin; staticweb serves it (swift-setup.ts).
 *
 * Objects:
 *   - URL = storage URL / container / key, every segment percent-encoded, so any valid key
 *     (spaces, `#`, `?`, `%`, `+`, Unicode) round-trips.
 *   - sha256 and user metadata are `X-Object-Meta-*` headers; the object headers (Content-Type,
 *     Cache-Control, Content-Encoding, Content-Disposition, Content-Language) are stored as they are
 *     by Swift 2.30's defaults. Swift always has a Content-Type: without one, it guesses from the name.
 *   - A put sends `ETag: <md5>`, so Swift refuses (422) bytes that arrive damaged.
 *   - A listing carries name, size, MD5 and date but no metadata: `listHasMetadata` is false.
 *   - Batch deletes use the bulk middleware (`POST ?bulk-delete`) when `/info` lists it, else
 *     single deletes. Copies are `PUT` with `X-Copy-From` (metadata kept by Swift).
 *   - Objects over 5 GiB would need SLO/DLO segments, which this driver does not do yet.
 *
 * Statuses: 401 (after one fresh login) and 403 → permission_denied; 404 → not_found (a missing
 * object on stat → undefined; a missing container, checked once, → not_found naming it);
 * 408 and socket timeouts → timeout; 429/498 → rate_limited (Retry-After kept); 422 (MD5
 * mismatch), 5xx, refused or reset connections → unavailable, retryable; 507 → unavailable, final.
 */
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { OutlastError } from '../../errors.ts';
import { checkSignal } from '../abort.ts';
import type {
  CallOptions,
  DriverCapabilities,
  GetResult,
  ListPage,
  ObjectInfo,
  StorageDriver,
} from '../driver.ts';
import { createSwiftAuth, type SwiftStorageConfig } from './swift-auth.ts';
import { createBulkDeleter, DEFAULT_BULK_DELETES } from './swift-bulk.ts';
import { CloudFilesCdn, cdnSettings, cdnSetupStep, cdnUnsupported, purgeKeys } from './swift-cdn.ts';
import {
  containerUrl,
  createAgent,
  DRIVER_NAME,
  encodeSegments,
  failure,
  infoUrl,
  isSuccess,
  objectUrl,
  parseJson,
  SwiftClient,
  send,
} from './swift-http.ts';
import { guardBody, infoFromHeaders, prepareSource, putHeaders } from './swift-objects.ts';
import { SWIFT_CAPABILITIES } from './swift-options.ts';
import { type SwiftCdnSetup, swiftSetup, swiftSiteAliases } from './swift-setup.ts';

export type { SwiftStorageConfig } from './swift-auth.ts';
export { DRIVER_NAME } from './swift-http.ts';

/** Knobs for tests and special deployments; the config file never sets them. */
export interface SwiftDriverTuning {
  /** Send requests through this dispatcher instead of an agent of the driver's own (not closed by
   * `close()`); tests use it to watch or alter the traffic. */
  dispatcher?: Dispatcher;
  /** At most this many keys per bulk delete request, below the cluster's own limit. */
  bulkDeleteLimit?: number;
}

/** Swift's `container_listing_limit` default: the most one listing returns. */
const MAX_LISTING = 10_000;
const DEFAULT_PAGE_SIZE = 1000;
/** Swift's `max_file_size` default (5 GiB + 2): a larger single object needs SLO/DLO. */
const MAX_OBJECT_BYTES = 5 * 1024 ** 3 + 2;
const listing = z.array(
  z.object({
    name: z.string(),
    bytes: z.number(),
    hash: z.string().optional(),
    last_modified: z.string().optional(),
  }),
);

export function createSwiftDriver(
  options: SwiftStorageConfig,
  tuning: SwiftDriverTuning = {},
): StorageDriver {
  const { container } = options;
  if (container.includes('/')) {
    // Swift's paths are /account/container/object: a slash cannot be part of a container's name.
    throw new OutlastError('invalid_argument', `container ${JSON.stringify(container)} contains "/"`, {
      source: DRIVER_NAME,
      hint: 'use storage.prefix for a folder inside the container',
    });
  }
  const ownAgent = tuning.dispatcher ? undefined : createAgent();
  const dispatcher = tuning.dispatcher ?? ownAgent!;
  const auth = createSwiftAuth({
    auth: options.auth,
    interface: options.interface,
    dispatcher,
    ...(options.region === undefined ? {} : { region: options.region }),
  });
  const client = new SwiftClient(auth, dispatcher);
  /** Set once the container answered anything but 404: later 404s are then missing objects. */
  let containerSeen = false;

  const what = (operation: string, key?: string) =>
    `${operation} ${key === undefined ? '' : `${JSON.stringify(key)} `}in container ${JSON.stringify(container)}`;

  /** After a 404 on an object: a missing container is `not_found` (one HEAD, while unknown). */
  async function checkContainer(operation: string, options: CallOptions | undefined): Promise<void> {
    if (containerSeen) return;
    const response = await client.call(what(operation), (session) => ({
      method: 'HEAD',
      url: containerUrl(session.storageUrl, container),
      signal: options?.signal,
    }));
    await response.body.dump();
    if (response.statusCode === 404) throw containerMissing(operation);
    if (!isSuccess(response)) throw await failure(response, what(operation));
    containerSeen = true;
  }

  function containerMissing(operation: string): OutlastError {
    return new OutlastError(
      'not_found',
      `${operation}: container ${JSON.stringify(container)} does not exist`,
      {
        source: DRIVER_NAME,
        hint: 'create it with `outlast setup --create`',
      },
    );
  }

  async function objectRequest(
    operation: string,
    key: string,
    method: Dispatcher.HttpMethod,
    options: CallOptions | undefined,
  ) {
    // Before the login a request may need: an aborted call sends nothing.
    checkSignal(options?.signal, DRIVER_NAME, what(operation, key));
    const response = await client.call(what(operation, key), (session) => ({
      method,
      url: objectUrl(session.storageUrl, container, key),
      signal: options?.signal,
    }));
    if (isSuccess(response)) containerSeen = true;
    return response;
  }

  async function deleteOne(key: string, options?: CallOptions): Promise<void> {
    const response = await objectRequest('delete', key, 'DELETE', options);
    await response.body.dump();
    if (!isSuccess(response) && response.statusCode !== 404)
      throw await failure(response, what('delete', key));
  }

  const bulk = createBulkDeleter(
    client,
    container,
    tuning.bulkDeleteLimit ?? DEFAULT_BULK_DELETES,
    deleteOne,
  );

  let maxFileSize: Promise<number> | undefined;

  // Rackspace: the CDN publishes the container (swift-cdn.ts); elsewhere `cdn` cannot be done.
  const cdn = cdnSettings(options);
  const cdnSetup: SwiftCdnSetup | undefined = cdn
    ? {
        replacesAcl: true,
        step: (gate) => cdnSetupStep(new CloudFilesCdn(client, container), cdn.ttl, gate),
      }
    : options.cdn && options.auth.type !== 'rackspace'
      ? { replacesAcl: false, step: async () => cdnUnsupported() }
      : undefined;

  const driver: StorageDriver = {
    name: DRIVER_NAME,

    get capabilities(): DriverCapabilities {
      return {
        ...SWIFT_CAPABILITIES,
        // Once /info has said there is no bulk delete, Store deletes one by one itself.
        deleteMany: bulk.available,
        maxDeleteBatch: bulk.batch,
      };
    },

    async list({ prefix = '', cursor, pageSize = DEFAULT_PAGE_SIZE, signal }): Promise<ListPage> {
      checkSignal(signal, DRIVER_NAME, what('list', prefix));
      const size = Math.max(1, Math.min(pageSize, MAX_LISTING - 1));
      // One more than the page, so the last page is known without an empty request after it.
      const query = [`format=json`, `limit=${size + 1}`, `prefix=${encodeURIComponent(prefix)}`];
      if (cursor !== undefined) query.push(`marker=${encodeURIComponent(cursor)}`);
      const label = what('list', prefix);
      const response = await client.call(label, (session) => ({
        method: 'GET',
        url: `${containerUrl(session.storageUrl, container)}?${query.join('&')}`,
        headers: { accept: 'application/json' },
        signal,
      }));
      if (response.statusCode === 404) {
        await response.body.dump();
        throw containerMissing('list');
      }
      if (!isSuccess(response)) throw await failure(response, label);
      containerSeen = true;
      const text = response.statusCode === 204 ? '[]' : await response.body.text();
      const parsed = listing.safeParse(parseJson(text));
      if (!parsed.success) {
        throw new OutlastError('internal', `${label}: the listing is not the JSON Swift sends`, {
          source: DRIVER_NAME,
        });
      }
      const rows = parsed.data;
      const items = rows.slice(0, size).map((row): ObjectInfo => {
        const item: ObjectInfo = { key: row.name, size: row.bytes };
        if (row.hash) item.etag = row.hash;
        // Swift's listing dates are UTC without a zone designator.
        const date = row.last_modified ? new Date(`${row.last_modified}Z`) : undefined;
        if (date && !Number.isNaN(date.getTime())) item.lastModified = date;
        return item;
      });
      return rows.length > size ? { items, cursor: items[items.length - 1]!.key } : { items };
    },

    async stat(key, callOptions) {
      const response = await objectRequest('stat', key, 'HEAD', callOptions);
      await response.body.dump();
      if (response.statusCode === 404) {
        await checkContainer('stat', callOptions);
        return undefined;
      }
      if (!isSuccess(response)) throw await failure(response, what('stat', key));
      return infoFromHeaders(key, response);
    },

    async get(key, callOptions): Promise<GetResult> {
      const response = await objectRequest('get', key, 'GET', callOptions);
      if (response.statusCode === 404) {
        await response.body.dump();
        await checkContainer('get', callOptions);
        throw new OutlastError('not_found', `${what('get', key)}: no such object`, { source: DRIVER_NAME });
      }
      if (!isSuccess(response)) throw await failure(response, what('get', key));
      return { info: infoFromHeaders(key, response), body: guardBody(response.body, what('get', key)) };
    },

    async put(key, source, putOptions) {
      const label = what('put', key);
      const { signal } = putOptions;
      checkSignal(signal, DRIVER_NAME, label);
      const { md5, size, body } = await prepareSource(source, label, signal, putOptions.md5);
      if (size > MAX_OBJECT_BYTES) {
        throw new OutlastError(
          'invalid_argument',
          `${label}: ${size} bytes is over Swift's 5 GiB per object`,
          {
            source: DRIVER_NAME,
            hint: 'segmented uploads (SLO/DLO) are not supported yet',
          },
        );
      }
      const headers = putHeaders(putOptions);
      headers['content-length'] = String(size);
      headers.etag = md5;
      const response = await client.call(label, (session) => ({
        method: 'PUT',
        url: objectUrl(session.storageUrl, container, key),
        headers,
        body,
        signal,
      }));
      await response.body.dump();
      if (response.statusCode === 404) throw containerMissing('put');
      if (!isSuccess(response)) throw await failure(response, label);
      containerSeen = true;
    },

    delete: deleteOne,

    deleteMany: (keys, callOptions) => bulk.deleteMany(keys, callOptions),

    async copy(fromKey, toKey, callOptions) {
      const label = what('copy', fromKey) + ` to ${JSON.stringify(toKey)}`;
      checkSignal(callOptions?.signal, DRIVER_NAME, label);
      const response = await client.call(label, (session) => ({
        method: 'PUT',
        url: objectUrl(session.storageUrl, container, toKey),
        headers: {
          'x-copy-from': `/${encodeURIComponent(container)}/${encodeSegments(fromKey)}`,
          'content-length': '0',
        },
        signal: callOptions?.signal,
      }));
      await response.body.dump();
      if (response.statusCode === 404) {
        await checkContainer('copy', callOptions);
        throw new OutlastError('not_found', `${label}: no such object`, { source: DRIVER_NAME });
      }
      if (!isSuccess(response)) throw await failure(response, label);
      containerSeen = true;
    },

    siteAliases: swiftSiteAliases,

    setup: (setupOptions) => swiftSetup(client, container, setupOptions, cdnSetup),

    // Only where there is a CDN to purge: Rackspace's, within its daily quota (swift-cdn.ts).
    ...(cdn
      ? {
          purge: (keys: string[]) =>
            purgeKeys(new CloudFilesCdn(client, container), keys, { email: cdn.purgeEmail }),
        }
      : {}),

    maxObjectBytes() {
      maxFileSize ??= readMaxFileSize(client).catch((error: unknown) => {
        maxFileSize = undefined; // a network failure is no answer: ask again next time
        throw error;
      });
      return maxFileSize;
    },

    async close() {
      await ownAgent?.close();
    },
  };
  return driver;
}

/** Swift's default `max_file_size` (5 GiB + 2 bytes), for a cluster whose /info does not say. */
export const DEFAULT_MAX_FILE_SIZE = 5_368_709_122;

/** The cluster's `max_file_size` from `/info` (public, no token needed on most clusters). */
async function readMaxFileSize(client: SwiftClient): Promise<number> {
  const session = await client.auth.session();
  const response = await send(
    client.dispatcher,
    { method: 'GET', url: infoUrl(session.storageUrl) },
    'read /info',
  );
  if (!isSuccess(response)) {
    await response.body.dump();
    return DEFAULT_MAX_FILE_SIZE;
  }
  const parsed = z
    .object({ swift: z.object({ max_file_size: z.number().int().positive().optional() }).optional() })
    .safeParse(parseJson(await response.body.text()));
  return (parsed.success ? parsed.data.swift?.max_file_size : undefined) ?? DEFAULT_MAX_FILE_SIZE;
}
