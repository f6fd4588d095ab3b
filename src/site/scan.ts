/**
 * Scans the built site: walks `site.dir`, turns each file into a key, checks that every file can be
 * published, hashes the files and builds the release manifest.
 *
 * Every problem the walk finds (a bad name, a symlink out of the site, a FIFO, an unreadable file)
 * is collected and reported in one error before anything is written, so a user fixes them all in
 * one round instead of one per run. The walk does as little per file as it can (no stat for
 * plain files) because sites of 10,000+ files are common.
 */

import { accessSync, constants, readdirSync, statSync } from 'node:fs';
import { readlink, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import picomatch from 'picomatch';
import type { SiteConfig } from '../config/schema.ts';
import { OutlastError } from '../errors.ts';
import { buildManifest, canonicalManifestJson, releaseIdOf, sortByKey } from '../release/manifest.ts';
import type { Manifest, ManifestEntry } from '../release/types.ts';
import { OUTLAST_PREFIX } from '../release/types.ts';
import type { ObjectHeaders } from '../storage/driver.ts';
import { keyProblem } from '../storage/keys.ts';
import { HashCache, wallClockNs } from './hash-cache.ts';
import { cannotRead, hashAll } from './hash-files.ts';
import { compileHeaderRules } from './headers.ts';

/** One file of the site, ready to upload. */
export interface ScannedFile {
  key: string;
  /** The absolute real path to read the bytes from (symlinks resolved). */
  path: string;
  /** The number of bytes hashed. */
  size: number;
  sha256: string;
  /** The MD5 (hex) of the same bytes, for stores that check uploads by MD5 (hashed in the same pass). */
  md5: string;
  headers: ObjectHeaders;
}

export interface SiteScan {
  /** Sorted by key (UTF-8 byte order, `compareKeys`). */
  files: ScannedFile[];
  manifest: Manifest;
  /** The manifest's canonical JSON: the bytes to store and the input of the release id. */
  manifestJson: string;
  releaseId: string;
  manifestSha256: string;
  totalBytes: number;
  /** Saves the hash cache, when the scan had one and `deferCacheSave` held it back. */
  saveCache: () => Promise<void>;
  /** Where the scan's time went (ms): the walk (and the cache's load), hashing, the manifest. */
  timings: { walkMs: number; hashMs: number; manifestMs: number };
}

export interface ScanOptions {
  /** Files hashed at once. Default 8. */
  concurrency?: number;
  /** Called with (0, total) before hashing and after each file is hashed; last with (total, total). */
  onProgress?: (done: number, total: number) => void;
  /**
   * A folder for the hash cache (see hash-cache.ts): files whose stat is unchanged since the last
   * scan are not read again. Default: no cache. Ignored when the folder is inside the site.
   */
  cacheDir?: string;
  /** Leave the cache unsaved until the caller calls `saveCache` (when the run got somewhere). */
  deferCacheSave?: boolean;
}

/** Problems listed in the error; the rest are counted. */
const MAX_PROBLEMS_SHOWN = 20;
// A file key equal to the reserved folder's name would stop an `fs` origin from creating it.
const RESERVED_FOLDER_KEY = OUTLAST_PREFIX.slice(0, -1);

/**
 * Scans `site.dir` (absolute) and builds the release. Keys are paths relative to the site folder,
 * `/`-separated, in Unicode NFC. Files matching a `site.exclude` glob are left out; a folder that
 * matches one is not entered at all (so `drafts` or `drafts/**` leave out the whole folder).
 * Symlinks are followed when they lead inside the site. Any problem is `invalid_site`, all of them
 * listed in one error.
 */
export async function scanSite(site: SiteConfig, options: ScanOptions = {}): Promise<SiteScan> {
  // Before any file is stat'ed or read: the cache's "racy" rule is relative to this time.
  const startNs = wallClockNs();
  const started = performance.now();
  const root = path.resolve(site.dir);
  const rootReal = await openRoot(root);
  const cacheDir = options.cacheDir === undefined ? undefined : path.resolve(options.cacheDir);
  const cache =
    cacheDir !== undefined && !isInside(rootReal, cacheDir) && !isInside(root, cacheDir)
      ? await HashCache.load(cacheDir, rootReal)
      : undefined;
  const walker = new Walker(rootReal, site.exclude);
  await walker.walkFolder(rootReal, '', '', [rootReal]);
  // When the walk found problems, the unreadable files join them, so that one error lists all.
  if (walker.problems.length > 0) walker.problems.push(...unreadable(walker.found));
  throwProblems(root, walker.problems);
  if (walker.found.length === 0) {
    const excluded = walker.excluded > 0 ? ` (${walker.excluded} left out by site.exclude)` : '';
    throw new OutlastError('invalid_site', `site ${root} has no files to publish${excluded}`, {
      hint: 'check site.dir in the config and that the site was built',
    });
  }

  const found = sortByKey(walker.found);
  walker.found.length = 0;
  const walked = performance.now();
  const hashed = await hashAll(found, options, cache);
  const hashedAt = performance.now();
  throwProblems(root, hashed.problems);
  const headersOf = compileHeaderRules(site.headers);
  let totalBytes = 0;
  const files = found.map((file, index): ScannedFile => {
    const { size, sha256, md5 } = hashed.results[index]!;
    totalBytes += size;
    return { key: file.key, path: file.path, size, sha256, md5, headers: headersOf(file.key) };
  });
  found.length = 0;
  hashed.results.length = 0;
  const manifest = buildManifest(manifestEntries(files), site);
  const manifestJson = canonicalManifestJson(manifest);
  const { releaseId, sha256 } = releaseIdOf(manifestJson);
  let unsaved = cache;
  const saveCache = async () => {
    // Once: the cache's memory (tens of MB for a large site) is let go when it is written.
    const saving = unsaved;
    unsaved = undefined;
    await saving?.save(startNs);
  };
  if (!options.deferCacheSave) await saveCache();
  const timings = {
    walkMs: walked - started,
    hashMs: hashedAt - walked,
    manifestMs: performance.now() - hashedAt,
  };
  return { files, manifest, manifestJson, releaseId, manifestSha256: sha256, totalBytes, saveCache, timings };
}

function* manifestEntries(files: ScannedFile[]): Generator<[string, ManifestEntry]> {
  for (const file of files) yield [file.key, { sha256: file.sha256, size: file.size, headers: file.headers }];
}

/** Whether `inner` is `outer` or below it. */
function isInside(outer: string, inner: string): boolean {
  const relative = path.relative(outer, inner);
  return (
    relative === '' ||
    !(relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative))
  );
}

