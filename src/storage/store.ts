/**
 * `Store`: the one door to an origin's storage. Everything the app does to an origin passes
 * through here, whatever the driver: key validation, the origin's key prefix, retries with
 * backoff, request counting, logging, and errors that name the origin. Drivers stay small
 * because of it (see driver.ts), and dry-run, metrics or throttling have one place to live.
 *
 * Cancelling: the store's `signal` (and a put's own) goes to every driver call; once it is
 * aborted, the call in flight rejects with `cancelled`, and no call or retry starts after.
 *
 * Dry run: every put, delete, deleteMany and copy (and setup's changes) passes through the store's
 * `gate` (writes.ts). A dry-run store checks the keys as always, then makes no driver call for a
 * write: the gate lists it (`would put "index.html"`) and the call resolves. Reads go through.
 */
import { createHash } from 'node:crypto';
import pLimit from 'p-limit';
import { isOutlastError, messageOf, OutlastError } from '../errors.ts';
import { componentLogger, type Logger } from '../util/log.ts';
import { gateOf, LIVE, type WriteGate } from '../writes.ts';
import type {
  CallOptions,
  GetResult,
  ObjectHeaders,
  ObjectInfo,
  ObjectSource,
  PutOptions,
  SetupOptions,
  SetupStep,
  StorageDriver,
  UserMetadata,
} from './driver.ts';

export type { PurgeOutcome } from './purge.ts';

import { keyProblem } from './keys.ts';
import { type PurgeOutcome, purgeOutcome } from './purge.ts';
import { gaveUp, withRetries } from './retry.ts';

export interface StoreOptions {
  /** The origin's id, named in every error and log line. */
  originId: string;
  /** Key prefix inside the backend (`site/`); `site` is read as `site/`. Default none. */
  prefix?: string;
  /** Attempts for a call that fails with a retryable error, the first included. Default 5. */
  attempts?: number;
  /** Backoff before the second attempt is drawn from [0, retryBaseMs], doubling each time. */
  retryBaseMs?: number;
  /** The backoff ceiling, whatever the attempt. */
  retryMaxMs?: number;
  logger?: Logger;
  /** Waits between attempts; tests replace it to see the delays without waiting. */
  sleep?: (ms: number) => Promise<void>;
  /** Aborts every call of this store (see "Cancelling" above). */
  signal?: AbortSignal;
  /** Where every write passes (see "Dry run" above). Default live: writes are made. */
  gate?: WriteGate;
}

export type StoreOperation = 'list' | 'stat' | 'get' | 'put' | 'delete' | 'deleteMany' | 'copy' | 'purge';

/** Single deletes in flight when the driver has no batch delete. */
const DELETE_CONCURRENCY = 16;

export class Store {
  readonly originId: string;
  readonly driver: StorageDriver;
  /** The validated prefix: empty or ending with `/`. */
  readonly prefix: string;
  private readonly attempts: number;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;
  private readonly logger: Logger;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly signal: AbortSignal | undefined;
  private readonly gate: WriteGate;
  private retried = 0;
  /** `purge` only once one was made, so stores without a CDN report the counts they always did. */
  private readonly counts: Record<Exclude<StoreOperation, 'purge'>, number> & { purge?: number } = {
    list: 0,
    stat: 0,
    get: 0,
    put: 0,
    delete: 0,
    deleteMany: 0,
    copy: 0,
  };

  constructor(driver: StorageDriver, options: StoreOptions) {
    this.driver = driver;
    this.originId = options.originId;
    this.prefix = this.normalizePrefix(options.prefix ?? '');
    this.attempts = Math.max(1, options.attempts ?? 5);
    this.retryBaseMs = options.retryBaseMs ?? 100;
    this.retryMaxMs = options.retryMaxMs ?? 5000;
    const fields = { origin: options.originId, driver: driver.name };
    this.logger = options.logger ? options.logger.child(fields) : componentLogger('storage', fields);
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.signal = options.signal;
    this.gate = options.gate ?? LIVE;
  }

  /** Driver calls made so far; every attempt counts. */
  get requests(): number {
    return Object.values(this.counts).reduce((sum, count) => sum + count, 0);
  }

