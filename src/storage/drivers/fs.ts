/**
 * `fs`: a folder as an origin, served by `outlast serve` or any web server (nginx `root`).
 *
 * Layout, which `outlast serve` and the tests rely on:
 *   - object `key` is the file `objectPath(root, key)`, i.e. `<root>/<segments of key>`;
 *   - its sha256, headers and user metadata are a sidecar JSON at `sidecarPath(root, key)`, i.e.
 *     `<root>/.outlast-fs/meta/<segments of key>.json`;
 *   - temp files are in `<root>/.outlast-fs/tmp`. Nothing under `.outlast-fs` is ever an object.
 *
 * A sidecar applies only while it matches the file (same size and mtime), so a file replaced by
 * hand, or a put killed between writing the sidecar and renaming the object, shows as an object
 * without sha256 and headers, never with wrong ones.
 *
 * A missing root folder is an origin that was never deployed: it lists as empty, stats as missing,
 * and the first put creates it.
 *
 * Files whose path is not a valid key (not NFC, control characters) and anything that is not a
 * regular file (symlinks included) are not objects: never listed, never read.
 */
import { randomUUID } from 'node:crypto';
import { constants, createWriteStream, type Dirent, type Stats } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, rename, rmdir, unlink, writeFile } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import pLimit from 'p-limit';
import { type ErrorCode, messageOf, OutlastError } from '../../errors.ts';
import { cancelledError, checkSignal, isAbortError } from '../abort.ts';
import {
  type GetResult,
  type ListOptions,
  type ListPage,
  OBJECT_HEADER_NAMES,
  type ObjectHeaders,
  type ObjectInfo,
  type ObjectSource,
  type StorageDriver,
  type UserMetadata,
} from '../driver.ts';
import { compareKeys, keyProblem } from '../keys.ts';
import { FS_CAPABILITIES, FS_TYPE } from './fs-options.ts';

export interface FsDriverOptions {
  /** The folder that holds the origin's files. Created by the first put; a missing folder is an
   * empty origin. */
  root: string;
}

/** What a sidecar holds (`<root>/.outlast-fs/meta/<key>.json`). */
export interface FsSidecar {
  version: 1;
  /** The object file's size and mtime when the sidecar was written: it applies only if both match. */
  size: number;
  mtimeMs: number;
  sha256: string;
  headers: ObjectHeaders;
  metadata: UserMetadata;
}

type SidecarContent = Pick<FsSidecar, 'sha256' | 'headers' | 'metadata'>;

const DRIVER_NAME = FS_TYPE;
/** outlast's own folder inside the root: sidecars and temp files. Keys may not start with it. */
export const FS_RESERVED_DIR = '.outlast-fs';
const DEFAULT_PAGE_SIZE = 1000;
/** Sidecars read in parallel while listing: enough to hide latency, few enough to spare handles. */
const SIDECAR_READS = 16;
/** A concurrent delete may prune the folder a put is about to rename into; try again this often. */
const PLACE_TRIES = 4;

/** How Node's errno codes map onto outlast's; anything else is `internal`. */
const ERRNO_CODES: Record<string, ErrorCode> = {
  ENOENT: 'not_found',
  EACCES: 'permission_denied',
  EPERM: 'permission_denied',
  EROFS: 'permission_denied',
  ENOSPC: 'unavailable',
  EDQUOT: 'unavailable',
  EISDIR: 'conflict',
  ENOTDIR: 'conflict',
  EEXIST: 'conflict',
  ENOTEMPTY: 'conflict',
  ENAMETOOLONG: 'invalid_argument',
  EMFILE: 'unavailable',
  ENFILE: 'unavailable',
  EBUSY: 'unavailable',
  EAGAIN: 'unavailable',
};