interface Found {
  key: string;
  path: string;
  /** The path relative to the site as it is on disk, for messages. */
  shown: string;
}

interface Problem {
  shown: string;
  message: string;
}

/** The site folder's real path; a missing folder or a file is `invalid_site`. */
async function openRoot(root: string): Promise<string> {
  const hint = 'check site.dir in the config and that the site was built';
  try {
    const real = await realpath(root);
    if (!(await stat(real)).isDirectory()) {
      throw new OutlastError('invalid_site', `site.dir ${root} is a file, not a folder`, { hint });
    }
    return real;
  } catch (error) {
    if (error instanceof OutlastError) throw error;
    const code = errorCode(error);
    const why = code === 'ENOENT' || code === 'ENOTDIR' ? 'does not exist' : `cannot be opened (${code})`;
    throw new OutlastError('invalid_site', `site folder ${root} ${why}`, { hint, cause: error });
  }
}

class Walker {
  readonly found: Found[] = [];
  readonly problems: Problem[] = [];
  excluded = 0;
  private readonly isExcluded: (key: string) => boolean;
  private readonly decoder = new TextDecoder('utf-8', { fatal: true });

  constructor(
    private readonly rootReal: string,
    exclude: string[],
  ) {
    this.isExcluded = exclude.length > 0 ? picomatch(exclude, { dot: true }) : () => false;
  }

