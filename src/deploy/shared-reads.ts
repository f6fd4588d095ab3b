/**
 * One read of each local file for every origin of a deploy. The origins' plans say which files
 * each will upload; the first origin to need a file reads it whole, and the bytes are kept, within
 * a byte budget, until every other origin that uploads it has taken them. Nothing is hashed here:
 * the scan computed the sha256 and the MD5 in its one pass (hash-files.ts).
 *
 * The budget bounds memory whatever the origins' speeds: when one origin runs so far ahead that
 * the bytes it read would exceed the budget, they are not kept, and the slower origin reads that
 * file again (counted in `rereads`), instead of the fast one waiting or memory growing. Origins stay
 * independent: a failed or slow origin holds nothing back but the budget it used, and `leave`
 * gives that back once it stops.
 *
 * Files of BUFFERED_MAX_BYTES or more are not read here at all: their put streams the file
 * (each origin reads it; there are few such files and their bytes would crowd out thousands of
 * small ones).
 */
import { close, open, read } from 'node:fs';
import { changedSource, sourceReadError } from '../storage/source-errors.ts';
import type { OriginPlan, Upload } from './types.ts';

/** Files below this are read into memory once for all origins; larger ones are streamed by each. */
export const BUFFERED_MAX_BYTES = 8 * 1024 * 1024;
/** Bytes kept for origins that have not taken them yet. Origins of unequal speed (S3 and Swift)
 * fill it, so it adds to the deploy's peak RSS whole; a file the slower origin reads again instead
 * costs one read, most likely from the page cache. */
export const DEFAULT_SHARED_BUDGET_BYTES = 32 * 1024 * 1024;

export interface SharedReadStats {
  /** Files read from disk for uploads. */
  reads: number;
  /** Of `reads`, files read a second time or more (origins too far apart for the budget). */
  rereads: number;
  bytesRead: number;
}

export class SharedReads {
  /** Per path, the uploads (over all origins) that have not taken or given up their bytes yet. */
  private readonly wanted = new Map<string, number>();
  private readonly held = new Map<string, { bytes: Promise<Buffer>; size: number }>();
  private readonly seen = new Set<string>();
  private heldBytes = 0;
  readonly stats: SharedReadStats = { reads: 0, rereads: 0, bytesRead: 0 };

  constructor(
    plans: readonly OriginPlan[],
    private readonly budgetBytes = DEFAULT_SHARED_BUDGET_BYTES,
  ) {
    // With one origin uploading, nothing is ever kept: no need to count (100,000 entries).
    if (plans.filter((plan) => plan.uploads.length > 0).length < 2) return;
    for (const plan of plans) {
      for (const item of plan.uploads) {
        const path = bufferedPath(item);
        if (path !== undefined) this.wanted.set(path, (this.wanted.get(path) ?? 0) + 1);
      }
    }
  }

  /**
   * The bytes of the upload's file, read once for all the uploads that want them. The caller
   * gives them back with `release` whether its put worked or not. A file whose size differs from
   * the scan's is `conflict`; one that cannot be read, `not_found` or `permission_denied`.
   */
  bytesFor(item: Upload, errorSource: string): Promise<Buffer> {
    const path = bufferedPath(item);
    if (path === undefined)
      throw new Error(`${item.key} is not read through SharedReads (a blob, or a large file)`);
    const held = this.held.get(path);
    if (held) return held.bytes;
    this.stats.reads++;
    if (this.seen.has(path)) this.stats.rereads++;
    this.seen.add(path);
    const bytes = readExactly(path, item.size).then(
      (buffer) => {
        this.stats.bytesRead += buffer.length;
        return buffer;
      },
      (error: unknown) => {
        this.drop(path); // a failed read is not kept: the next upload of it tries again
        throw isSizeMismatch(error)
          ? changedSource(item.key, { kind: 'file', path, size: item.size }, error.size, errorSource)
          : sourceReadError(error, path, item.key, errorSource);
      },
    );
    const others = (this.wanted.get(path) ?? 0) - 1;
    if (others > 0 && this.heldBytes + item.size <= this.budgetBytes) {
      this.held.set(path, { bytes, size: item.size });
      this.heldBytes += item.size;
    }
    return bytes;
  }

  /** One upload of this file is done with its bytes (put, failed, or never to be made). */
  release(item: Upload): void {
    const path = bufferedPath(item);
    if (path === undefined) return;
    const left = (this.wanted.get(path) ?? 0) - 1;
    if (left > 0) {
      this.wanted.set(path, left);
      return;
    }
    this.wanted.delete(path);
    this.drop(path);
  }

  private drop(path: string): void {
    const held = this.held.get(path);
    if (!held) return;
    this.held.delete(path);
    this.heldBytes -= held.size;
  }
}

/** The path whose bytes this upload takes from SharedReads, or undefined (streamed, or a blob). */
export function bufferedPath(item: Upload): string | undefined {
  return item.source.kind === 'local' && item.size < BUFFERED_MAX_BYTES ? item.source.path : undefined;
}

class SizeMismatch extends Error {
  constructor(readonly size: number) {
    super(`read ${size} bytes`);
  }
}

function isSizeMismatch(error: unknown): error is SizeMismatch {
  return error instanceof SizeMismatch;
}

// Callback fs, like the scan's reads: for thousands of small files the promise API's overhead per
// call is larger than the reads themselves.
/** The file's bytes, which must be exactly `size` (one byte more is looked for, to see growth). */
async function readExactly(path: string, size: number): Promise<Buffer> {
  const fd = await new Promise<number>((resolve, reject) =>
    open(path, 'r', (error, fd) => (error ? reject(error) : resolve(fd))),
  );
  try {
    const buffer = Buffer.allocUnsafe(size + 1);
    let filled = 0;
    for (;;) {
      const n = await new Promise<number>((resolve, reject) =>
        read(fd, buffer, filled, buffer.length - filled, null, (error, count) =>
          error ? reject(error) : resolve(count),
        ),
      );
      if (n === 0) break;
      filled += n;
      if (filled === buffer.length) break;
    }
    if (filled !== size) throw new SizeMismatch(filled);
    return buffer.subarray(0, size);
  } finally {
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  }
}
