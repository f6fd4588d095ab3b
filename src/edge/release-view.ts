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
import { createHash } from 'node:crypto';
import { messageOf } from '../errors.ts';
import { parseBeacon, parseManifest } from '../release/manifest.ts';
import { BEACON_KEY, type Beacon, type Manifest, type ManifestEntry, manifestKey } from '../release/types.ts';
import type { Logger } from '../util/log.ts';
import type { BlobCache } from './cache.ts';
import type { OriginClient } from './origin-client.ts';
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

function times(deployedAt: string): { lastModified: Date; lastModifiedHttp: string } {
  const lastModified = new Date(deployedAt);
  return { lastModified, lastModifiedHttp: lastModified.toUTCString() };
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
): { release: string; manifestSha256: string; from: string[] } | undefined {
  let best: BeaconSeen['beacon'] | undefined;
  for (const { beacon } of seen) {
    if (beacon === undefined) continue;
    if (best === undefined || Date.parse(beacon.deployedAt) > Date.parse(best.deployedAt)) best = beacon;
  }
  if (best === undefined) return undefined;
  const chosen = best;
  const from = seen.filter((s) => s.beacon?.release === chosen.release).map((s) => s.origin);
  return { release: chosen.release, manifestSha256: chosen.manifestSha256, from };
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
    const files = new Map(Object.entries(manifest.manifest.files));
    let bytes = 0;
    for (const entry of files.values()) bytes += entry.size;
    const beacon = results.find((s) => s.beacon?.release === choice.release)!.beacon!;
    this.release = {
      id: choice.release,
      deployedAt: beacon.deployedAt,
      manifestSha256: choice.manifestSha256,
      since: new Date(now).toISOString(),
      manifest: manifest.manifest,
      files,
      bytes,
      ...times(beacon.deployedAt),
    };
    this.options.logger.info(
      { release: choice.release, previous: previous?.id, files: files.size },
      'edge: serving a new release',
    );
    await this.options.cache
      .saveRelease({
        id: choice.release,
        deployedAt: beacon.deployedAt,
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
      return { origin, error: describe(error) };
    }
  }

  private async readManifest(choice: { release: string; manifestSha256: string; from: string[] }) {
    for (const origin of choice.from) {
      try {
        const bytes = await this.read(origin, manifestKey(choice.release));
        const sha256 = createHash('sha256').update(bytes).digest('hex');
        if (sha256 !== choice.manifestSha256)
          throw new Error(`manifest sha256 ${sha256.slice(0, 12)}… is not the beacon's`);
        const json = bytes.toString('utf8');
        return { manifest: parseManifest(json, `origin ${origin}: ${manifestKey(choice.release)}`), json };
      } catch (error) {
        this.options.logger.warn(
          { origin, release: choice.release, error: describe(error) },
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

function describe(error: unknown): string {
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || (error as Error).name === 'TimeoutError') return 'timed out';
  return messageOf(error);
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
  const sha256 = createHash('sha256').update(value.manifest, 'utf8').digest('hex');
  if (sha256 !== value.manifestSha256 || value.id !== `r${sha256.slice(0, 20)}`) return undefined;
  try {
    const manifest = parseManifest(value.manifest, 'the edge cache: release.json');
    const files = new Map(Object.entries(manifest.files));
    let bytes = 0;
    for (const entry of files.values()) bytes += entry.size;
    return {
      id: value.id,
      deployedAt: value.deployedAt,
      manifestSha256: sha256,
      since: new Date(now).toISOString(),
      manifest,
      files,
      bytes,
      ...times(value.deployedAt),
    };
  } catch {
    return undefined;
  }
}