  /** Walks one folder; `ancestors` are the real paths above it, to tell a symlink loop. */
  async walkFolder(real: string, keyPrefix: string, shownPrefix: string, ancestors: string[]): Promise<void> {
    let entries: Awaited<ReturnType<typeof readdirBuffers>>;
    try {
      entries = await readdirBuffers(real);
    } catch (error) {
      this.problem(shownPrefix || './', `folder cannot be read (${errorCode(error)})`);
      return;
    }
    // Each key's name as it is on disk, to explain two names that are the same in NFC.
    const siblings = new Map<string, { shown: string; name: string }>();
    const samePrefix = keyPrefix === shownPrefix;
    const pending: Promise<void>[] = [];
    for (const entry of entries) {
      let name: string;
      try {
        name = this.decoder.decode(entry.name);
      } catch {
        // Still honour excludes, matched on a lossy decoding, so such a file can be left out.
        if (this.isExcluded(keyPrefix + entry.name.toString('utf8').normalize('NFC'))) this.excluded++;
        else this.problem(shownPrefix + escapeBytes(entry.name), 'name is not valid UTF-8; rename it');
        continue;
      }
      const ascii = /^[\x20-\x7e]*$/.test(name);
      const key = keyPrefix + (ascii ? name : name.normalize('NFC'));
      // One string for both when they are the same (ASCII names all the way down): one less per file.
      const shown = ascii && samePrefix ? key : shownPrefix + (ascii ? name : printable(name));
      if (this.isExcluded(key)) {
        this.excluded++;
        continue;
      }
      const twin = siblings.get(key);
      if (twin !== undefined) {
        this.problem(
          `${shown} (${formOf(name)})`,
          `has the same name as ${twin.shown} (${formOf(twin.name)}) in Unicode NFC; rename one`,
        );
        continue;
      }
      siblings.set(key, { shown, name });
      const problem = keyProblem(key);
      if (problem !== undefined) {
        this.problem(shown, `key "${printable(key)}" ${problem}`);
        continue;
      }
      // `real` is a normalized absolute path and `name` one segment: no need for path.join's work.
      const full = real.endsWith(path.sep) ? real + name : real + path.sep + name;
      if (entry.isDirectory())
        pending.push(this.walkFolder(full, `${key}/`, `${shown}/`, [...ancestors, full]));
      else if (entry.isFile()) this.addFile(key, full, shown);
      else if (entry.isSymbolicLink()) pending.push(this.followLink(key, full, shown, ancestors));
      else this.problem(shown, `is ${kindOf(entry)}; only files, folders and symlinks can be published`);
    }
    await Promise.all(pending);
  }

  private addFile(key: string, real: string, shown: string): void {
    if (key.startsWith(OUTLAST_PREFIX) || key === RESERVED_FOLDER_KEY) {
      this.problem(shown, `is under ${OUTLAST_PREFIX}, which outlast keeps for itself; move or exclude it`);
      return;
    }
    // Readability is not checked here: hashing opens every file the cache cannot vouch for and
    // reports the ones it cannot read, and a cache hit means the same user read this very inode,
    // with the same ctime (so the same permissions), last time (hash-cache.ts). On a site of
    // 10,000 files an access() each was a fifth of a no-op deploy.
    this.found.push({ key, path: real, shown });
  }

