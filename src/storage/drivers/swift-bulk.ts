/**
 * Batch deletes for the `swift` driver through Swift's bulk middleware: `POST <account>?bulk-delete`
 * with `Content-Type: text/plain` and a body of newline-separated, percent-encoded
 * `/container/key` paths; with `Accept: application/json` the answer is (after whitespace
 * heartbeats) `{"Number Deleted", "Number Not Found", "Errors": [[path, status]], "Response Status"}`.
 *
 * Whether the cluster has it, and its `max_deletes_per_request` (10,000 by default), come from
 * `/info` at the first batch. Without it, keys are deleted one by one. A cluster that hides `/info`
 * is tried anyway: an account POST without the middleware answers 204 with no JSON, which turns
 * batches off for good. The middleware reads lines of at most max object name + max container
 * name + 2 bytes, so a key whose encoded path is longer is deleted alone.
 */
import pLimit from 'p-limit';
import { z } from 'zod';
import { OutlastError } from '../../errors.ts';
import { checkSignal } from '../abort.ts';
import type { CallOptions } from '../driver.ts';
import type { SwiftSession } from './swift-auth.ts';
import {
  DRIVER_NAME,
  encodeSegments,
  failure,
  infoUrl,
  isSuccess,
  parseJson,
  type SwiftClient,
  send,
} from './swift-http.ts';
import { DEFAULT_BULK_DELETES } from './swift-options.ts';

export { DEFAULT_BULK_DELETES } from './swift-options.ts';

export interface BulkDeleter {
  /** False once the cluster turned out to have no bulk delete (Store then deletes one by one). */
  readonly available: boolean;
  /** Keys one request takes: the cluster's limit once known, else the configured one. */
  readonly batch: number;
  /** Deletes `keys` (404s count as deleted): in batches when the cluster can, else one by one. */
  deleteMany(keys: string[], options?: CallOptions): Promise<void>;
}

/** Swift's default name limits: 1,024 bytes per object, 256 per container. */
const DEFAULT_MAX_OBJECT_NAME = 1024;
const DEFAULT_MAX_CONTAINER_NAME = 256;
/** Single deletes in flight when there is no bulk delete. */
const DELETE_CONCURRENCY = 16;

interface BulkLimits {
  /** Keys per request. */
  max: number;
  /** The longest encoded `/container/key` line the middleware accepts. */
  maxPath: number;
}

const clusterInfo = z.object({
  swift: z
    .object({
      max_object_name_length: z.number().optional(),
      max_container_name_length: z.number().optional(),
    })
    .optional(),
  bulk_delete: z.object({ max_deletes_per_request: z.number().optional() }).optional(),
});

const bulkAnswer = z.object({
  'Response Status': z.string(),
  'Response Body': z.string().optional(),
  'Number Deleted': z.number(),
  'Number Not Found': z.number(),
  Errors: z.array(z.tuple([z.string(), z.string()])),
});

/**
 * `limit` caps the keys per request below the cluster's own limit; `deleteOne` is the driver's
 * single delete, used without the middleware and for keys too long for it.
 */