  /** Attempts made again after a retryable failure (counted in `requests` too). */
  get retries(): number {
    return this.retried;
  }

  /** The largest object one put can store on this backend (see StorageDriver), when it has a limit. */
  async maxObjectBytes(): Promise<number | undefined> {
    const ask = this.driver.maxObjectBytes?.bind(this.driver);
    return ask ? this.call('get', '/info', (options) => ask(options)) : undefined;
  }

  /** Driver calls made so far, per operation. */
  get requestCounts(): Record<Exclude<StoreOperation, 'purge'>, number> & { purge?: number } {
    return { ...this.counts };
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const full = this.fullKey('stat', key);
    const info = await this.call('stat', key, (options) => this.driver.stat(full, options));
    return info && { ...info, key };
  }

  /** The object's bytes as a stream; a missing object is `not_found`. */
  async get(key: string): Promise<GetResult> {
    const full = this.fullKey('get', key);
    const result = await this.call('get', key, (options) => this.driver.get(full, options));
    return { info: { ...result.info, key }, body: result.body };
  }

  /** The object's bytes, or `undefined` when it is missing. Reading the body is part of the
   * attempt, so a retryable error in the middle of the transfer is retried too. */
  async getBytes(key: string): Promise<Uint8Array | undefined> {
    return (await this.getWithBytes(key))?.bytes;
  }

  /** The object parsed as JSON, or `undefined` when it is missing. */
  async getJson<T>(key: string): Promise<T | undefined> {
    const bytes = await this.getBytes(key);
    if (bytes === undefined) return undefined;
    try {
      return JSON.parse(Buffer.from(bytes).toString('utf8')) as T;
    } catch (error) {
      throw new OutlastError('internal', `${JSON.stringify(key)} is not valid JSON: ${messageOf(error)}`, {
        source: this.source,
        cause: error,
      });
    }
  }

  async put(key: string, source: ObjectSource, options: PutOptions): Promise<void> {
    const full = this.fullKey('put', key);
    await this.gate.run(`put ${JSON.stringify(key)}`, () =>
      this.call(
        'put',
        key,
        (callOptions) => this.driver.put(full, source, { ...options, ...callOptions }),
        options.signal,
      ),
    );
  }

  /** Puts bytes, computing their sha256. */
  async putBytes(
    key: string,
    bytes: Uint8Array,
    headers: ObjectHeaders & { metadata?: UserMetadata } = {},
  ): Promise<void> {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    await this.put(key, { kind: 'bytes', bytes }, { ...headers, sha256 });
  }

  /** Idempotent: deleting a missing object succeeds. */
  async delete(key: string): Promise<void> {
    const full = this.fullKey('delete', key);
    await this.gate.run(`delete ${JSON.stringify(key)}`, () =>
      this.call('delete', key, (options) => this.driver.delete(full, options)),
    );
  }

  /** Deletes in batches when the driver can, else by single deletes, 16 at a time. All keys are
   * validated before the first request. */
  async deleteMany(keys: string[]): Promise<void> {
    const full = keys.map((key) => this.fullKey('deleteMany', key));
    if (full.length === 0) return;
    const more = keys.length > 1 ? ` (+${keys.length - 1} more)` : '';
    await this.gate.run(`delete ${JSON.stringify(keys[0])}${more}`, () => this.deleteAll(keys, full));
  }

  private async deleteAll(keys: string[], full: string[]): Promise<void> {
    const { deleteMany } = this.driver;
    if (this.driver.capabilities.deleteMany && deleteMany) {
      const batch = Math.max(1, this.driver.capabilities.maxDeleteBatch);
      for (let start = 0; start < full.length; start += batch) {
        const chunk = full.slice(start, start + batch);
        const label = `${keys[start]} (+${chunk.length - 1} more)`;
        await this.call('deleteMany', label, (options) => deleteMany.call(this.driver, chunk, options));
      }
      return;
    }
    const limit = pLimit(DELETE_CONCURRENCY);
    await Promise.all(
      full.map((fullKey, index) =>
        limit(() => this.call('delete', keys[index]!, (options) => this.driver.delete(fullKey, options))),
      ),
    );
  }