  private async followLink(key: string, link: string, shown: string, ancestors: string[]): Promise<void> {
    let target: Awaited<ReturnType<typeof stat>>;
    try {
      target = await stat(link);
    } catch (error) {
      const leadsTo = await readlink(link).catch(() => '?');
      const code = errorCode(error);
      if (code === 'ELOOP') this.problem(shown, `is a symlink loop (leads to ${leadsTo})`);
      else if (code === 'ENOENT' || code === 'ENOTDIR')
        this.problem(shown, `is a broken symlink (leads to ${leadsTo}, which does not exist)`);
      else this.problem(shown, `is a symlink that cannot be followed (${code}; leads to ${leadsTo})`);
      return;
    }
    let real: string;
    try {
      real = await realpath(link);
    } catch (error) {
      this.problem(shown, `is a symlink that cannot be resolved (${errorCode(error)})`);
      return;
    }
    const relative = path.relative(this.rootReal, real);
    if (relative === '..' || relative.startsWith(`..${path.sep}`) || path.isAbsolute(relative)) {
      this.problem(shown, `is a symlink to ${real}, outside the site; copy what it points to or exclude it`);
    } else if (target.isFile()) {
      this.addFile(key, real, shown);
    } else if (target.isDirectory()) {
      if (ancestors.includes(real)) {
        this.problem(shown, `is a symlink loop (leads to ${real}, a folder that contains it)`);
      } else {
        await this.walkFolder(real, `${key}/`, `${shown}/`, [...ancestors, real]);
      }
    } else {
      this.problem(shown, `is a symlink to ${kindOf(target)}; only files and folders can be published`);
    }
  }

  private problem(shown: string, message: string): void {
    this.problems.push({ shown, message });
  }
}

// Synchronous, like the stat of a cached file: a built site has thousands of small folders, and
// a readdir through the thread pool costs more in promises than the syscall itself.
async function readdirBuffers(folder: string) {
  return readdirSync(folder, { encoding: 'buffer', withFileTypes: true });
}

/** The files of `found` that this process may not read (one access() each). */
function unreadable(found: Found[]): Problem[] {
  const problems: Problem[] = [];
  for (const file of found) {
    try {
      accessSync(file.path, constants.R_OK);
    } catch (error) {
      problems.push({ shown: file.shown, message: cannotRead(error) });
    }
  }
  return problems;
}

/** Throws one `invalid_site` error listing the problems, sorted, at most MAX_PROBLEMS_SHOWN. */
function throwProblems(root: string, problems: Problem[]): void {
  if (problems.length === 0) return;
  const lines = problems
    .map(({ shown, message }) => `  ${shown}: ${message}`)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const shown = lines.slice(0, MAX_PROBLEMS_SHOWN);
  if (lines.length > shown.length) shown.push(`  … and ${lines.length - shown.length} more`);
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  throw new OutlastError('invalid_site', `site ${root}: ${count}\n${shown.join('\n')}`, {
    hint: 'fix, rename or exclude (site.exclude) these files, then run again',
  });
}

/** `caf\xe9.html`: printable ASCII as is, every other byte as `\xNN`. */
function escapeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const byte of bytes) {
    out += byte >= 0x20 && byte < 0x7f && byte !== 0x5c ? String.fromCharCode(byte) : `\\x${hex2(byte)}`;
  }
  return out;
}

/** The name with control characters escaped, so a message stays on one line. */
function printable(name: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to find them
  return name.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${hex2(c.charCodeAt(0))}`);
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

/** Which Unicode form a name is in, to explain two names that look the same. */
function formOf(name: string): string {
  if (name === name.normalize('NFC')) return 'NFC';
  return name === name.normalize('NFD') ? 'NFD' : 'not normalized';
}

function kindOf(entry: {
  isFIFO(): boolean;
  isSocket(): boolean;
  isBlockDevice(): boolean;
  isCharacterDevice(): boolean;
}): string {
  if (entry.isFIFO()) return 'a FIFO (named pipe)';
  if (entry.isSocket()) return 'a socket';
  if (entry.isBlockDevice() || entry.isCharacterDevice()) return 'a device';
  return 'neither a file nor a folder';
}

function errorCode(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  return typeof code === 'string' ? code : String(error);
}
