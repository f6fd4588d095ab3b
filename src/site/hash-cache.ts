/**
 * A local cache of file hashes, like git's index: a file whose stat (size, mtime, ctime, inode,
 * device) is unchanged since it was hashed is not read again. It makes a deploy with nothing
 * changed cost one `stat` per file instead of reading and hashing the whole site.
 *
 * Correctness comes first, so an entry is trusted only when all of these hold:
 * - the file's real path, size, mtimeNs, ctimeNs, inode and device equal the entry's;
 * - the file's mtime is more than RACY_SLACK_NS older than the time the scan that wrote
 *   the cache started (git's "racy clean" rule: a file changed again within the timestamp
 *   granularity of when it was hashed could keep the same stat with different bytes).
 * Anything else is hashed again. A hit also stands for "this file can be read": the same user and
 * groups (the cache file is per site and per user) read this inode last time, and any change of
 * its permissions (chmod, chown, an ACL) would have changed its ctime. The stat recorded with a hash is an fstat of the descriptor the
 * bytes were read from, taken before reading, so a change during or after the read shows as a
 * different stat next time (or falls under the racy rule).
 *
 * The file is binary: a header (magic, version, the scan's start time, entry count), the entries,
 * and a sha256 of all of it. It is written to a temporary file and renamed into place. A missing,
 * truncated, corrupt or other-version cache is ignored (everything is hashed), never an error; a
 * cache that cannot be written is skipped too (the scan itself succeeded).
 *
 * Known limit: the racy rule compares file times (set by the file system's clock) with this
 * machine's clock; a network file system whose clock lags by more than RACY_SLACK_NS and that has
 * coarse timestamps could hide a same-size rewrite made within one tick of the hash. Local file
 * systems (nanosecond timestamps, one clock) are not affected.
 */

import { createHash, randomBytes } from 'node:crypto';
import type { BigIntStats } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';

const MAGIC = 0x4f4c4843; // "OLHC"
/** 2: entries carry the MD5 beside the sha256 (the ETag/Content-MD5 of uploads, computed in the same pass). */
const VERSION = 2;
const HEADER_BYTES = 4 + 4 + 8 + 4;
/** Per entry: path length (u16), the path, size, mtimeNs, ctimeNs (i64), ino, dev, the raw sha256, the raw MD5. */
const FIXED_ENTRY_BYTES = 2 + 5 * 8 + 32 + 16;
const CHECKSUM_BYTES = 32;
/** Files changed this close to (or after) the cache's scan start are hashed again. */
export const RACY_SLACK_NS = 2_000_000_000n;

/** The stat fields an entry is keyed on. */
export interface FileStamp {
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
  ino: bigint;
  dev: bigint;
}

/** What hashing a file gives (hex digests). */
export interface FileDigests {
  size: number;
  sha256: string;
  md5: string;
}

interface Entry extends FileStamp {
  sha256: string;
  md5: string;
}

export function stampOf(stats: BigIntStats): FileStamp {
  return { size: stats.size, mtimeNs: stats.mtimeNs, ctimeNs: stats.ctimeNs, ino: stats.ino, dev: stats.dev };
}

export class HashCache {
  /** What the last scan wrote (trusted only through `lookup`): per real path, where its record
   * (size … md5) starts in `previousBytes`. An index into the file's bytes rather than an object
   * with five BigInts per file: a site of 100,000 files would otherwise hold tens of MB for it. */
  private readonly previous: Map<string, number>;
  private readonly previousBytes: Buffer;
  /** Entries confirmed (an offset into `previousBytes`) or hashed by this scan: what `save` writes. */
  private readonly current = new Map<string, Entry | number>();
  private readonly trustBeforeNs: bigint;

  private constructor(
    readonly file: string,
    decoded: Decoded,
  ) {
    this.previous = decoded.index;
    this.previousBytes = decoded.bytes;
    this.trustBeforeNs = decoded.startNs - RACY_SLACK_NS;
  }

  /** The cache file of the site at `rootReal` in `cacheDir`; an unreadable file gives an empty cache. */
  static async load(cacheDir: string, rootReal: string): Promise<HashCache> {
    // One cache per site and user: a hit also vouches that this user could read the file (see
    // the scan), which holds only for the same user and groups.
    const reader = `${process.getuid?.() ?? ''}:${process.getgid?.() ?? ''}:${process.getgroups?.().join(',') ?? ''}`;
    const id = createHash('sha256').update(rootReal).update('\0').update(reader).digest('hex').slice(0, 16);
    const file = path.join(path.resolve(cacheDir), `hashes-${id}.bin`);
    let bytes: Buffer | undefined;
    try {
      bytes = await readFile(file);
    } catch {
      bytes = undefined;
    }
    const decoded = bytes ? decode(bytes) : undefined;
    return new HashCache(file, decoded ?? { index: new Map(), bytes: Buffer.alloc(0), startNs: 0n });
  }

