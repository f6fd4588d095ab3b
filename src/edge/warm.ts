/**
 * Fills the cache with every file of the current release in the background, a few at a time, from
 * whichever origins answer (the fetcher's order), so that the site outlives every origin going
 * down. A new release stops the fill of the old one; files already held are skipped at once.
 */
import type { Logger } from '../util/log.ts';
import type { BlobCache } from './cache.ts';
import type { Fetcher } from './fetcher.ts';
import type { EdgeRelease } from './release-view.ts';

const CONCURRENCY = 4;
/** A file no origin supplied is tried again on the next pass, this much later. */
const RETRY_PASS_MS = 5_000;

export class Warmer {
  private generation = 0;
  /** The bodies of the release being filled; how many the cache holds is read from the cache. */
  private shas: readonly string[] = [];
  private running = false;
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly fetcher: Fetcher,
    private readonly cache: BlobCache,
    private readonly deadlineMs: number,
    private readonly logger: Logger,
  ) {}

  /** Starts filling for `release`, dropping any fill in progress. */
  start(release: EdgeRelease): void {
    this.generation += 1;
    clearTimeout(this.timer);
    void this.pass(release, this.generation);
  }

  stop(): void {
    this.generation += 1;
    clearTimeout(this.timer);
  }

  /** Counted from the cache each time, so evictions and visitors' fills show too. */
  status(): { held: number; total: number; running: boolean } {
    let held = 0;
    for (const sha of this.shas) if (this.cache.has(sha)) held += 1;
    return { held, total: this.shas.length, running: this.running };
  }

  private async pass(release: EdgeRelease, generation: number): Promise<void> {
    const wanted = new Map<string, { key: string; sha256: string; size: number }>();
    for (const [key, entry] of release.files) {
      if (!wanted.has(entry.sha256))
        wanted.set(entry.sha256, { key, sha256: entry.sha256, size: entry.size });
    }
    this.shas = [...wanted.keys()];
    const missing = [...wanted.values()].filter((body) => !this.cache.has(body.sha256));
    if (missing.length === 0) {
      this.running = false;
      return;
    }
    this.running = true;
    let failed = 0;
    const next = async (): Promise<void> => {
      for (let body = missing.pop(); body !== undefined; body = missing.pop()) {
        if (generation !== this.generation) return;
        const room = this.cache.stats();
        // A release larger than the cache: fill what fits, and do not churn it.
        if (room.bytes + body.size > room.maxBytes) return;
        if (!this.cache.has(body.sha256)) {
          const outcome = await this.fetcher.body(body, AbortSignal.timeout(this.deadlineMs));
          if (outcome.body === undefined) failed += 1;
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, next));
    if (generation !== this.generation) return;
    this.running = false;
    if (failed > 0) {
      this.logger.info(
        { release: release.id, failed },
        'edge: warming the cache left files no origin supplied; trying again',
      );
      this.timer = setTimeout(() => void this.pass(release, generation), RETRY_PASS_MS);
      this.timer.unref();
    }
  }
}