export function createFsDriver(options: FsDriverOptions): StorageDriver {
  const root = resolve(options.root);
  const tmpDir = join(root, FS_RESERVED_DIR, 'tmp');
  const metaDir = join(root, FS_RESERVED_DIR, 'meta');

  /** Writes a new file in the temp folder with `write(path)`; removes it if that fails. */
  async function writeTempFile(write: (path: string) => Promise<unknown>): Promise<string> {
    const temp = join(tmpDir, `${randomUUID()}.tmp`);
    for (let attempt = 1; ; attempt++) {
      try {
        await write(temp);
        return temp;
      } catch (error) {
        await unlink(temp).catch(() => undefined);
        if (errno(error) !== 'ENOENT' || attempt > 1) throw error;
        // The first write into a new root (or the temp folder was removed): create it, try again.
        await mkdir(tmpDir, { recursive: true });
      }
    }
  }

  /** Renames a finished temp file to `target` (the object or its sidecar). */
  async function place(temp: string, target: string, operation: string, key: string): Promise<void> {
    const sidecar = target.startsWith(metaDir + sep);
    for (let attempt = 1; ; attempt++) {
      try {
        // Most writes go to folders that exist: create them only after a rename said ENOENT. A
        // concurrent delete may prune a folder between the two, hence a few tries.
        if (attempt > 1) await mkdir(dirname(target), { recursive: true });
        await rename(temp, target);
        return;
      } catch (error) {
        if (errno(error) === 'ENOENT' && attempt < PLACE_TRIES) continue;
        if (isConflict(error) && sidecar) throw sidecarConflict(operation, key, error);
        if (isConflict(error)) throw await sameNameConflict(root, operation, key, error);
        throw fsError(error, operation, key);
      }
    }
  }

  /**
   * The atomic write behind put and copy: the bytes go to a temp file, then the sidecar (temp +
   * rename), then the object is renamed into place. A kill at any moment leaves the old object or
   * the new one at the key, never a part; at worst a sidecar that matches neither (ignored). An
   * abort is heeded until the sidecar is placed; from there the two renames always run.
   */
  async function commit(
    operation: string,
    key: string,
    write: (path: string) => Promise<unknown>,
    meta: SidecarContent | undefined,
    signal: AbortSignal | undefined,
  ): Promise<void> {
    let temp: string | undefined;
    try {
      temp = await writeTempFile(write);
      const stats = await lstat(temp);
      checkSignal(signal, DRIVER_NAME, `${operation} ${JSON.stringify(key)}`);
      if (meta) {
        const { sha256, headers, metadata } = meta;
        const sidecar: FsSidecar = {
          version: 1,
          size: stats.size,
          mtimeMs: stats.mtimeMs,
          sha256,
          headers,
          metadata,
        };
        const json = JSON.stringify(sidecar);
        const sidecarTemp = await writeTempFile((path) => writeFile(path, json, { flag: 'wx' }));
        await place(sidecarTemp, sidecarPath(root, key), operation, key).catch(async (error) => {
          await unlink(sidecarTemp).catch(() => undefined);
          throw error;
        });
      } else {
        await unlink(sidecarPath(root, key)).catch(() => undefined);
      }
      await place(temp, objectPath(root, key), operation, key).catch(async (error) => {
        // The new sidecar would only be litter: it matches no file at the key.
        await unlink(sidecarPath(root, key)).catch(() => undefined);
        await prune(dirname(sidecarPath(root, key)), metaDir);
        throw error;
      });
    } catch (error) {
      if (temp) await unlink(temp).catch(() => undefined);
      throw error instanceof OutlastError ? error : fsError(error, operation, key);
    }
  }

  async function info(key: string, stats: Stats): Promise<ObjectInfo> {
    const sidecar = await readSidecar(root, key, stats);
    const base = { key, size: stats.size, lastModified: stats.mtime };
    return sidecar
      ? { ...base, sha256: sidecar.sha256, ...sidecar.headers, metadata: sidecar.metadata }
      : base;
  }

  async function openObject(operation: string, key: string) {
    checkKey(operation, key);
    const handle = await open(objectPath(root, key), constants.O_RDONLY | constants.O_NOFOLLOW).catch(
      (error) => {
        throw isAbsent(error) || errno(error) === 'ELOOP' ? notFound(key) : fsError(error, operation, key);
      },
    );
    const stats = await handle.stat();
    // A folder opens fine on Linux: it is the prefix of other keys, not an object.
    if (stats.isFile()) return { handle, stats };
    await handle.close();
    throw notFound(key);
  }

  return {
    name: DRIVER_NAME,
    capabilities: FS_CAPABILITIES,

    async list(listOptions) {
      checkSignal(listOptions.signal, DRIVER_NAME, `list ${JSON.stringify(listOptions.prefix ?? '')}`);
      return listPage(root, listOptions, info);
    },

    async stat(key, callOptions) {
      checkSignal(callOptions?.signal, DRIVER_NAME, `stat ${JSON.stringify(key)}`);
      checkKey('stat', key);
      const stats = await lstat(objectPath(root, key)).catch((error) => {
        if (isAbsent(error)) return undefined;
        throw fsError(error, 'stat', key);
      });
      return stats?.isFile() ? info(key, stats) : undefined;
    },

    async get(key, callOptions): Promise<GetResult> {
      checkSignal(callOptions?.signal, DRIVER_NAME, `get ${JSON.stringify(key)}`);
      const { handle, stats } = await openObject('get', key);
      try {
        // Reading through the open handle, so a concurrent put cannot mix two versions' bytes.
        return { info: await info(key, stats), body: handle.createReadStream() };
      } catch (error) {
        await handle.close();
        throw error;
      }
    },

    async put(key, source, putOptions) {
      const { sha256, md5: _md5, metadata = {}, signal, ...headers } = putOptions;
      checkSignal(signal, DRIVER_NAME, `put ${JSON.stringify(key)}`);
      checkKey('put', key);
      const meta = { sha256, headers: pickHeaders(headers), metadata: { ...metadata } };
      await commit('put', key, (temp) => writeSource(source, temp, key, signal), meta, signal);
    },

    async delete(key, callOptions) {
      checkSignal(callOptions?.signal, DRIVER_NAME, `delete ${JSON.stringify(key)}`);
      checkKey('delete', key);
      const target = objectPath(root, key);
      const sidecar = sidecarPath(root, key);
      try {
        await unlink(target);
      } catch (error) {
        // Unlinking a folder fails with EISDIR (EPERM on some systems): no object there, done.
        const folder =
          errno(error) === 'EPERM' && (await lstat(target).catch(() => undefined))?.isDirectory();
        if (!isAbsent(error) && errno(error) !== 'EISDIR' && !folder) throw fsError(error, 'delete', key);
      }
      await unlink(sidecar).catch((error) => {
        if (!isAbsent(error) && errno(error) !== 'EISDIR') throw fsError(error, 'delete', key);
      });
      await prune(dirname(target), root);
      await prune(dirname(sidecar), metaDir);
    },

    async copy(fromKey, toKey, callOptions) {
      const signal = callOptions?.signal;
      checkSignal(signal, DRIVER_NAME, `copy ${JSON.stringify(fromKey)}`);
      checkKey('copy', toKey);
      const { handle, stats } = await openObject('copy', fromKey);
      try {
        // Read through the handle and check the sidecar against it: a concurrent put of the
        // source cannot pair these bytes with another version's metadata.
        const sidecar = await readSidecar(root, fromKey, stats);
        const write = (temp: string) =>
          pipeline(
            handle.createReadStream({ autoClose: false, start: 0 }),
            createWriteStream(temp, { flags: 'wx' }),
            { signal },
          );
        await commit('copy', toKey, write, sidecar, signal);
      } finally {
        await handle.close();
      }
    },

    async close() {},
  };
}

