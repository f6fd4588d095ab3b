/**
 * The release a directory origin currently serves, read from its beacon and manifest and cached.
 *
 * A deploy rewrites the beacon last (by rename, so a reader sees the old file or the new one), so
 * a cheap `stat` of the beacon per request tells us when to re-read. Anything unreadable or
 * malformed means "no release": the server then serves every file with guessed headers, as a
 * bucket without outlast's metadata would, rather than failing.
 */
import type { Stats } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { parseBeacon, parseManifest } from '../release/manifest.ts';
import { BEACON_KEY, type Manifest, type ManifestEntry, manifestKey } from '../release/types.ts';
import type { ObjectHeaders } from '../storage/driver.ts';
import type { Logger } from '../util/log.ts';
import { objectPath } from './request-path.ts';

/** What the server needs from the live release. */
export interface ServedRelease {
  id: string;
  indexDocument: string;
  errorDocument: string | undefined;
  files: ReadonlyMap<string, ManifestEntry>;
  /** The files of the release a deploy is writing (the beacon's `deploying`), when there is one:
   * until the beacon names it, any of its objects on disk may already be the new version. */
  incoming: ReadonlyMap<string, ManifestEntry> | undefined;
  /** The files of deploys interrupted before that one (the beacon's `interrupted`): some of their
   * objects may still be on disk, under keys of the live release. */
  interrupted?: ReadonlyMap<string, ManifestEntry>[];
}

/** How to serve one object: its headers, and its sha256 when we are sure of the bytes. */
export interface ObjectDescription {
  headers: ObjectHeaders;
  sha256: string | undefined;
}

export interface ReleaseReader {
  /** The live release, or `undefined` when nothing is deployed or its data cannot be read.
   * Never throws. Safe to call concurrently: one reload serves every waiting request. */
  current(): Promise<ServedRelease | undefined>;
}

// After a failed load with an unchanged beacon, retry this often rather than on every request.
const RETRY_FAILED_LOAD_MS = 1000;

// The characters Node accepts in a header value; anything else would make it refuse the response.
const VALID_HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Reads the release of the origin at `dir` (keys under `prefix`, already normalized), cached by
 * the beacon's inode, size and times. */
export function createReleaseReader(dir: string, prefix: string, logger: Logger): ReleaseReader {
  const beaconPath = objectPath(dir, prefix + BEACON_KEY);
  let signature: string | undefined;
  let loaded: Promise<ServedRelease | undefined> = Promise.resolve(undefined);
  let retryAt = 0;

  async function readManifest(
    id: string,
  ): Promise<{ site: Manifest['site']; files: Map<string, ManifestEntry> }> {
    const path = objectPath(dir, prefix + manifestKey(id));
    if (path === undefined) throw new Error(`no path for release ${id} under prefix ${prefix}`);
    const manifest = parseManifest(await readFile(path), path);
    const files = new Map(Object.entries(manifest.files).map(([key, entry]) => [key, servable(entry)]));
    return { site: manifest.site, files };
  }

  async function load(beaconFile: string): Promise<ServedRelease> {
    try {
      const beacon = parseBeacon(await readFile(beaconFile), beaconFile);
      const { site, files } = await readManifest(beacon.release);
      let incoming: Map<string, ManifestEntry> | undefined;
      if (beacon.deploying !== undefined && beacon.deploying !== beacon.release) {
        // An interrupted deploy may have left no manifest; then only sizes can tell versions apart.
        incoming = await readManifest(beacon.deploying).then(
          (manifest) => manifest.files,
          (error: unknown) => {
            logger.warn({ err: error, release: beacon.deploying }, 'read manifest of deploying release');
            return undefined;
          },
        );
      }
      const interrupted: Map<string, ManifestEntry>[] = [];
      for (const id of beacon.interrupted ?? []) {
        // Likewise optional: without it, only sizes tell its objects from the live ones.
        const manifest = await readManifest(id).catch(() => undefined);
        if (manifest) interrupted.push(manifest.files);
      }
      logger.debug(
        { release: beacon.release, files: files.size, deploying: beacon.deploying },
        'load release',
      );
      return {
        id: beacon.release,
        indexDocument: site.indexDocument,
        errorDocument: site.errorDocument,
        files,
        incoming,
        interrupted,
      };
    } catch (error) {
      // A missing beacon is the normal "nothing deployed yet"; anything else deserves a warning.
      if (!isMissing(error)) logger.warn({ err: error }, 'read release data');
      throw error;
    }
  }

  return {
    async current() {
      if (beaconPath === undefined) return undefined;
      let beaconStat: Stats | undefined;
      try {
        beaconStat = await stat(beaconPath);
      } catch {
        beaconStat = undefined;
      }
      const next = beaconStat
        ? `${beaconStat.ino}:${beaconStat.size}:${beaconStat.mtimeMs}:${beaconStat.ctimeMs}`
        : 'none';
      if (next !== signature || (retryAt !== 0 && Date.now() >= retryAt)) {
        signature = next;
        retryAt = 0;
        loaded =
          next === 'none'
            ? Promise.resolve(undefined)
            : load(beaconPath).catch(() => {
                retryAt = Date.now() + RETRY_FAILED_LOAD_MS;
                return undefined;
              });
      }
      return loaded;
    },
  };
}

/**
 * How to serve the object `key` whose file on disk has `size` bytes. The manifest describes what
 * a release put there, but a deploy replaces files before the beacon moves, so an entry whose size
 * differs from the file's is not this file's; with two candidates of the same size and different
 * bytes, the headers are a best guess and the caller makes its own weak ETag.
 */
export function describeObject(
  release: ServedRelease | undefined,
  key: string,
  size: number,
): ObjectDescription | undefined {
  const candidates = [
    release?.files.get(key),
    release?.incoming?.get(key),
    ...(release?.interrupted ?? []).map((files) => files.get(key)),
  ].filter((entry): entry is ManifestEntry => entry !== undefined && entry.size === size);
  const [first] = candidates;
  if (first === undefined) return undefined;
  const sure = candidates.every((entry) => entry.sha256 === first.sha256);
  return { headers: first.headers, sha256: sure ? first.sha256 : undefined };
}

/** The entry with any header value Node would refuse left out. */
function servable(entry: ManifestEntry): ManifestEntry {
  const headers = Object.fromEntries(
    Object.entries(entry.headers).filter(
      ([, value]) => typeof value === 'string' && VALID_HEADER_VALUE.test(value),
    ),
  ) as ObjectHeaders;
  return { ...entry, headers };
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}
