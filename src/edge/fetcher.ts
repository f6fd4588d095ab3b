/**
 * Verified bytes of one manifest entry, from the cache or from the first origin that has them.
 *
 * Within one request's deadline the origins are tried in `PassiveHealth.order()`: a connect error,
 * no headers within the first-byte timeout, a body that stalls past the idle timeout, or a status
 * that is not 200 moves on to the next origin. A 200 whose body is not the manifest's sha256 (a
 * deploy half-way on that origin: the key already holds the next release's bytes) is no failure of
 * the origin: its kept copy `.well-known/outlast/blobs/<sha256>` is tried on the same origin, then
 * the next origin. Nothing unverified is ever returned, so a visitor never gets bytes of another
 * release. Requests for the same body share one fetch.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { messageOf } from '../errors.ts';
import { blobKey } from '../release/types.ts';
import type { Logger } from '../util/log.ts';
import type { BlobCache, CachedBody } from './cache.ts';
import { failureOf, type OriginClient } from './origin-client.ts';
import type { PassiveHealth } from './passive-health.ts';

/** Bodies up to this size are gathered in memory while verified; larger ones go through a file. */
const IN_MEMORY_FETCH_BYTES = 8 * 1024 * 1024;

export interface WantedBody {
  key: string;
  sha256: string;
  size: number;
}

/** One try on one origin. */
export interface Attempt {
  origin: string;
  /** `ok`, or why the origin did not supply the bytes. */
  outcome: 'ok' | 'connect' | 'timeout' | 'status' | 'mismatch' | 'error';
  detail?: string;
}

export interface FetchOutcome {
  /** undefined: no origin supplied the bytes within the deadline, and the cache does not hold them. */
  body: CachedBody | undefined;
  /** The origin that supplied them, or `cache`. */
  source: string | undefined;
  attempts: Attempt[];
}

export interface FetcherOptions {
  origins: ReadonlyMap<string, OriginClient>;
  health: PassiveHealth;
  cache: BlobCache;
  /** Statuses that count against the origin's health. */
  failureStatuses: ReadonlySet<number>;
  logger: Logger;
  now?: () => number;
  /** After every attempt on an origin (stats and metrics). */
  onAttempt?: (attempt: Attempt, bytes: number) => void;
}

class NotTheBytes extends Error {
  constructor(
    readonly outcome: Attempt['outcome'],
    message: string,
    /** Whether it counts against the origin's health. */
    readonly failure: boolean,
  ) {
    super(message);
  }
}

export class Fetcher {
  private readonly inFlight = new Map<string, Promise<FetchOutcome>>();
  private readonly now: () => number;

