/**
 * The deploy planner: a pure function from what the origin holds and what the release needs to
 * the list of writes and deletes, in the order that keeps the origin whole (see types.ts).
 */

import type { Beacon, Manifest } from '../release/types.ts';
import { blobKey, manifestKey, OUTLAST_PREFIX } from '../release/types.ts';
import { OBJECT_HEADER_NAMES, type ObjectHeaders } from '../storage/driver.ts';
import type {
  ContentSource,
  DeleteGuard,
  LocalFile,
  OriginPlan,
  OriginState,
  RemoteObject,
  Upload,
} from './types.ts';

/** The percentage guard applies only to origins with at least this many objects, so that a
 * site of four pages can lose one without --force. */
export const PERCENT_GUARD_MIN_OBJECTS = 10;

export interface PlanTarget {
  releaseId: string;
  manifest: Manifest;
  manifestJson: string;
  manifestSha256: string;
  /** Where each key's bytes come from: a local file per key (with its MD5 when the scan has it),
   * or the origin's blobs for all. */
  source: { kind: 'local'; files: ReadonlyMap<string, LocalFile> } | { kind: 'blob' };
}

export interface PlanInput {
  originId: string;
  /** Extra keys this origin's backend needs, alias → site key (the driver's siteAliases). */
  aliases?: Readonly<Record<string, string>>;
  target: PlanTarget;
  state: OriginState;
  keepReleases: number;
  guard: DeleteGuard;
  now: Date;
  writer: string;
}

export function sameHeaders(a: ObjectHeaders, b: ObjectHeaders): boolean {
  return OBJECT_HEADER_NAMES.every((name) => (a[name] ?? '') === (b[name] ?? ''));
}

export function isHtml(key: string, headers: ObjectHeaders): boolean {
  return /^text\/html\b/i.test(headers.contentType ?? '') || /\.html?$/i.test(key);
}

/** True when the beacon already says everything this deploy would write. */
export function isSettled(beacon: Beacon | undefined, releaseId: string, keepReleases: number): boolean {
  return (
    beacon !== undefined &&
    beacon.release === releaseId &&
    beacon.deploying === undefined &&
    beacon.interrupted === undefined &&
    beacon.pendingCleanup.length === 0 &&
    beacon.releases.length <= keepReleases
  );
}

