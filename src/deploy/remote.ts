/**
 * Reads what an origin holds, with as few requests as the situation allows:
 * - a settled origin already on the target release: the beacon alone (one request);
 * - otherwise the beacon, the manifests it names, and one listing of the blobs;
 * - no beacon, a missing live manifest, or --verify: a full listing, plus a stat of every object
 *   whose listing carries no sha256 (never trust size or mtime alone).
 */
import pLimit from 'p-limit';
import { parseBeacon, parseManifest } from '../release/manifest.ts';
import type { Beacon, Manifest } from '../release/types.ts';
import { BEACON_KEY, BLOBS_PREFIX, manifestKey, OUTLAST_PREFIX, RELEASES_PREFIX } from '../release/types.ts';
import type { ObjectHeaders, ObjectInfo } from '../storage/driver.ts';
import type { Store } from '../storage/store.ts';
import { isSettled } from './plan.ts';
import type { OriginState, RemoteObject } from './types.ts';

export interface ReadOptions {
  /** The release about to be deployed (a settled origin on it needs nothing more). */
  releaseId: string | undefined;
  keepReleases: number;
  /** List every object instead of trusting the manifests. */
  verify: boolean;
  /** Stats in flight at once when a listing lacks checksums. */
  concurrency?: number;
}

/** The origin's beacon (one request), or undefined when it was never deployed to. */
export async function readBeacon(store: Store): Promise<Beacon | undefined> {
  const bytes = await store.getBytes(BEACON_KEY);
  return bytes ? parseBeacon(bytes, `origin "${store.originId}" ${BEACON_KEY}`) : undefined;
}

export async function readOriginState(store: Store, options: ReadOptions): Promise<OriginState> {
  const beacon = await readBeacon(store);
  const state: OriginState = {
    beacon,
    manifests: new Map(),
    missingManifests: [],
    listing: undefined,
    blobs: undefined,
    listedReleases: undefined,
  };
  if (!options.verify && options.releaseId && isSettled(beacon, options.releaseId, options.keepReleases)) {
    return state;
  }

  if (beacon) {
    const ids = new Set([
      ...beacon.releases,
      ...beacon.pendingCleanup,
      ...(beacon.deploying ? [beacon.deploying] : []),
      ...(beacon.interrupted ?? []),
      ...(options.releaseId ? [options.releaseId] : []),
    ]);
    await Promise.all([...ids].map((id) => readManifestInto(store, id, state)));
  }

  const live = beacon ? state.manifests.has(beacon.release) : false;
  const interrupted = [...(beacon?.deploying ? [beacon.deploying] : []), ...(beacon?.interrupted ?? [])].some(
    (id) => !state.manifests.has(id),
  );
  if (options.verify || !beacon || !live || interrupted) {
    await listEverything(store, state, options.concurrency ?? 16);
  } else {
    state.blobs = new Set(
      (await store.listAll(BLOBS_PREFIX)).map((info) => info.key.slice(BLOBS_PREFIX.length)),
    );
  }
  return state;
}

async function readManifestInto(store: Store, id: string, state: OriginState): Promise<void> {
  const bytes = await store.getBytes(manifestKey(id));
  if (bytes === undefined) {
    state.missingManifests.push(id);
    return;
  }
  state.manifests.set(id, parseManifest(bytes, `origin "${store.originId}" ${manifestKey(id)}`));
}

async function listEverything(store: Store, state: OriginState, concurrency: number): Promise<void> {
  const listing = new Map<string, RemoteObject>();
  const blobs = new Set<string>();
  const releases: string[] = [];
  const needStat: string[] = [];
  for await (const info of store.list()) {
    if (info.key.startsWith(BLOBS_PREFIX)) blobs.add(info.key.slice(BLOBS_PREFIX.length));
    else if (info.key.startsWith(RELEASES_PREFIX) && info.key.endsWith('.json')) {
      releases.push(info.key.slice(RELEASES_PREFIX.length, -'.json'.length));
    }
    if (info.key.startsWith(OUTLAST_PREFIX)) continue;
    listing.set(info.key, remoteObjectOf(info));
    if (info.sha256 === undefined) needStat.push(info.key);
  }
  const limit = pLimit(concurrency);
  await Promise.all(
    needStat.map((key) =>
      limit(async () => {
        const info = await store.stat(key);
        if (info) listing.set(key, remoteObjectOf(info));
        else listing.delete(key);
      }),
    ),
  );
  // Releases found only by listing are read too: their files are what a cleanup may delete.
  const unread = releases.filter((id) => !state.manifests.has(id));
  await Promise.all(unread.map((id) => readManifestInto(store, id, state)));
  state.listing = listing;
  state.blobs = blobs;
  state.listedReleases = releases;
}

function remoteObjectOf(info: ObjectInfo): RemoteObject {
  const headers: ObjectHeaders = {};
  if (info.contentType !== undefined) headers.contentType = info.contentType;
  if (info.cacheControl !== undefined) headers.cacheControl = info.cacheControl;
  if (info.contentEncoding !== undefined) headers.contentEncoding = info.contentEncoding;
  if (info.contentDisposition !== undefined) headers.contentDisposition = info.contentDisposition;
  if (info.contentLanguage !== undefined) headers.contentLanguage = info.contentLanguage;
  const object: RemoteObject = { size: info.size };
  if (info.sha256 !== undefined) {
    object.sha256 = info.sha256;
    // Headers are compared only when the backend reported them with the checksum.
    object.headers = headers;
  }
  return object;
}

/** The live release's manifest, when the state has it. */
export function liveManifest(state: OriginState): Manifest | undefined {
  return state.beacon ? state.manifests.get(state.beacon.release) : undefined;
}
