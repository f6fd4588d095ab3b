/**
 * Which release the edge serves: every origin's beacon is read every `releasePoll`, and the
 * release made live last (the newest `deployedAt`; ties go to the origin first in order) is the
 * one, once its manifest has been read from an origin that names it and its sha256 matches the
 * beacon's. Every request then serves that release's bytes, wherever they come from.
 *
 * When no beacon can be read (every origin down), the release stays what it was; it is also saved
 * in the cache folder, so an edge restarted during such an outage serves the same release from its
 * cache. The beacon reads double as the background try of origins that passive health skips.
 */
import { parseBeacon, parseManifest, releaseIdOf } from '../release/manifest.ts';
import { BEACON_KEY, type Beacon, type Manifest, type ManifestEntry, manifestKey } from '../release/types.ts';
import type { Logger } from '../util/log.ts';
import type { BlobCache } from './cache.ts';
import { failureOf, type OriginClient } from './origin-client.ts';
import type { PassiveHealth } from './passive-health.ts';

export interface EdgeRelease {
  id: string;
  deployedAt: string;
  manifestSha256: string;
  /** When this edge began serving it (ISO 8601). */
  since: string;
  manifest: Manifest;
  files: ReadonlyMap<string, ManifestEntry>;
  bytes: number;
  /** `deployedAt`, every file's Last-Modified (an HTTP date once, not per request). */
  lastModified: Date;
  lastModifiedHttp: string;
}

/** The release to serve: the manifest's files by key, their bytes, Last-Modified formatted once. */
function releaseOf(
  id: string,
  deployedAt: string,
  manifestSha256: string,
  manifest: Manifest,
  now: number,
): EdgeRelease {
  const files = new Map(Object.entries(manifest.files));
  let bytes = 0;
  for (const entry of files.values()) bytes += entry.size;
  const lastModified = new Date(deployedAt);
  return {
    id,
    deployedAt,
    manifestSha256,
    since: new Date(now).toISOString(),
    manifest,
    files,
    bytes,
    lastModified,
    lastModifiedHttp: lastModified.toUTCString(),
  };
}

/** One origin's beacon at the last poll. */
export interface BeaconSeen {
  origin: string;
  beacon?: Pick<Beacon, 'release' | 'deployedAt' | 'manifestSha256'>;
  error?: string;
}

/** The release to serve from what the beacons say: undefined when no beacon was read. Pure. */
export function chooseRelease(
  seen: readonly BeaconSeen[],
): { release: string; manifestSha256: string; deployedAt: string; from: string[] } | undefined {
  let best: BeaconSeen['beacon'] | undefined;
  for (const { beacon } of seen) {
    if (beacon === undefined) continue;
    if (best === undefined || Date.parse(beacon.deployedAt) > Date.parse(best.deployedAt)) best = beacon;
  }
  if (best === undefined) return undefined;
  const chosen = best;
  const from = seen.filter((s) => s.beacon?.release === chosen.release).map((s) => s.origin);
  return {
    release: chosen.release,
    manifestSha256: chosen.manifestSha256,
    deployedAt: chosen.deployedAt,
    from,
  };
}

export interface ReleaseViewOptions {
  origins: ReadonlyMap<string, OriginClient>;
  /** Origin ids in the order requests try them. */
  order: readonly string[];
  health: PassiveHealth;
  cache: BlobCache;
  pollMs: number;
  /** For each beacon or manifest read. */
  timeoutMs: number;
  logger: Logger;
  /** After the release changed (not called for the one restored at start). */
  onChange?: (release: EdgeRelease, previous: EdgeRelease | undefined) => void;
  now?: () => number;
}

