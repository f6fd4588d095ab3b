/**
 * Applies one origin's plan, phase by phase (see types.ts), with a bounded number of requests in
 * flight. Each phase finishes before the next starts; the first error that survives the store's
 * retries stops the origin (requests in flight complete, nothing new starts) and is rethrown.
 */
import { beaconJson } from '../release/manifest.ts';
import type { Beacon } from '../release/types.ts';
import { BEACON_KEY, blobKey, RELEASES_PREFIX } from '../release/types.ts';
import type { Store } from '../storage/store.ts';
import { bufferedPath, SharedReads } from './shared-reads.ts';
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
  onProgress?: ((progress: ApplyProgress) => void) | undefined;
  /** The local files' bytes, read once for every origin of the deploy (default: this plan's own). */
  reads?: SharedReads;
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

  const reads = options.reads ?? new SharedReads([plan]);
  const released = new Set<Upload>();
  const release = (item: Upload) => {
    if (released.has(item)) return;
    released.add(item);
    reads.release(item);
  };
  const upload = async (item: Upload) => {
    try {
      if (item.preserveShas.length > 0 && (await preserve(store, item))) result.preserved++;
      await putOne(store, item, reads);
    } finally {
      release(item);
    }
    result.uploaded++;
    result.uploadedBytes += item.size;
    progress.done++;
    progress.bytesDone += item.size;
    report();
  };
  try {
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
  } finally {
    // An origin that stopped early gives back the bytes it will never take.
    for (const item of plan.uploads) release(item);
  }

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

/** One upload: the bytes from SharedReads (small local files), the file streamed (large ones), or
 * the origin's own blob (a rollback). The scan's MD5 goes along, so no driver hashes again. */
async function putOne(store: Store, item: Upload, reads: SharedReads): Promise<void> {
  const { source } = item;
  if (source.kind === 'blob') {
    await store.copy(blobKey(item.sha256), item.key);
    return;
  }
  const options = { ...item.headers, sha256: item.sha256, ...(source.md5 ? { md5: source.md5 } : {}) };
  if (bufferedPath(item) !== undefined) {
    const bytes = await reads.bytesFor(item, `origin "${store.originId}"`);
    await store.put(item.key, { kind: 'bytes', bytes }, options);
  } else {
    await store.put(item.key, { kind: 'file', path: source.path, size: item.size }, options);
  }
}

/**
 * Copies the object's current content to its blob when a kept release needs it, so that a blob's
 * name always matches its bytes. When the plan knows what the object holds (the live release's
 * manifest says so, and no interrupted deploy may have changed it), that is one server-side copy;
 * when it does not (`current` unknown), the object is asked first.
 */
async function preserve(store: Store, item: Upload): Promise<boolean> {
  const current = item.current ?? (await store.stat(item.key))?.sha256;
  if (current === undefined || !item.preserveShas.includes(current)) return false;
  await store.copy(item.key, blobKey(current));
  return true;
}

async function putBeacon(store: Store, beacon: Beacon): Promise<void> {
  await store.putBytes(BEACON_KEY, Buffer.from(beaconJson(beacon)), JSON_HEADERS);
}

/** Runs `work` on every item with at most `concurrency` at once; stops starting new ones after
 * the first failure, waits for those in flight, and throws that first failure. Workers take the
 * next item in turn, so nothing is allocated per item up front (a plan may hold 100,000 uploads). */
async function runAll<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let failure: { error: unknown } | undefined;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, worker));
  if (failure) throw failure.error;
}