/** The file that holds object `key` under `root`. */
export function objectPath(root: string, key: string): string {
  return join(root, ...key.split('/'));
}

/** The sidecar JSON (sha256, headers, metadata) of object `key` under `root`. */
export function sidecarPath(root: string, key: string): string {
  return `${join(root, FS_RESERVED_DIR, 'meta', ...key.split('/'))}.json`;
}

/** The sidecar of `key` if it matches the object file's `stats`, else `undefined`. */
export async function readSidecar(root: string, key: string, stats: Stats): Promise<FsSidecar | undefined> {
  let text: string;
  try {
    text = await readFile(sidecarPath(root, key), 'utf8');
  } catch (error) {
    if (isAbsent(error) || errno(error) === 'EISDIR') return undefined;
    throw fsError(error, 'stat', key);
  }
  let parsed: Partial<FsSidecar>;
  try {
    parsed = JSON.parse(text) as Partial<FsSidecar>;
  } catch {
    return undefined; // a damaged sidecar is a missing one: the object is still served
  }
  if (parsed.version !== 1 || parsed.size !== stats.size || parsed.mtimeMs !== stats.mtimeMs)
    return undefined;
  if (typeof parsed.sha256 !== 'string') return undefined;
  return {
    ...(parsed as FsSidecar),
    headers: pickHeaders(parsed.headers ?? {}),
    metadata: stringsOnly(parsed.metadata ?? {}),
  };
}

