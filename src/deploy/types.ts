/**
 * Deploy plans are data: `plan` prints them, `deploy` applies them, tests compare them.
 *
 * The order of work on one origin is what keeps it serving a whole release at every moment:
 *   1. the target release's manifest, then a marker in the beacon (`deploying`), so that a
 *      deploy killed half-way is recognised and repaired by the next one; a marked deploy that
 *      was not the target's moves to `interrupted`, so a second kill forgets neither;
 *   2. older contents that a kept release still needs are copied to `blobs/<sha256>`;
 *   3. new and changed non-HTML objects, then HTML (pages never point at missing assets);
 *   4. the beacon names the new release (the commit point: health checks see it from here on);
 *   5. deletes, only of objects that no kept release references; then the beacon again.
 */

import type { Beacon, Manifest } from '../release/types.ts';
import type { ObjectHeaders } from '../storage/driver.ts';

/** Where the bytes of an upload come from. */
export type ContentSource =
  /** A file of the local site (deploy). */
  | ({ kind: 'local' } & LocalFile)
  /** The origin's own copy in `blobs/<sha256>` (rollback). */
  | { kind: 'blob' };

/** A file of the local site: its path, and the MD5 (hex) of its bytes when the scan has it. */
export interface LocalFile {
  path: string;
  md5?: string;
}

export type UploadReason =
  /** The origin has no object at the key. */
  | 'new'
  /** The origin's object has other bytes. */
  | 'changed'
  /** Same bytes, other headers. */
  | 'headers'
  /** An interrupted deploy may have written the key, or the listing has no checksum for it. */
  | 'unverified';

export interface Upload {
  key: string;
  sha256: string;
  size: number;
  headers: ObjectHeaders;
  reason: UploadReason;
  source: ContentSource;
  /** HTML goes after every other object. */
  html: boolean;
  /** Contents of this key that kept releases reference (other than the new one): before the
   * upload, the object's current content is copied to its blob if it is one of these. */
  preserveShas: string[];
  /** The sha256 the origin's object holds, when the plan knows it (the live release's manifest, or
   * a listing that carries it); undefined for a new key or one an interrupted deploy may have
   * written. Lets the preserve step copy without asking the object first. */
  current?: string;
}

/** What is known of an origin before planning, read by remote.ts. */
export interface OriginState {
  /** The beacon, or undefined when the origin was never deployed to. */
  beacon: Beacon | undefined;
  /** Manifests by release id: every release the beacon names (kept, pending cleanup, deploying)
   * that could be read. */
  manifests: Map<string, Manifest>;
  /** Releases the beacon names whose manifest is missing on the origin. */
  missingManifests: string[];
  /** Every object of the origin, when it was listed (no beacon, or --verify), by key. */
  listing: Map<string, RemoteObject> | undefined;
  /** The sha256 of every blob under blobs/, when it was listed. */
  blobs: Set<string> | undefined;
  /** Manifests under releases/, when they were listed. */
  listedReleases: string[] | undefined;
}

export interface RemoteObject {
  sha256?: string;
  size: number;
  headers?: ObjectHeaders;
}

export interface DeleteGuard {
  maxDeletes: number;
  maxDeletePercent: number;
}

export interface OriginPlan {
  originId: string;
  /** The release the origin will serve. */
  release: string;
  /** The release it serves now (undefined: never deployed). */
  previousRelease: string | undefined;
  /** Nothing at all to do. */
  noop: boolean;
  /** The manifest to store before anything else (undefined when it is there already). */
  manifest: { key: string; json: string } | undefined;
  /** Written before the uploads, so an interrupted deploy is recognised (undefined on a first deploy). */
  markerBeacon: Beacon | undefined;
  /** Non-HTML first, then HTML. */
  uploads: Upload[];
  /** The commit point; undefined when the beacon is already right. */
  beacon: Beacon | undefined;
  /** Site objects to delete (never one a kept release references). */
  deletes: string[];
  /** outlast's own objects to delete: blobs, then manifests of dropped releases. */
  internalDeletes: string[];
  /** The beacon once the deletes are done (undefined when there is nothing to clean). */
  finalBeacon: Beacon | undefined;
  /** Objects of the target release already in place. */
  unchanged: number;
  uploadBytes: number;
  keptReleases: string[];
  droppedReleases: string[];
  /** Site objects on the origin before the deploy (the base of the delete percentage). */
  objectsBefore: number;
  /** Why the delete guard refuses this plan; undefined when it does not. */
  guardRefusal: string | undefined;
  /** Things the user should know (a kept release's manifest is missing, …). */
  warnings: string[];
}
