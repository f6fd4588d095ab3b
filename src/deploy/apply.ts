/**
 * Applies one origin's plan, phase by phase (see types.ts), with a bounded number of requests in
 * flight. Each phase finishes before the next starts; the first error that survives the store's
 * retries stops the origin (requests in flight complete, nothing new starts) and is rethrown.
 */
import pLimit from 'p-limit';
import { beaconJson } from '../release/manifest.ts';
import type { Beacon } from '../release/types.ts';
import { BEACON_KEY, blobKey, RELEASES_PREFIX } from '../release/types.ts';
import type { Store } from '../storage/store.ts';
import type { OriginPlan, Upload } from './types.ts';

export type ApplyPhase = 'prepare' | 'assets' | 'pages' | 'commit' | 'cleanup' | 'done';

export interface ApplyProgress {
  originId: string;
  phase: ApplyPhase;
  /** Objects written or deleted so far, of `total`. */
  done: number;
  total: number;
  bytesDone: number;
  bytesTotal: number;
}

export interface ApplyOptions {
  concurrency: number;
  onProgress?: (progress: ApplyProgress) => void;
}

export interface ApplyResult {
  uploaded: number;
  uploadedBytes: number;
  deleted: number;
  /** Older contents copied to blobs because a kept release still needs them. */
  preserved: number;
}

const JSON_HEADERS = { contentType: 'application/json; charset=utf-8', cacheControl: 'no-cache' };

export async function applyPlan(store: Store, plan: OriginPlan, options: ApplyOptions): Promise<ApplyResult> {
  const result: ApplyResult = { uploaded: 0, uploadedBytes: 0, deleted: 0, preserved: 0 };
  if (plan.noop) return result;
  const total = plan.uploads.length + plan.deletes.length + plan.internalDeletes.length;
  const progress: ApplyProgress = {
    originId: plan.originId,
    phase: 'prepare',
    done: 0,
    total,
    bytesDone: 0,
    bytesTotal: plan.uploadBytes,
  };
  const report = (phase?: ApplyPhase) => {
    if (phase) progress.phase = phase;
    options.onProgress?.({ ...progress });
  };
  report();

  if (plan.manifest) await store.putBytes(plan.manifest.key, Buffer.from(plan.manifest.json), JSON_HEADERS);
  if (plan.markerBeacon) await putBeacon(store, plan.markerBeacon);

  const upload = async (item: Upload) => {
    if (item.preserveShas.length > 0 && (await preserve(store, item))) result.preserved++;
    if (item.source.kind === 'local') {
      await store.put(
        item.key,
        { kind: 'file', path: item.source.path, size: item.size },
        { ...item.headers, sha256: item.sha256 },
      );
    } else {
      await store.copy(blobKey(item.sha256), item.key);
    }
    result.uploaded++;
    result.uploadedBytes += item.size;
    progress.done++;
    progress.bytesDone += item.size;
    report();
  };
  report('assets');
  await runAll(
    plan.uploads.filter((item) => !item.html),
    options.concurrency,
    upload,
  );
  report('pages');
  await runAll(
    plan.uploads.filter((item) => item.html),
    options.concurrency,
    upload,
  );

  report('commit');
  if (plan.beacon) await putBeacon(store, plan.beacon);

  report('cleanup');
  // Manifests of dropped releases go last: an interrupted cleanup is redone from them.
  const manifests = plan.internalDeletes.filter((key) => key.startsWith(RELEASES_PREFIX));
  const objects = [
    ...plan.deletes,
    ...plan.internalDeletes.filter((key) => !key.startsWith(RELEASES_PREFIX)),
  ];
  for (const keys of [objects, manifests]) {
    if (keys.length === 0) continue;
    await store.deleteMany(keys);
    progress.done += keys.length;
    report();
  }
  result.deleted = plan.deletes.length;
  if (plan.finalBeacon) await putBeacon(store, plan.finalBeacon);
  report('done');
  return result;
}

/**
 * Copies the object's current content to its blob when a kept release needs it. The object is
 * asked what it holds (an interrupted deploy may have changed it), so a blob's name always
 * matches its bytes.
 */
async function preserve(store: Store, item: Upload): Promise<boolean> {
  const info = await store.stat(item.key);
  if (!info?.sha256 || !item.preserveShas.includes(info.sha256)) return false;
  await store.copy(item.key, blobKey(info.sha256));
  return true;
}

async function putBeacon(store: Store, beacon: Beacon): Promise<void> {
  await store.putBytes(BEACON_KEY, Buffer.from(beaconJson(beacon)), JSON_HEADERS);
}

/** Runs `work` on every item with at most `concurrency` at once; stops starting new ones after
 * the first failure, waits for those in flight, and throws that first failure. */
async function runAll<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  const limit = pLimit(concurrency);
  let failure: { error: unknown } | undefined;
  await Promise.all(
    items.map((item) =>
      limit(async () => {
        if (failure) return;
        try {
          await work(item);
        } catch (error) {
          failure ??= { error };
        }
      }),
    ),
  );
  if (failure) throw failure.error;
}