  /** Copies an object with its headers and metadata: server-side when the driver can, else by
   * reading it whole and putting it again. A missing source is `not_found`. */
  async copy(from: string, to: string): Promise<void> {
    const fullFrom = this.fullKey('copy', from);
    const fullTo = this.fullKey('copy', to);
    await this.gate.run(`copy ${JSON.stringify(from)} to ${JSON.stringify(to)}`, () =>
      this.copyTo(from, to, fullFrom, fullTo),
    );
  }

  private async copyTo(from: string, to: string, fullFrom: string, fullTo: string): Promise<void> {
    const { copy } = this.driver;
    if (this.driver.capabilities.copy && copy) {
      await this.call('copy', from, (options) => copy.call(this.driver, fullFrom, fullTo, options));
      return;
    }
    const source = await this.getWithBytes(from);
    if (!source) {
      throw new OutlastError('not_found', `copy ${JSON.stringify(from)}: no such object`, {
        source: this.source,
      });
    }
    const { info, bytes } = source;
    const sha256 = info.sha256 ?? createHash('sha256').update(bytes).digest('hex');
    const { key: _key, size: _size, sha256: _sha, etag: _etag, lastModified: _date, ...rest } = info;
    await this.put(to, { kind: 'bytes', bytes }, { ...rest, sha256 });
  }

  /** Every object under `prefix` (relative to the store's prefix), in UTF-8 byte order of the keys,
   * all pages. Keys come back without the store's prefix. */
  async *list(prefix = ''): AsyncIterable<ObjectInfo> {
    const problem = prefix === '' ? undefined : keyProblem(`${prefix}x`);
    if (problem) throw this.invalidKey('list', prefix, problem.replace(/^is longer/, 'makes keys longer'));
    const fullPrefix = this.prefix + prefix;
    let cursor: string | undefined;
    do {
      const after = cursor;
      const page = await this.call('list', prefix, (options) =>
        this.driver.list({ prefix: fullPrefix, cursor: after, ...options }),
      );
      for (const item of page.items) {
        if (!item.key.startsWith(fullPrefix)) {
          throw new OutlastError('internal', `list ${JSON.stringify(fullPrefix)} returned ${item.key}`, {
            source: this.source,
          });
        }
        yield { ...item, key: item.key.slice(this.prefix.length) };
      }
      cursor = page.cursor;
    } while (cursor !== undefined);
  }

  async listAll(prefix = ''): Promise<ObjectInfo[]> {
    const items: ObjectInfo[] = [];
    for await (const item of this.list(prefix)) items.push(item);
    return items;
  }

  /**
   * Makes the origin ready to serve the site (see StorageDriver.setup). The error document is a
   * key, so it gets the store's prefix; the index document is a suffix and does not. A driver
   * without setup (a directory) needs none: one `already` step says so. The changes go through
   * the options' gate, or the store's when it is a dry run's or the options give none.
   */
  async setup(options: SetupOptions): Promise<SetupStep[]> {
    if (!this.driver.setup) {
      return [{ step: 'setup', status: 'already', detail: `a ${this.driver.name} origin needs no setup` }];
    }
    const errorDocument =
      options.errorDocument === undefined ? undefined : this.prefix + options.errorDocument;
    const gate = this.gate.dryRun ? this.gate : gateOf(options);
    try {
      return await this.driver.setup({ ...options, gate, errorDocument });
    } catch (thrown) {
      const error = isOutlastError(thrown)
        ? thrown
        : new OutlastError('internal', `setup: ${messageOf(thrown)}`, {
            source: this.driver.name,
            cause: thrown,
          });
      throw gaveUp(error, 1, this.source);
    }
  }

  /** True when the driver has a CDN it can purge (StorageDriver.purge). */
  get canPurge(): boolean {
    return this.driver.purge !== undefined;
  }