  constructor(private readonly options: FetcherOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The cached body, without going to any origin. */
  cached(wanted: WantedBody): CachedBody | undefined {
    return this.options.cache.get(wanted.sha256);
  }

  /** The verified body, from the cache or the origins (in `order`, default the health order). */
  async body(wanted: WantedBody, deadline: AbortSignal, order?: string[]): Promise<FetchOutcome> {
    const held = this.options.cache.get(wanted.sha256);
    if (held !== undefined) return { body: held, source: 'cache', attempts: [] };
    const running = this.inFlight.get(wanted.sha256);
    if (running !== undefined) return running;
    const fetching = this.fromOrigins(wanted, deadline, order ?? this.options.health.order()).finally(() =>
      this.inFlight.delete(wanted.sha256),
    );
    this.inFlight.set(wanted.sha256, fetching);
    return fetching;
  }

  private async fromOrigins(
    wanted: WantedBody,
    deadline: AbortSignal,
    order: string[],
  ): Promise<FetchOutcome> {
    const attempts: Attempt[] = [];
    for (const id of order) {
      const client = this.options.origins.get(id);
      if (client === undefined || deadline.aborted) continue;
      for (const key of [wanted.key, blobKey(wanted.sha256)]) {
        if (deadline.aborted) break;
        const attempt = await this.attempt(client, key, wanted, deadline);
        attempts.push(attempt.record);
        if (attempt.body !== undefined) return { body: attempt.body, source: id, attempts };
        // Only a body of other bytes sends us to the kept copy on the same origin.
        if (attempt.record.outcome !== 'mismatch') break;
      }
    }
    return { body: undefined, source: undefined, attempts };
  }

  private async attempt(
    client: OriginClient,
    key: string,
    wanted: WantedBody,
    deadline: AbortSignal,
  ): Promise<{ record: Attempt; body?: CachedBody }> {
    const { health } = this.options;
    try {
      const answer = await client.get(key, deadline);
      if (answer.status !== 200) {
        await answer.body.dump().catch(() => undefined);
        throw new NotTheBytes(
          'status',
          `status ${answer.status}`,
          this.options.failureStatuses.has(answer.status),
        );
      }
      const body = await this.receive(answer.body, wanted);
      health.succeeded(client.id);
      const record: Attempt = { origin: client.id, outcome: 'ok' };
      this.options.onAttempt?.(record, wanted.size);
      return body === undefined ? { record } : { record, body };
    } catch (error) {
      const record = this.describe(client.id, error, deadline);
      const failure = error instanceof NotTheBytes ? error.failure : !deadline.aborted;
      if (failure) health.failed(client.id, record.detail ?? record.outcome, this.now());
      this.options.onAttempt?.(record, 0);
      this.options.logger.debug({ key, ...record }, 'edge: origin did not supply the bytes');
      return { record };
    }
  }

  /**
   * Reads the body, checks its size and sha256, and puts it into the cache. The body comes back in
   * memory when it was read there (so a cache too small to keep it still serves it), else as held by
   * the cache (undefined only for a body larger than the whole cache).
   */
  private async receive(
    body: AsyncIterable<Buffer> & { destroy(error?: Error): void },
    wanted: WantedBody,
  ): Promise<CachedBody | undefined> {
    // Each chunk is counted and hashed on the way; the sha256 is checked once the body ends.
    const hash = createHash('sha256');
    let size = 0;
    const counted = async function* (): AsyncGenerator<Buffer> {
      for await (const chunk of body) {
        size += chunk.length;
        if (size > wanted.size) {
          body.destroy();
          throw new NotTheBytes('mismatch', `body longer than the manifest's ${wanted.size} bytes`, false);
        }
        hash.update(chunk);
        yield chunk;
      }
    };
    if (wanted.size <= IN_MEMORY_FETCH_BYTES) {
      const chunks: Buffer[] = [];
      for await (const chunk of counted()) chunks.push(chunk);
      this.check(hash.digest('hex'), size, wanted);
      const buffer = Buffer.concat(chunks, size);
      // A cache that cannot keep it (disk full) is no failure of the origin: the bytes are served anyway.
      await this.options.cache
        .put(wanted.sha256, buffer)
        .catch((error: unknown) =>
          this.options.logger.warn({ err: error }, 'edge: the cache could not keep a body'),
        );
      return { sha256: wanted.sha256, size, buffer };
    }
    const temp = this.options.cache.tempPath();
    const file = createWriteStream(temp);
    try {
      for await (const chunk of counted()) {
        if (!file.write(chunk)) await once(file, 'drain');
      }
      file.end();
      await once(file, 'finish');
      this.check(hash.digest('hex'), size, wanted);
      await this.options.cache.adopt(wanted.sha256, temp, size).catch((error: unknown) => {
        throw new NotTheBytes('error', `the cache could not keep the body: ${messageOf(error)}`, false);
      });
      return this.options.cache.get(wanted.sha256);
    } catch (error) {
      file.destroy();
      await rm(temp, { force: true });
      throw error;
    }
  }

  private check(sha256: string, size: number, wanted: WantedBody): void {
    if (size !== wanted.size || sha256 !== wanted.sha256) {
      throw new NotTheBytes(
        'mismatch',
        `not the release's bytes (${size} bytes, sha256 ${sha256.slice(0, 12)}…)`,
        false,
      );
    }
  }

  private describe(origin: string, error: unknown, deadline: AbortSignal): Attempt {
    if (error instanceof NotTheBytes) return { origin, outcome: error.outcome, detail: error.message };
    if (deadline.aborted) return { origin, outcome: 'timeout', detail: 'the request deadline passed' };
    return { origin, ...failureOf(error) };
  }
}