async function listPage(
  root: string,
  { prefix = '', cursor, pageSize = DEFAULT_PAGE_SIZE }: ListOptions,
  info: (key: string, stats: Stats) => Promise<ObjectInfo>,
): Promise<ListPage> {
  // Walk only the folder the prefix points into; the rest of the prefix filters its entries.
  const slash = prefix.lastIndexOf('/');
  const startKey = slash < 0 ? '' : prefix.slice(0, slash);
  if (startKey !== '' && (keyProblem(startKey) || startKey.split('/')[0] === FS_RESERVED_DIR))
    return { items: [] };
  const keys: string[] = [];
  const wanted = pageSize + 1; // one more than the page, to know whether there is a next one

  // Entries sorted by name (folders as `name/`) give keys in UTF-8 byte order depth-first, so the
  // walk can stop as soon as it has a page, and skip folders that sort wholly before the cursor.
  async function walk(dirKey: string, namePrefix: string): Promise<boolean> {
    let entries: Dirent[];
    try {
      entries = await readdir(dirKey === '' ? root : objectPath(root, dirKey), { withFileTypes: true });
    } catch (error) {
      // A missing folder holds no keys; but a root that is a file is a mistake worth an error.
      if (errno(error) === 'ENOENT' || (dirKey !== '' && errno(error) === 'ENOTDIR')) return false;
      throw fsError(error, 'list', prefix);
    }
    const children = entries
      .filter((entry) => entry.name.startsWith(namePrefix) && (entry.isFile() || entry.isDirectory()))
      .filter((entry) => dirKey !== '' || entry.name !== FS_RESERVED_DIR)
      .map((entry) => {
        const key = dirKey === '' ? entry.name : `${dirKey}/${entry.name}`;
        const folder = entry.isDirectory();
        return { key, folder, order: Buffer.from(folder ? `${key}/` : key, 'utf8') };
      })
      .sort((a, b) => Buffer.compare(a.order, b.order));
    for (const child of children) {
      if (child.folder) {
        const below = `${child.key}/`;
        if (cursor !== undefined && !cursor.startsWith(below) && compareKeys(below, cursor) < 0) continue;
        if (await walk(child.key, '')) return true;
      } else if ((cursor === undefined || compareKeys(child.key, cursor) > 0) && !keyProblem(child.key)) {
        keys.push(child.key);
        if (keys.length >= wanted) return true;
      }
    }
    return false;
  }

  await walk(startKey, prefix.slice(slash + 1));
  const pageKeys = keys.slice(0, pageSize);
  const limit = pLimit(SIDECAR_READS);
  const infos = await Promise.all(
    pageKeys.map((key) =>
      limit(async () => {
        const stats = await lstat(objectPath(root, key)).catch((error) => {
          if (isAbsent(error)) return undefined; // deleted since the walk
          throw fsError(error, 'list', key);
        });
        return stats?.isFile() ? info(key, stats) : undefined;
      }),
    ),
  );
  const items = infos.filter((item) => item !== undefined);
  return keys.length > pageSize ? { items, cursor: pageKeys[pageKeys.length - 1]! } : { items };
}

async function writeSource(
  source: ObjectSource,
  temp: string,
  key: string,
  signal: AbortSignal | undefined,
): Promise<void> {
  if (source.kind === 'bytes') {
    await writeFile(temp, source.bytes, { flag: 'wx', signal });
    return;
  }
  if (source.kind === 'stream') {
    await pipeline(source.open(), createWriteStream(temp, { flags: 'wx' }), { signal });
    return;
  }
  const input = await open(source.path, 'r').catch((error) => {
    throw fsError(error, 'put', key, `cannot read the source file ${source.path}`);
  });
  try {
    await pipeline(input.createReadStream({ autoClose: false }), createWriteStream(temp, { flags: 'wx' }), {
      signal,
    });
  } finally {
    await input.close();
  }
}