  /**
   * Purges the CDN's copies of `keys` (StorageDriver.purge), with the store's prefix; the result
   * names the keys without it. Through the gate (a dry run purges nothing and says so), one driver
   * call, no retries (the driver keeps its CDN's limits). Never throws: a key that is not valid,
   * a driver without purge or one that threw all end up in `notPurged`, with the warning.
   */
  async purge(keys: string[]): Promise<PurgeOutcome> {
    const purge = this.driver.purge?.bind(this.driver);
    const none = (reason: string) => purgeOutcome([], [...keys], reason);
    if (keys.length === 0) return purgeOutcome([], [], undefined);
    if (!purge) return none(`a ${this.driver.name} origin has no CDN outlast can purge`);
    try {
      const full = keys.map((key) => this.fullKey('purge', key));
      const more = keys.length > 1 ? ` (+${keys.length - 1} more)` : '';
      const result = await this.gate.run(`purge ${JSON.stringify(keys[0])}${more} from the CDN`, () =>
        this.call('purge', keys[0]!, (options) => purge(full, options), undefined, 1),
      );
      if (!result) return none('a dry run purges nothing');
      const strip = (key: string) => (key.startsWith(this.prefix) ? key.slice(this.prefix.length) : key);
      return purgeOutcome(result.purged.map(strip), result.notPurged.map(strip), result.reason);
    } catch (error) {
      return none(`CDN purge failed: ${messageOf(error)}`);
    }
  }

  async close(): Promise<void> {
    await this.driver.close?.();
  }

  private get source(): string {
    return `origin ${JSON.stringify(this.originId)}`;
  }

  private normalizePrefix(prefix: string): string {
    if (prefix === '') return '';
    const withSlash = prefix.endsWith('/') ? prefix : `${prefix}/`;
    const problem = keyProblem(withSlash.slice(0, -1));
    if (problem) {
      throw new OutlastError('invalid_argument', `invalid key prefix ${JSON.stringify(prefix)}: ${problem}`, {
        source: this.source,
      });
    }
    return withSlash;
  }

  /** The backend key for `key`, or `invalid_argument` before any request is made. */
  private fullKey(operation: StoreOperation, key: string): string {
    const problem = keyProblem(key);
    if (problem) throw this.invalidKey(operation, key, problem);
    const full = this.prefix + key;
    const fullProblem = keyProblem(full);
    if (fullProblem) throw this.invalidKey(operation, key, `with prefix ${this.prefix}, ${fullProblem}`);
    return full;
  }

  private invalidKey(operation: StoreOperation, key: string, problem: string): OutlastError {
    return new OutlastError(
      'invalid_argument',
      `${operation}: invalid key ${JSON.stringify(key)}: ${problem}`,
      {
        source: this.source,
      },
    );
  }

  private async getWithBytes(key: string): Promise<{ info: ObjectInfo; bytes: Uint8Array } | undefined> {
    const full = this.fullKey('get', key);
    try {
      return await this.call('get', key, async (options) => {
        const { info, body } = await this.driver.get(full, options);
        const chunks: Buffer[] = [];
        for await (const chunk of body) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
        return { info: { ...info, key }, bytes: new Uint8Array(Buffer.concat(chunks)) };
      });
    } catch (error) {
      if (isOutlastError(error, 'not_found')) return undefined;
      throw error;
    }
  }

  /** One driver call with retries (retry.ts): counted per attempt, logged, and its last error
   * rethrown naming the origin. The store's signal and `callSignal` (a put's own) both go to the
   * driver; once either is aborted, nothing is retried and no attempt starts. */
  private call<T>(
    operation: StoreOperation,
    key: string,
    attempt: (options: CallOptions) => Promise<T>,
    callSignal?: AbortSignal,
    attempts = this.attempts,
  ): Promise<T> {
    const signal =
      this.signal && callSignal ? AbortSignal.any([this.signal, callSignal]) : (this.signal ?? callSignal);
    return withRetries(attempt, {
      what: `${operation} ${JSON.stringify(key)}`,
      attempts,
      baseMs: this.retryBaseMs,
      maxMs: this.retryMaxMs,
      sleep: this.sleep,
      signal,
      source: this.source,
      driverName: this.driver.name,
      onAttempt: (number) => {
        this.counts[operation] = (this.counts[operation] ?? 0) + 1;
        this.logger.debug({ key, attempt: number }, operation);
      },
      onRetry: (number, delay, error) => {
        this.retried++;
        this.logger.warn(
          { key, attempt: number, retryInMs: delay, code: error.code, error: error.message },
          operation,
        );
      },
    });
  }
}
