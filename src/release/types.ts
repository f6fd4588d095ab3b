/**
 * The data of a release: the manifest (what every origin must hold) and the beacon (which release
 * an origin serves). Both are plain JSON, stored on every origin under `.well-known/outlast/`.
 */
import type { ObjectHeaders } from '../storage/driver.ts';

/** Everything outlast keeps on an origin lives under this key prefix. Site files may not. */
export const OUTLAST_PREFIX = '.well-known/outlast/';
/** The beacon: small, public, names the release the origin serves. Health checks read it. */
export const BEACON_KEY = `${OUTLAST_PREFIX}release.json`;
/** Each kept release's manifest: `releases/<id>.json`. */
export const RELEASES_PREFIX = `${OUTLAST_PREFIX}releases/`;
/** Older contents of keys that a kept release still references: `blobs/<sha256>`. */
export const BLOBS_PREFIX = `${OUTLAST_PREFIX}blobs/`;

export const MANIFEST_VERSION = 1;

export interface ManifestEntry {
  sha256: string;
  size: number;
  /** Content-Type, Cache-Control and the other headers the origin must serve with the file. */
  headers: ObjectHeaders;
}

export interface Manifest {
  version: typeof MANIFEST_VERSION;
  /** How the site is served (what `outlast serve` and website hosting need). */
  site: { indexDocument: string; errorDocument?: string };
  /** key → entry, keys sorted (UTF-8 byte order), so the JSON is canonical. */
  files: Record<string, ManifestEntry>;
}

export interface Beacon {
  /** The release the origin serves. */
  release: string;
  /** sha256 of the manifest's canonical JSON. */
  manifestSha256: string;
  /** When this release was first made live on this origin (ISO 8601). */
  deployedAt: string;
  files: number;
  bytes: number;
  /** Kept releases, newest first (the first is `release`). Their files are never deleted. */
  releases: string[];
  /** Releases that fell out of `releases` whose objects may still need deleting. */
  pendingCleanup: string[];
  /** Set while a deploy of this release is writing objects (the beacon still names the old one):
   * objects that release touches may hold either version until the next beacon. */
  deploying?: string;
  /** Releases of earlier deploys that were interrupted too, before `deploying`'s began: keys they
   * touch may still hold their content, and their objects may need deleting, until the next
   * commit. Absent when there are none. */
  interrupted?: string[];
  /** The outlast version that wrote it. */
  writer: string;
}

/** A release id is `r` followed by the first 20 hex digits of the manifest's sha256. */
export const RELEASE_ID_PATTERN = /^r[0-9a-f]{20}$/;

export function manifestKey(releaseId: string): string {
  return `${RELEASES_PREFIX}${releaseId}.json`;
}

export function blobKey(sha256: string): string {
  return `${BLOBS_PREFIX}${sha256}`;
}
