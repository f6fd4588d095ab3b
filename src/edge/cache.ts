/**
 * The edge's content-addressed cache: verified bodies by sha256, on disk (`dir/blobs/ab/<sha256>`)
 * and, for small ones, in memory too. What goes in was hashed on the way and matched the
 * manifest; a file is renamed into place only then, so a crash leaves at most a temp file (swept
 * at open). Nothing here talks to an origin.
 *
 * Bounded: past `maxBytes` on disk (or `memoryBytes` in memory) the least recently used bodies go
 * first, bodies of the current release (`pin`) only when nothing else is left, so a release that
 * fits stays whole, which is what keeps the site up when every origin is down.
 *
 * Also kept here: the release the edge served last (`release.json`: its beacon and manifest), so
 * an edge restarted while every origin is down serves that same release from what it holds.
 */
import { createReadStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Logger } from '../util/log.ts';

/** A body larger than this is kept on disk only (streamed to the visitor from the file). */
export const MEMORY_MAX_ENTRY_BYTES = 1024 * 1024;
const SHA256_HEX = /^[0-9a-f]{64}$/;

export interface CacheOptions {
  dir: string;
  maxBytes: number;
  memoryBytes: number;
  logger: Logger;
}

/** One verified body. `buffer` when it is in memory; otherwise read it with `stream()`. */
export interface CachedBody {
  sha256: string;
  size: number;
  buffer?: Buffer;
}

export class BlobCache {
  private readonly disk = new Map<string, number>();
  private readonly memory = new Map<string, Buffer>();
  private diskBytes = 0;
  private memoryBytes = 0;
  private pinned: ReadonlySet<string> = new Set();
  private tempCounter = 0;
  /** Shard folders known to exist (made once, not at every put). */
  private readonly shards = new Set<string>();
  readonly blobsDir: string;
  private readonly tempDir: string;

  constructor(private readonly options: CacheOptions) {
    this.blobsDir = join(options.dir, 'blobs');
    this.tempDir = join(options.dir, 'tmp');
  }

  /** Creates the folders, sweeps temp files, and indexes what an earlier run left (oldest first). */
  async open(): Promise<void> {
    await mkdir(this.blobsDir, { recursive: true });
    await rm(this.tempDir, { recursive: true, force: true });
    await mkdir(this.tempDir, { recursive: true });
    const found: { sha: string; size: number; mtime: number }[] = [];
    for (const shard of await readdir(this.blobsDir)) {
      this.shards.add(shard);
      for (const name of await readdir(join(this.blobsDir, shard)).catch(() => [] as string[])) {
        if (!SHA256_HEX.test(name) || !name.startsWith(shard)) continue;
        const info = await stat(join(this.blobsDir, shard, name)).catch(() => undefined);
        if (info?.isFile()) found.push({ sha: name, size: info.size, mtime: info.mtimeMs });
      }
    }
    found.sort((a, b) => a.mtime - b.mtime);
    for (const entry of found) this.addDisk(entry.sha, entry.size);
    await this.evict();
  }

  has(sha256: string): boolean {
    return this.disk.has(sha256);
  }

  /** The body, or undefined when it is not held. Marks it recently used. */
  get(sha256: string): CachedBody | undefined {
    const size = this.disk.get(sha256);
    if (size === undefined) return undefined;
    this.disk.delete(sha256);
    this.disk.set(sha256, size);
    const buffer = this.memory.get(sha256);
    if (buffer !== undefined) {
      this.memory.delete(sha256);
      this.memory.set(sha256, buffer);
      return { sha256, size, buffer };
    }
    return { sha256, size };
  }

  /** Reads bytes `start`..`end` (inclusive) of a held body from disk. */
  stream(sha256: string, start?: number, end?: number): Readable {
    return createReadStream(this.pathOf(sha256), { start, end, highWaterMark: 256 * 1024 });
  }

