/**
 * The manifest check for the common case (pure): a manifest outlast wrote itself, read back from an
 * origin. It walks the parsed JSON once and keeps it, where the schema (manifest.ts) builds a copy
 * of every entry: for 100,000 files that copy took two seconds and doubled the heap while both
 * lived. Each entry's headers become one frozen object per distinct set, shared like the scan's.
 *
 * It accepts exactly what the schema accepts, or less: anything it does not accept goes to the
 * schema, which says what is wrong (a test holds the two together).
 */
import { OBJECT_HEADER_NAMES, type ObjectHeaders } from '../storage/driver.ts';
import { keyProblem } from '../storage/keys.ts';
import type { Manifest, ManifestEntry } from './types.ts';
import { MANIFEST_VERSION, OUTLAST_PREFIX } from './types.ts';

const HEADER_NAMES: ReadonlySet<string> = new Set(OBJECT_HEADER_NAMES);
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** `value` as a manifest when it is a valid one (then reused, headers shared), else undefined. */
export function acceptManifest(value: unknown): Manifest | undefined {
  if (!isRecord(value) || !hasOnly(value, ['version', 'site', 'files'], ['version', 'site', 'files'])) return;
  if (value.version !== MANIFEST_VERSION) return;
  const site = value.site;
  if (!isRecord(site) || !hasOnly(site, ['indexDocument', 'errorDocument'], ['indexDocument'])) return;
  if (!nonEmpty(site.indexDocument) || (site.errorDocument !== undefined && !nonEmpty(site.errorDocument))) {
    return;
  }
  const files = value.files;
  if (!isRecord(files)) return;
  const shared = new Map<string, ObjectHeaders>();
  for (const key of Object.keys(files)) {
    if (keyProblem(key) !== undefined || key.startsWith(OUTLAST_PREFIX)) return;
    const entry = files[key];
    if (!isEntry(entry)) return;
    entry.headers = share(entry.headers, shared);
  }
  return value as unknown as Manifest;
}

function isEntry(entry: unknown): entry is ManifestEntry {
  if (!isRecord(entry) || !hasOnly(entry, ['sha256', 'size', 'headers'], ['sha256', 'size', 'headers'])) {
    return false;
  }
  const { sha256, size, headers } = entry;
  if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256)) return false;
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) return false;
  if (!isRecord(headers)) return false;
  for (const name of Object.keys(headers)) {
    if (!HEADER_NAMES.has(name) || !nonEmpty(headers[name])) return false;
  }
  return true;
}

/** One frozen object, fields in the manifest's order, per distinct header set. */
function share(headers: ObjectHeaders, shared: Map<string, ObjectHeaders>): ObjectHeaders {
  // The values in a fixed order, each prefixed by its length: equal sets, equal signatures.
  let signature = '';
  for (const name of OBJECT_HEADER_NAMES) {
    const value = headers[name];
    signature += value === undefined ? '-' : `${value.length}:${value}`;
  }
  let found = shared.get(signature);
  if (found === undefined) {
    const ordered: ObjectHeaders = {};
    for (const name of OBJECT_HEADER_NAMES) {
      const value = headers[name];
      if (value !== undefined) ordered[name] = value;
    }
    found = Object.freeze(ordered);
    shared.set(signature, found);
  }
  return found;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Only keys of `allowed`, and every key of `required`. */
function hasOnly(value: Record<string, unknown>, allowed: readonly string[], required: readonly string[]) {
  const keys = Object.keys(value);
  if (keys.length > allowed.length) return false;
  for (const key of keys) if (!allowed.includes(key)) return false;
  for (const key of required) if (!Object.hasOwn(value, key)) return false;
  return true;
}

function nonEmpty(value: unknown): boolean {
  return typeof value === 'string' && value.length > 0;
}