  /** The cached hash of `realPath` if its stat says it is the same file with the same bytes. */
  lookup(realPath: string, stats: BigIntStats): FileDigests | undefined {
    const at = this.previous.get(realPath);
    const bytes = this.previousBytes;
    if (
      at === undefined ||
      bytes.readBigUInt64BE(at) !== stats.size ||
      bytes.readBigInt64BE(at + 8) !== stats.mtimeNs ||
      bytes.readBigInt64BE(at + 16) !== stats.ctimeNs ||
      bytes.readBigUInt64BE(at + 24) !== stats.ino ||
      bytes.readBigUInt64BE(at + 32) !== stats.dev ||
      stats.mtimeNs >= this.trustBeforeNs
    ) {
      return undefined;
    }
    this.current.set(realPath, at);
    return {
      size: Number(stats.size),
      sha256: bytes.toString('hex', at + 40, at + 72),
      md5: bytes.toString('hex', at + 72, at + 88),
    };
  }

  /** Records the hashes computed from the bytes of a file whose stat, before reading, was `stamp`. */
  record(realPath: string, stamp: FileStamp, digests: { sha256: string; md5: string }): void {
    this.current.set(realPath, { ...stamp, sha256: digests.sha256, md5: digests.md5 });
    this.recorded++;
  }

  /** Hashes recorded by this scan (not confirmed from the previous one). */
  private recorded = 0;

  /**
   * Whether `save` would write anything new: a hash was recorded, or a file of the last scan is
   * gone. When every entry was confirmed, the file on disk already says all of it (and its older
   * start time only makes the racy rule stricter), so a no-op deploy writes nothing here.
   */
  get changed(): boolean {
    return this.recorded > 0 || this.current.size !== this.previous.size;
  }

  /**
   * Writes the entries of this scan, atomically. `startNs` is the wall-clock time (ns) the scan
   * began, before any file was stat'ed or read. Errors are swallowed: the cache is only an aid.
   */
  async save(startNs: bigint): Promise<void> {
    if (!this.changed) return;
    const temp = `${this.file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
    try {
      await mkdir(path.dirname(this.file), { recursive: true });
      await writeFile(temp, encode(this.current, this.previousBytes, startNs), { mode: 0o600 });
      await rename(temp, this.file);
    } catch {
      await rm(temp, { force: true }).catch(() => undefined);
    }
  }
}

/** Now, in ns since the epoch, from the wall clock (the clock file times are compared with). */
export function wallClockNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** The fixed part of an entry, after its path: size, mtimeNs, ctimeNs, ino, dev, sha256, md5. */
const RECORD_BYTES = FIXED_ENTRY_BYTES - 2;

function encode(entries: Map<string, Entry | number>, previous: Buffer, startNs: bigint): Buffer {
  const paths: Buffer[] = [];
  let length = HEADER_BYTES + CHECKSUM_BYTES;
  for (const realPath of entries.keys()) {
    const bytes = Buffer.from(realPath, 'utf8');
    paths.push(bytes);
    length += FIXED_ENTRY_BYTES + bytes.length;
  }
  const out = Buffer.alloc(length);
  let at = out.writeUInt32BE(MAGIC, 0);
  at = out.writeUInt32BE(VERSION, at);
  at = out.writeBigUInt64BE(startNs, at);
  at = out.writeUInt32BE(entries.size, at);
  let index = 0;
  for (const entry of entries.values()) {
    const bytes = paths[index++]!;
    at = out.writeUInt16BE(bytes.length, at);
    at += bytes.copy(out, at);
    if (typeof entry === 'number') {
      // Confirmed from the last scan: its record as it was.
      at += previous.copy(out, at, entry, entry + RECORD_BYTES);
      continue;
    }
    at = out.writeBigUInt64BE(entry.size, at);
    at = out.writeBigInt64BE(entry.mtimeNs, at);
    at = out.writeBigInt64BE(entry.ctimeNs, at);
    at = out.writeBigUInt64BE(entry.ino, at);
    at = out.writeBigUInt64BE(entry.dev, at);
    at += out.write(entry.sha256, at, 'hex');
    at += out.write(entry.md5, at, 'hex');
  }
  const body = out.subarray(0, at);
  createHash('sha256').update(body).digest().copy(out, at);
  return out.subarray(0, at + CHECKSUM_BYTES);
}

interface Decoded {
  /** Per real path, the offset of its record in `bytes`. */
  index: Map<string, number>;
  bytes: Buffer;
  startNs: bigint;
}

/** The index of the entries, or undefined for anything but a well-formed cache of this version. */
function decode(bytes: Buffer): Decoded | undefined {
  try {
    if (bytes.length < HEADER_BYTES + CHECKSUM_BYTES) return undefined;
    const bodyEnd = bytes.length - CHECKSUM_BYTES;
    const checksum = createHash('sha256').update(bytes.subarray(0, bodyEnd)).digest();
    if (!checksum.equals(bytes.subarray(bodyEnd))) return undefined;
    if (bytes.readUInt32BE(0) !== MAGIC || bytes.readUInt32BE(4) !== VERSION) return undefined;
    const startNs = bytes.readBigUInt64BE(8);
    const count = bytes.readUInt32BE(16);
    const index = new Map<string, number>();
    let at = HEADER_BYTES;
    for (let i = 0; i < count; i++) {
      const pathLength = bytes.readUInt16BE(at);
      at += 2;
      if (at + pathLength + RECORD_BYTES > bodyEnd) return undefined;
      index.set(bytes.toString('utf8', at, at + pathLength), at + pathLength);
      at += pathLength + RECORD_BYTES;
    }
    return at === bodyEnd ? { index, bytes, startNs } : undefined;
  } catch {
    return undefined;
  }
}