export function createBulkDeleter(
  client: SwiftClient,
  container: string,
  limit: number,
  deleteOne: (key: string, options?: CallOptions) => Promise<void>,
): BulkDeleter {
  const configured = Math.max(1, Math.min(DEFAULT_BULK_DELETES, limit));
  /** `/info`'s answer, asked once: undefined = not yet, null = no bulk delete. */
  let limits: Promise<BulkLimits | null> | undefined;
  let known: BulkLimits | null | undefined;

  function discover(): Promise<BulkLimits | null> {
    limits ??= readInfo().then(
      (found) => {
        known = found;
        return found;
      },
      (error: unknown) => {
        limits = undefined; // a network failure is no answer: ask again next time
        throw error;
      },
    );
    return limits;
  }

  async function readInfo(): Promise<BulkLimits | null> {
    const session = await client.auth.session();
    const response = await send(
      client.dispatcher,
      { method: 'GET', url: infoUrl(session.storageUrl) },
      'read /info',
    );
    const fallback = { max: configured, maxPath: DEFAULT_MAX_OBJECT_NAME + DEFAULT_MAX_CONTAINER_NAME + 2 };
    if (!isSuccess(response)) {
      await response.body.dump();
      return fallback;
    }
    const parsed = clusterInfo.safeParse(parseJson(await response.body.text()));
    if (!parsed.success) return fallback;
    const { bulk_delete: bulk, swift } = parsed.data;
    if (!bulk) return null;
    return {
      max: Math.max(1, Math.min(configured, bulk.max_deletes_per_request ?? DEFAULT_BULK_DELETES)),
      maxPath:
        (swift?.max_object_name_length ?? DEFAULT_MAX_OBJECT_NAME) +
        (swift?.max_container_name_length ?? DEFAULT_MAX_CONTAINER_NAME) +
        2,
    };
  }

  async function deleteEach(keys: string[], options: CallOptions | undefined): Promise<void> {
    const run = pLimit(DELETE_CONCURRENCY);
    await Promise.all(keys.map((key) => run(() => deleteOne(key, options))));
  }

  /** One request. False when the cluster turned out to have no bulk middleware. */
  async function deleteBatch(
    keys: string[],
    lines: string[],
    signal: AbortSignal | undefined,
  ): Promise<boolean> {
    const label = `bulk delete ${JSON.stringify(keys[0])}${keys.length > 1 ? ` (+${keys.length - 1} more)` : ''} in container ${JSON.stringify(container)}`;
    const body = `${lines.join('\n')}\n`;
    for (let attempt = 1; ; attempt++) {
      let used: SwiftSession | undefined;
      const response = await client.call(label, (session) => {
        used = session;
        return {
          method: 'POST',
          url: `${session.storageUrl}?bulk-delete`,
          headers: { 'content-type': 'text/plain', accept: 'application/json' },
          body: () => body,
          signal,
        };
      });
      if (!isSuccess(response)) throw await failure(response, label);
      const parsed = bulkAnswer.safeParse(parseJson(await response.body.text()));
      if (!parsed.success) return false;
      const { Errors: errors, 'Response Status': overall, 'Response Body': said = '' } = parsed.data;
      const statuses = errors.map(([, status]) => Number.parseInt(status, 10));
      // bulk sits before the auth middleware in Swift's pipeline: a stale token shows as a 401 per
      // object inside a 200, so the one re-login the client does for a 401 answer is done here.
      if (errors.length > 0 && statuses.every((status) => status === 401) && attempt === 1 && used) {
        client.auth.invalidate(used);
        continue;
      }
      if (errors.length > 0) {
        const [path, status] = errors[0]!;
        const worst = statuses.find((code) => code >= 500) ?? statuses[0]!;
        throw bulkError(worst, `${label}: ${errors.length} not deleted, e.g. ${path}: ${status}`);
      }
      const code = Number.parseInt(overall, 10);
      if (!(code >= 200 && code < 300)) throw bulkError(code, `${label}: ${overall} ${said}`.trim());
      return true;
    }
  }

  return {
    get available() {
      return known !== null;
    },
    get batch() {
      return known?.max ?? configured;
    },
    async deleteMany(keys, options) {
      if (keys.length === 0) return;
      checkSignal(options?.signal, DRIVER_NAME, `bulk delete in container ${JSON.stringify(container)}`);
      const found = await discover();
      if (!found) return deleteEach(keys, options);
      const prefix = `/${encodeURIComponent(container)}/`;
      const lines: string[] = [];
      const batched: string[] = [];
      const alone: string[] = [];
      for (const key of keys) {
        const line = prefix + encodeSegments(key);
        // Percent-encoding triples a Unicode key: a line the middleware would refuse goes alone.
        if (Buffer.byteLength(line) > found.maxPath) {
          alone.push(key);
        } else {
          lines.push(line);
          batched.push(key);
        }
      }
      for (let start = 0; start < lines.length; start += found.max) {
        const end = start + found.max;
        if (!(await deleteBatch(batched.slice(start, end), lines.slice(start, end), options?.signal))) {
          known = null;
          limits = Promise.resolve(null);
          await deleteEach(batched.slice(start), options);
          break;
        }
      }
      await deleteEach(alone, options);
    },
  };
}

/** A per-object status from the bulk answer onto outlast's codes (like statusError). */
function bulkError(status: number, message: string): OutlastError {
  const options = { source: DRIVER_NAME };
  if (status === 401 || status === 403) return new OutlastError('permission_denied', message, options);
  if (status === 429 || status === 498) return new OutlastError('rate_limited', message, options);
  if (status === 409) return new OutlastError('conflict', message, options);
  // Every delete is idempotent, so the whole batch can be sent again.
  if (status >= 500 || status === 408) return new OutlastError('unavailable', message, options);
  return new OutlastError('internal', message, options);
}
