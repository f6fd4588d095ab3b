/**
 * `memory`: an in-process store, for tests and for `outlast demo`. Objects live in a Map; bytes are
 * copied in and out, so a caller can never change what is stored by mutating a buffer it passed or
 * received. Stores created with the same `name` share their objects within the process, which lets
 * a test deploy through one `Store` and check through another, as with a real backend.
 *
 * Tests can make the next calls fail (`failNext`) to exercise the retries of `Store`.
 */
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { OutlastError } from '../../errors.ts';
import { cancelledError, checkSignal, isAbortError, readAll } from '../abort.ts';
import type {
  CallOptions,
  GetResult,
  ListOptions,
  ListPage,
  ObjectHeaders,
  ObjectInfo,
  ObjectSource,
  StorageDriver,
} from '../driver.ts';
import { compareKeys } from '../keys.ts';
import { MEMORY_CAPABILITIES, MEMORY_MAX_DELETE_BATCH, MEMORY_TYPE } from './memory-options.ts';

export interface MemoryDriverOptions {
  /** Stores created with the same name share their objects within the process. Without a name,
   * the store is private to this driver. */
  name?: string;
  /** A store that does not exist, like a missing bucket: every call is `not_found` (for tests of
   * that contract). */
  missing?: boolean;
}

/** The driver operations `failNext` can target. */
export type MemoryOperation = 'list' | 'stat' | 'get' | 'put' | 'delete' | 'deleteMany' | 'copy';

/** A memory driver, plus the fault injection tests use. */
export interface MemoryDriver extends StorageDriver {
  /** Makes the next `times` calls of `operation` throw `error` (as given, before doing anything). */
  failNext(operation: MemoryOperation, error: unknown, times?: number): void;
}

const DRIVER_NAME = MEMORY_TYPE;
const MAX_DELETE_BATCH = MEMORY_MAX_DELETE_BATCH;
const DEFAULT_PAGE_SIZE = 1000;

export function createMemoryDriver(driverOptions: MemoryDriverOptions = {}): MemoryDriver {
  const state = driverOptions.name === undefined ? newState() : sharedState(driverOptions.name);
  const faults: Array<{ operation: MemoryOperation; error: unknown }> = [];

  // Every method starts here, so an injected fault hits before any effect, like a failed request.
  function enter(operation: MemoryOperation, options: CallOptions = {}): void {
    checkSignal(options.signal, DRIVER_NAME, operation);
    const index = faults.findIndex((fault) => fault.operation === operation);
    if (index >= 0) {
      const [fault] = faults.splice(index, 1);
      throw fault!.error;
    }
    if (driverOptions.missing) {
      throw new OutlastError('not_found', `${operation}: the store does not exist`, { source: DRIVER_NAME });
    }
  }

  return {
    name: DRIVER_NAME,
    capabilities: MEMORY_CAPABILITIES,

    failNext(operation, error, times = 1) {
      for (let i = 0; i < times; i++) faults.push({ operation, error });
    },

    async list({
      prefix = '',
      cursor,
      pageSize = DEFAULT_PAGE_SIZE,
      signal,
    }: ListOptions): Promise<ListPage> {
      enter('list', { signal });
      const keys = sortedKeys(state);
      let start = cursor === undefined ? 0 : firstAfter(keys, cursor);
      if (start < firstAtLeast(keys, prefix)) start = firstAtLeast(keys, prefix);
      const items: ObjectInfo[] = [];
      let index = start;
      for (; index < keys.length && items.length < pageSize; index++) {
        const key = keys[index]!;
        if (!key.startsWith(prefix)) break;
        items.push(infoOf(key, state.objects.get(key)!));
      }
      const more = index < keys.length && keys[index]!.startsWith(prefix) && items.length > 0;
      return more ? { items, cursor: items[items.length - 1]!.key } : { items };
    },

    async stat(key, callOptions) {
      enter('stat', callOptions);
      const stored = state.objects.get(key);
      return stored && infoOf(key, stored);
    },

    async get(key, callOptions): Promise<GetResult> {
      enter('get', callOptions);
      const stored = state.objects.get(key);
      if (!stored) throw notFound(key);
      return { info: infoOf(key, stored), body: bodyOf(stored.bytes) };
    },

    async put(key, source, putOptions) {
      const { sha256, md5: _md5, metadata, signal, ...headers } = putOptions;
      enter('put', { signal });
      const bytes = await readSource(key, source, signal);
      // The bytes are stored only now, in one step: a put aborted before has left nothing.
      checkSignal(signal, DRIVER_NAME, `put ${JSON.stringify(key)}`);
      store(state, key, {
        bytes,
        headers: { ...definedHeaders(headers) },
        sha256,
        metadata: { ...metadata },
        lastModified: new Date(),
      });
    },

    async delete(key, callOptions) {
      enter('delete', callOptions);
      remove(state, key);
    },

    async deleteMany(keys, callOptions) {
      enter('deleteMany', callOptions);
      if (keys.length > MAX_DELETE_BATCH) {
        throw new OutlastError('invalid_argument', `deleteMany takes at most ${MAX_DELETE_BATCH} keys`, {
          source: DRIVER_NAME,
        });
      }
      for (const key of keys) remove(state, key);
    },

    async copy(fromKey, toKey, callOptions) {
      enter('copy', callOptions);
      const stored = state.objects.get(fromKey);
      if (!stored) throw notFound(fromKey);
      // Stored objects are never mutated in place, so sharing the byte array is safe.
      store(state, toKey, { ...stored, lastModified: new Date() });
    },

    async close() {},
  };
}