export function planOrigin(input: PlanInput): OriginPlan {
  const { state, target, originId } = input;
  const beacon = state.beacon;
  const filesOf = aliasExpander(input.aliases ?? {});
  const files = Object.entries(filesOf(target.manifest));
  const base = {
    originId,
    release: target.releaseId,
    previousRelease: beacon?.release,
    warnings: [] as string[],
  };

  if (isSettled(beacon, target.releaseId, input.keepReleases) && state.listing === undefined) {
    return {
      ...base,
      noop: true,
      manifest: undefined,
      markerBeacon: undefined,
      uploads: [],
      beacon: undefined,
      deletes: [],
      internalDeletes: [],
      finalBeacon: undefined,
      unchanged: files.length,
      uploadBytes: 0,
      keptReleases: beacon?.releases ?? [target.releaseId],
      droppedReleases: [],
      objectsBefore: files.length,
      guardRefusal: undefined,
    };
  }

  const remote = knownRemoteContent(state, filesOf);

  // Releases to keep: the new one first, then the newest of those kept before whose manifest we
  // have (without a manifest a release can neither be protected nor rolled back to).
  const kept = [target.releaseId];
  for (const id of beacon?.releases ?? []) {
    if (kept.length >= input.keepReleases) break;
    if (kept.includes(id)) continue;
    if (state.manifests.has(id)) kept.push(id);
    else base.warnings.push(`release ${id} is no longer kept: its manifest is missing on the origin`);
  }
  const keptManifests = kept.map((id) =>
    id === target.releaseId ? target.manifest : state.manifests.get(id)!,
  );
  const keptRefs = referencesByKey(keptManifests, filesOf);
  // What must survive an overwrite: the content of every release kept after this deploy, and of
  // every release kept before it, since the beacon names those until the commit. A key absent
  // from the live release may still hold an older kept release's bytes, so this is decided per
  // key from the manifests, not from the diff.
  const protectedIds = (beacon?.releases ?? []).filter((id) => state.manifests.has(id) && !kept.includes(id));
  const protectRefs = referencesByKey(
    [...keptManifests, ...protectedIds.map((id) => state.manifests.get(id)!)],
    filesOf,
  );

  const named = new Set<string>([
    ...(beacon?.releases ?? []),
    ...(beacon?.pendingCleanup ?? []),
    ...(beacon?.deploying ? [beacon.deploying] : []),
    ...(beacon?.interrupted ?? []),
    ...(state.listedReleases ?? []),
  ]);
  const dropped = [...named].filter((id) => !kept.includes(id)).sort();

  const uploads: Upload[] = [];
  let unchanged = 0;
  let uploadBytes = 0;
  for (const [key, entry] of files) {
    const found = remote.get(key);
    let reason: Upload['reason'] | undefined;
    if (found === undefined) reason = 'new';
    else if (found === 'unknown') reason = 'unverified';
    else if (found.sha256 !== entry.sha256) reason = 'changed';
    else if (found.headers !== undefined && !sameHeaders(found.headers, entry.headers)) reason = 'headers';
    if (reason === undefined) {
      unchanged++;
      continue;
    }
    const preserveShas = shasAt(protectRefs, key)
      .filter((sha) => sha !== entry.sha256)
      .sort();
    uploads.push({
      key,
      sha256: entry.sha256,
      size: entry.size,
      headers: entry.headers,
      reason,
      source: sourceOf(target, input.aliases?.[key] ?? key),
      html: isHtml(key, entry.headers),
      preserveShas,
      ...(found !== undefined && found !== 'unknown' && found.sha256 !== undefined
        ? { current: found.sha256 }
        : {}),
    });
    uploadBytes += entry.size;
  }
  // Stable: assets keep their key order, and so do pages, but every page comes after every asset.
  uploads.sort((a, b) => Number(a.html) - Number(b.html));

  const deletes = deleteCandidates(state, dropped, remote, filesOf)
    .filter((key) => !keptRefs.has(key))
    .sort();
  const keptShas = new Set<string>();
  for (const shas of keptRefs.values()) {
    if (typeof shas === 'string') keptShas.add(shas);
    else for (const sha of shas) keptShas.add(sha);
  }
  // Blobs no kept release needs, including those this deploy makes for releases it drops.
  const blobs = new Set([...(state.blobs ?? []), ...uploads.flatMap((item) => item.preserveShas)]);
  const internalDeletes = [
    ...[...blobs]
      .filter((sha) => !keptShas.has(sha))
      .sort()
      .map(blobKey),
    ...dropped.map(manifestKey),
  ];

  const objectsBefore = countObjectsBefore(state, remote, filesOf);
  const beaconNow = buildBeaconFor(input, kept, dropped, beacon);
  const beaconChanged = beacon === undefined || JSON.stringify(beaconNow) !== JSON.stringify(beacon);
  const manifestThere = state.manifests.has(target.releaseId) && state.listing === undefined;
  const writesObjects = uploads.length > 0;

  return {
    ...base,
    noop: !writesObjects && !beaconChanged && deletes.length === 0 && internalDeletes.length === 0,
    manifest: manifestThere ? undefined : { key: manifestKey(target.releaseId), json: target.manifestJson },
    markerBeacon: beacon && writesObjects ? markerFor(beacon, target.releaseId) : undefined,
    uploads,
    beacon: beaconChanged || writesObjects ? beaconNow : undefined,
    deletes,
    internalDeletes,
    finalBeacon: dropped.length > 0 ? { ...beaconNow, pendingCleanup: [] } : undefined,
    unchanged,
    uploadBytes,
    keptReleases: kept,
    droppedReleases: dropped,
    objectsBefore,
    guardRefusal: guardRefusal(deletes.length, objectsBefore, input.guard),
  };
}

/**
 * The beacon that marks a deploy of `target` in progress. A deploy that was itself interrupted
 * (the beacon's `deploying`, when it is neither the target nor live) is not forgotten: it joins
 * `interrupted`, since keys it wrote may hold its content and its objects may need deleting; a
 * second interruption would otherwise leave a page of a release never committed, trusted for good.
 */
export function markerFor(beacon: Beacon, target: string): Beacon {
  const earlier = [...(beacon.interrupted ?? []), ...(beacon.deploying ? [beacon.deploying] : [])];
  const interrupted = [...new Set(earlier)].filter((id) => id !== target && id !== beacon.release);
  const { interrupted: _before, ...rest } = beacon;
  return { ...rest, deploying: target, ...(interrupted.length > 0 ? { interrupted } : {}) };
}

/** What each site key holds on the origin, as far as we know without asking it again. */
type FilesOf = (manifest: Manifest) => Manifest['files'];

/** A manifest's files plus the origin's aliases of them (each alias holds its site key's entry). */
function aliasExpander(aliases: Readonly<Record<string, string>>): FilesOf {
  const pairs = Object.entries(aliases);
  if (pairs.length === 0) return (manifest) => manifest.files;
  const cache = new WeakMap<Manifest, Manifest['files']>();
  return (manifest) => {
    let files = cache.get(manifest);
    if (!files) {
      files = { ...manifest.files };
      for (const [alias, key] of pairs) {
        const entry = manifest.files[key];
        if (entry && !(alias in manifest.files)) files[alias] = entry;
      }
      cache.set(manifest, files);
    }
    return files;
  };
}