  /** A fresh path for a body being fetched (moved in with `adopt`, or removed by the caller). */
  tempPath(): string {
    this.tempCounter += 1;
    return join(this.tempDir, `${process.pid}-${this.tempCounter}`);
  }

  /** Keeps a verified body held in memory: written to disk, and kept in memory when small. */
  async put(sha256: string, data: Buffer): Promise<void> {
    if (this.disk.has(sha256)) return;
    const temp = this.tempPath();
    await writeFile(temp, data);
    await this.adopt(sha256, temp, data.length);
    this.remember(sha256, data);
  }

  /** Moves a verified body written at `tempPath` into the cache. */
  async adopt(sha256: string, tempPath: string, size: number): Promise<void> {
    const path = this.pathOf(sha256);
    const shard = sha256.slice(0, 2);
    if (!this.shards.has(shard)) {
      await mkdir(join(this.blobsDir, shard), { recursive: true });
      this.shards.add(shard);
    }
    await rename(tempPath, path);
    if (!this.disk.has(sha256)) this.addDisk(sha256, size);
    await this.evict();
  }

  /** The bodies of the current release: evicted only when nothing else is left. */
  pin(shas: ReadonlySet<string>): void {
    this.pinned = shas;
  }

  stats(): { files: number; bytes: number; maxBytes: number; memoryBytes: number } {
    return {
      files: this.disk.size,
      bytes: this.diskBytes,
      maxBytes: this.options.maxBytes,
      memoryBytes: this.memoryBytes,
    };
  }

  /** Saves the release being served (any JSON), replacing the last one by rename. */
  async saveRelease(value: unknown): Promise<void> {
    const temp = this.tempPath();
    await writeFile(temp, JSON.stringify(value));
    await rename(temp, join(this.options.dir, 'release.json'));
  }

  /** The release saved last, or undefined when there is none or it cannot be read. */
  async loadRelease(): Promise<unknown> {
    try {
      return JSON.parse(await readFile(join(this.options.dir, 'release.json'), 'utf8'));
    } catch {
      return undefined;
    }
  }

  private pathOf(sha256: string): string {
    return join(this.blobsDir, sha256.slice(0, 2), sha256);
  }

  private addDisk(sha256: string, size: number): void {
    this.disk.set(sha256, size);
    this.diskBytes += size;
  }

  private remember(sha256: string, data: Buffer): void {
    const cap = this.options.memoryBytes;
    if (data.length > Math.min(MEMORY_MAX_ENTRY_BYTES, cap) || this.memory.has(sha256)) return;
    this.memory.set(sha256, data);
    this.memoryBytes += data.length;
    for (const [sha, buffer] of this.memory) {
      if (this.memoryBytes <= cap) break;
      this.memory.delete(sha);
      this.memoryBytes -= buffer.length;
    }
  }

  /** Loads a held body into memory when it is small (after a restart, on first use). */
  async warmMemory(sha256: string): Promise<Buffer | undefined> {
    const size = this.disk.get(sha256);
    if (size === undefined || size > Math.min(MEMORY_MAX_ENTRY_BYTES, this.options.memoryBytes))
      return undefined;
    const data = await readFile(this.pathOf(sha256)).catch(() => undefined);
    if (data === undefined || data.length !== size) return undefined;
    this.remember(sha256, data);
    return data;
  }

  private async evict(): Promise<void> {
    if (this.diskBytes <= this.options.maxBytes) return;
    for (const pass of [false, true]) {
      for (const [sha, size] of this.disk) {
        if (this.diskBytes <= this.options.maxBytes) return;
        if (!pass && this.pinned.has(sha)) continue;
        this.disk.delete(sha);
        this.diskBytes -= size;
        const buffer = this.memory.get(sha);
        if (buffer !== undefined) {
          this.memory.delete(sha);
          this.memoryBytes -= buffer.length;
        }
        await rm(this.pathOf(sha), { force: true }).catch((error: unknown) =>
          this.options.logger.warn(
            { err: error, sha256: sha },
            'edge cache: could not remove an evicted body',
          ),
        );
      }
    }
  }
}