/** Empties the named store (for tests); drivers already created on it see an empty store. */
export function resetMemoryStore(name: string): void {
  const state = registry.get(name);
  if (!state) return;
  state.objects.clear();
  state.sorted = undefined;
}

interface StoredObject {
  bytes: Uint8Array;
  headers: ObjectHeaders;
  sha256: string;
  metadata: Record<string, string>;
  lastModified: Date;
}

interface MemoryState {
  objects: Map<string, StoredObject>;
  /** The keys in UTF-8 byte order, rebuilt lazily after a key is added or removed. */
  sorted: string[] | undefined;
}

const registry = new Map<string, MemoryState>();

function newState(): MemoryState {
  return { objects: new Map(), sorted: undefined };
}

function sharedState(name: string): MemoryState {
  let state = registry.get(name);
  if (!state) {
    state = newState();
    registry.set(name, state);
  }
  return state;
}

function store(state: MemoryState, key: string, object: StoredObject): void {
  if (!state.objects.has(key)) state.sorted = undefined;
  state.objects.set(key, object);
}

function remove(state: MemoryState, key: string): void {
  if (state.objects.delete(key)) state.sorted = undefined;
}

function sortedKeys(state: MemoryState): string[] {
  if (!state.sorted) {
    // Sorting buffers once is much cheaper than re-encoding both keys in every comparison.
    state.sorted = [...state.objects.keys()]
      .map((key) => ({ key, bytes: Buffer.from(key, 'utf8') }))
      .sort((a, b) => Buffer.compare(a.bytes, b.bytes))
      .map((entry) => entry.key);
  }
  return state.sorted;
}

/** Index of the first key that sorts at or after `bound`. */
function firstAtLeast(keys: string[], bound: string): number {
  let low = 0;
  let high = keys.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (compareKeys(keys[middle]!, bound) < 0) low = middle + 1;
    else high = middle;
  }
  return low;
}

/** Index of the first key that sorts strictly after `bound`. */
function firstAfter(keys: string[], bound: string): number {
  const index = firstAtLeast(keys, bound);
  return keys[index] === bound ? index + 1 : index;
}

function infoOf(key: string, stored: StoredObject): ObjectInfo {
  return {
    key,
    size: stored.bytes.byteLength,
    sha256: stored.sha256,
    ...stored.headers,
    lastModified: new Date(stored.lastModified),
    metadata: { ...stored.metadata },
  };
}

function definedHeaders(headers: ObjectHeaders): ObjectHeaders {
  return Object.fromEntries(Object.entries(headers).filter(([, value]) => value !== undefined));
}

async function readSource(
  key: string,
  source: ObjectSource,
  signal: AbortSignal | undefined,
): Promise<Uint8Array> {
  if (source.kind === 'bytes') return new Uint8Array(source.bytes);
  const from = source.kind === 'file' ? source.path : 'its stream';
  try {
    return new Uint8Array(
      source.kind === 'file' ? await readFile(source.path, { signal }) : await readAll(source.open(), signal),
    );
  } catch (error) {
    if (isAbortError(error)) throw cancelledError(DRIVER_NAME, `put ${JSON.stringify(key)}`, error);
    throw new OutlastError('invalid_argument', `put ${JSON.stringify(key)}: cannot read ${from}`, {
      source: DRIVER_NAME,
      cause: error,
    });
  }
}

function bodyOf(bytes: Uint8Array): Readable {
  // A copy, so a consumer that mutates the chunks it reads cannot change the stored object.
  return Readable.from([Buffer.from(bytes)], { objectMode: false });
}

function notFound(key: string): OutlastError {
  return new OutlastError('not_found', `no object at ${JSON.stringify(key)}`, { source: DRIVER_NAME });
}