function knownRemoteContent(state: OriginState, filesOf: FilesOf): Map<string, RemoteObject | 'unknown'> {
  const remote = new Map<string, RemoteObject | 'unknown'>();
  if (state.listing !== undefined) {
    for (const [key, object] of state.listing) {
      if (key.startsWith(OUTLAST_PREFIX)) continue;
      remote.set(key, object.sha256 === undefined ? 'unknown' : object);
    }
    return remote;
  }
  const beacon = state.beacon;
  const current = beacon ? state.manifests.get(beacon.release) : undefined;
  if (!beacon || !current) {
    throw new Error('planOrigin needs the live release manifest or a listing (remote.ts reads one)');
  }
  const currentFiles = filesOf(current);
  for (const [key, entry] of Object.entries(currentFiles)) {
    remote.set(key, { sha256: entry.sha256, size: entry.size, headers: entry.headers });
  }
  // A deploy that was killed may have written any key its release changes: trust none of them,
  // nor those of deploys interrupted before it.
  const partials = [...(beacon.deploying ? [beacon.deploying] : []), ...(beacon.interrupted ?? [])];
  for (const id of partials.filter((id) => id !== beacon.release)) {
    const partial = state.manifests.get(id);
    if (!partial) throw new Error('planOrigin needs the interrupted release manifest or a listing');
    for (const [key, entry] of Object.entries(filesOf(partial))) {
      const before = currentFiles[key];
      if (!before || before.sha256 !== entry.sha256 || !sameHeaders(before.headers, entry.headers)) {
        remote.set(key, 'unknown');
      }
    }
  }
  return remote;
}

/** The contents each key holds in some of the manifests: one sha256 for most keys (a Set only
 * where releases differ, so a site of 100,000 files does not cost 100,000 Sets). */
type ShaRefs = Map<string, string | Set<string>>;

function referencesByKey(manifests: Manifest[], filesOf: FilesOf): ShaRefs {
  const refs: ShaRefs = new Map();
  for (const manifest of manifests) {
    for (const [key, entry] of Object.entries(filesOf(manifest))) {
      const shas = refs.get(key);
      if (shas === undefined) refs.set(key, entry.sha256);
      else if (typeof shas !== 'string') shas.add(entry.sha256);
      else if (shas !== entry.sha256) refs.set(key, new Set([shas, entry.sha256]));
    }
  }
  return refs;
}

function shasAt(refs: ShaRefs, key: string): string[] {
  const shas = refs.get(key);
  return shas === undefined ? [] : typeof shas === 'string' ? [shas] : [...shas];
}

function deleteCandidates(
  state: OriginState,
  dropped: string[],
  remote: Map<string, RemoteObject | 'unknown'>,
  filesOf: FilesOf,
): string[] {
  const candidates = new Set<string>();
  for (const id of dropped) {
    const manifest = state.manifests.get(id);
    for (const key of Object.keys(manifest ? filesOf(manifest) : {})) candidates.add(key);
  }
  if (state.listing !== undefined) for (const key of remote.keys()) candidates.add(key);
  return [...candidates];
}

function countObjectsBefore(
  state: OriginState,
  remote: Map<string, RemoteObject | 'unknown'>,
  filesOf: FilesOf,
): number {
  if (state.listing !== undefined) return remote.size;
  const keys = new Set<string>();
  for (const manifest of state.manifests.values()) {
    for (const key of Object.keys(filesOf(manifest))) keys.add(key);
  }
  return keys.size;
}

function sourceOf(target: PlanTarget, key: string): ContentSource {
  if (target.source.kind === 'blob') return { kind: 'blob' };
  const file = target.source.files.get(key);
  if (file === undefined) throw new Error(`no local file for ${JSON.stringify(key)}`);
  return { kind: 'local', path: file.path, ...(file.md5 === undefined ? {} : { md5: file.md5 }) };
}

function buildBeaconFor(
  input: PlanInput,
  kept: string[],
  dropped: string[],
  previous: Beacon | undefined,
): Beacon {
  const { target } = input;
  const entries = Object.values(target.manifest.files);
  return {
    release: target.releaseId,
    manifestSha256: target.manifestSha256,
    deployedAt:
      previous?.release === target.releaseId && previous.deployedAt
        ? previous.deployedAt
        : input.now.toISOString(),
    files: entries.length,
    bytes: entries.reduce((sum, entry) => sum + entry.size, 0),
    releases: kept,
    pendingCleanup: dropped,
    writer: input.writer,
  };
}

export function guardRefusal(deletes: number, objectsBefore: number, guard: DeleteGuard): string | undefined {
  if (deletes > guard.maxDeletes) {
    return `it would delete ${deletes} objects, more than deploy.maxDeletes (${guard.maxDeletes})`;
  }
  if (objectsBefore >= PERCENT_GUARD_MIN_OBJECTS) {
    const percent = (deletes * 100) / objectsBefore;
    if (percent > guard.maxDeletePercent) {
      return `it would delete ${deletes} of ${objectsBefore} objects (${percent.toFixed(1)}%), more than deploy.maxDeletePercent (${guard.maxDeletePercent}%)`;
    }
  }
  return undefined;
}

/** Keys outlast keeps for itself, never site files. */
export function isInternalKey(key: string): boolean {
  return key.startsWith(OUTLAST_PREFIX);
}