export class ReleaseView {
  private release: EdgeRelease | undefined;
  private readonly seen = new Map<string, BeaconSeen>();
  private timer: NodeJS.Timeout | undefined;
  private polling: Promise<void> | undefined;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly options: ReleaseViewOptions) {
    this.now = options.now ?? Date.now;
  }

  current(): EdgeRelease | undefined {
    return this.release;
  }

  /** What each origin's beacon said at the last poll. */
  beacons(): ReadonlyMap<string, BeaconSeen> {
    return this.seen;
  }

  /** Restores the saved release, polls once, then keeps polling. */
  async start(): Promise<void> {
    const saved = await this.options.cache.loadRelease();
    const restored = restore(saved, this.now());
    if (restored !== undefined) this.release = restored;
    await this.poll();
    const loop = () => {
      if (this.stopped) return;
      this.timer = setTimeout(() => {
        void this.poll().finally(loop);
      }, this.options.pollMs);
      this.timer.unref();
    };
    loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.polling;
  }

  /** One round of beacon reads (joined when one is running). */
  poll(): Promise<void> {
    this.polling ??= this.pollOnce().finally(() => {
      this.polling = undefined;
    });
    return this.polling;
  }

  private async pollOnce(): Promise<void> {
    const { order, health } = this.options;
    const results = await Promise.all(order.map((id) => this.readBeacon(id)));
    const now = this.now();
    const due = new Set(health.due(now));
    for (const seen of results) {
      this.seen.set(seen.origin, seen);
      if (due.has(seen.origin)) {
        if (seen.beacon !== undefined) health.succeeded(seen.origin);
        else health.stillFailing(seen.origin, seen.error ?? 'beacon unreadable', now);
      } else if (seen.beacon === undefined && health.usable(seen.origin)) {
        health.failed(seen.origin, seen.error ?? 'beacon unreadable', now);
      }
    }
    const choice = chooseRelease(results);
    if (choice === undefined || choice.release === this.release?.id) return;
    const manifest = await this.readManifest(choice);
    if (manifest === undefined) return;
    const previous = this.release;
    this.release = releaseOf(
      choice.release,
      choice.deployedAt,
      choice.manifestSha256,
      manifest.manifest,
      now,
    );
    this.options.logger.info(
      { release: choice.release, previous: previous?.id, files: this.release.files.size },
      'edge: serving a new release',
    );
    await this.options.cache
      .saveRelease({
        id: choice.release,
        deployedAt: choice.deployedAt,
        manifestSha256: choice.manifestSha256,
        manifest: manifest.json,
      })
      .catch((error: unknown) =>
        this.options.logger.warn({ err: error }, 'edge: could not save the release'),
      );
    this.options.onChange?.(this.release, previous);
  }

  private async readBeacon(origin: string): Promise<BeaconSeen> {
    try {
      const bytes = await this.read(origin, BEACON_KEY);
      const beacon = parseBeacon(bytes, `origin ${origin}: ${BEACON_KEY}`);
      return { origin, beacon };
    } catch (error) {
      return { origin, error: failureOf(error).detail };
    }
  }

  private async readManifest(choice: { release: string; manifestSha256: string; from: string[] }) {
    for (const origin of choice.from) {
      try {
        const json = (await this.read(origin, manifestKey(choice.release))).toString('utf8');
        const { sha256 } = releaseIdOf(json);
        if (sha256 !== choice.manifestSha256)
          throw new Error(`manifest sha256 ${sha256.slice(0, 12)}… is not the beacon's`);
        return { manifest: parseManifest(json, `origin ${origin}: ${manifestKey(choice.release)}`), json };
      } catch (error) {
        this.options.logger.warn(
          { origin, release: choice.release, error: failureOf(error).detail },
          'edge: could not read the manifest',
        );
      }
    }
    return undefined;
  }

  private async read(origin: string, key: string): Promise<Buffer> {
    const client = this.options.origins.get(origin)!;
    const answer = await client.get(key, AbortSignal.timeout(this.options.timeoutMs));
    if (answer.status !== 200) {
      await answer.body.dump().catch(() => undefined);
      throw new Error(`status ${answer.status}`);
    }
    const chunks: Buffer[] = [];
    for await (const chunk of answer.body) chunks.push(chunk);
    return Buffer.concat(chunks);
  }
}

/** The saved release, checked again (its manifest against its sha256). */
function restore(saved: unknown, now: number): EdgeRelease | undefined {
  if (typeof saved !== 'object' || saved === null) return undefined;
  const value = saved as { id?: unknown; deployedAt?: unknown; manifestSha256?: unknown; manifest?: unknown };
  if (
    typeof value.manifest !== 'string' ||
    typeof value.id !== 'string' ||
    typeof value.deployedAt !== 'string'
  )
    return undefined;
  const { releaseId, sha256 } = releaseIdOf(value.manifest);
  if (sha256 !== value.manifestSha256 || value.id !== releaseId) return undefined;
  try {
    const manifest = parseManifest(value.manifest, 'the edge cache: release.json');
    return releaseOf(value.id, value.deployedAt, sha256, manifest, now);
  } catch {
    return undefined;
  }
}