/** Removes `dir` and its parents while they are empty, stopping at `stop` (kept). */
async function prune(dir: string, stop: string): Promise<void> {
  while (dir !== stop && dir.startsWith(stop + sep)) {
    try {
      await rmdir(dir);
    } catch (error) {
      // ENOENT: a concurrent delete pruned it already, its parent may be empty too.
      if (errno(error) !== 'ENOENT') return;
    }
    dir = dirname(dir);
  }
}

function checkKey(operation: string, key: string): void {
  // Store validates keys already; checking again keeps a direct caller from escaping the root.
  const problem =
    keyProblem(key) ??
    (key.split('/')[0] === FS_RESERVED_DIR
      ? `is in ${FS_RESERVED_DIR}/, which holds outlast's own files`
      : undefined);
  if (problem) {
    throw new OutlastError('invalid_argument', `${operation}: key ${JSON.stringify(key)} ${problem}`, {
      source: DRIVER_NAME,
    });
  }
}

/** The error for a key that would be both a file and a folder, naming the object in the way. */
async function sameNameConflict(root: string, operation: string, key: string, cause: unknown) {
  const segments = key.split('/');
  let blocking = key;
  for (let end = 1; end < segments.length; end++) {
    const ancestor = segments.slice(0, end).join('/');
    if ((await lstat(objectPath(root, ancestor)).catch(() => undefined))?.isFile()) {
      blocking = ancestor;
      break;
    }
  }
  const why =
    blocking === key
      ? `objects exist under ${JSON.stringify(`${key}/`)}`
      : `${JSON.stringify(blocking)} is an object`;
  return new OutlastError(
    'conflict',
    `${operation} ${JSON.stringify(key)}: ${why}, and a folder cannot hold a file and a folder of the same name`,
    { source: DRIVER_NAME, cause, hint: 'rename one of the two files in the site' },
  );
}

/** Sidecars of `a` (`meta/a.json`) and of `a.json/b` (`meta/a.json/b.json`) cannot coexist. */
function sidecarConflict(operation: string, key: string, cause: unknown): OutlastError {
  const message = `${operation} ${JSON.stringify(key)}: its metadata file collides with another object's (this layout cannot hold both "x" and "x.json/…")`;
  return new OutlastError('conflict', message, {
    source: DRIVER_NAME,
    cause,
    hint: 'rename one of the two files in the site',
  });
}

function fsError(error: unknown, operation: string, key: string, context?: string): OutlastError {
  if (isAbortError(error)) return cancelledError(DRIVER_NAME, `${operation} ${JSON.stringify(key)}`, error);
  const code = ERRNO_CODES[errno(error) ?? ''] ?? 'internal';
  const what = `${operation} ${JSON.stringify(key)}: ${context ? `${context}: ` : ''}${messageOf(error)}`;
  // Waiting seconds will not free a disk: a full disk fails now and says so.
  const full = errno(error) === 'ENOSPC' || errno(error) === 'EDQUOT';
  return new OutlastError(code, what, {
    source: DRIVER_NAME,
    cause: error,
    ...(full ? { retryable: false, hint: `free space on the disk that holds the origin's folder` } : {}),
  });
}

function notFound(key: string): OutlastError {
  return new OutlastError('not_found', `no object at ${JSON.stringify(key)}`, { source: DRIVER_NAME });
}

function errno(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code;
}

/** ENOTDIR: a parent of the path is a file, so nothing can be at the path. */
function isAbsent(error: unknown): boolean {
  return errno(error) === 'ENOENT' || errno(error) === 'ENOTDIR';
}

function isConflict(error: unknown): boolean {
  const code = errno(error);
  return code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST' || code === 'ENOTEMPTY';
}

function pickHeaders(headers: ObjectHeaders): ObjectHeaders {
  const picked: Record<string, string> = {};
  for (const name of OBJECT_HEADER_NAMES) {
    const value = (headers as Record<string, unknown>)[name];
    if (typeof value === 'string') picked[name] = value;
  }
  return picked;
}

function stringsOnly(record: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(record).filter(([, value]) => typeof value === 'string'),
  ) as Record<string, string>;
}
