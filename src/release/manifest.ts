/**
 * The manifest in its three forms: built from a scan, written as canonical JSON (whose sha256 is
 * the release id) and parsed back from an origin; and the beacon that names an origin's release.
 * Pure functions, no I/O.
 *
 * The release id must depend on the site's content and nothing else, so the JSON is canonical:
 * object keys sorted by their UTF-8 bytes at every level, no whitespace, undefined fields left
 * out. Two machines that scan the same build compute the same release id.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { messageOf, OutlastError } from '../errors.ts';
import { OBJECT_HEADER_NAMES, type ObjectHeaders } from '../storage/driver.ts';
import { keyProblem } from '../storage/keys.ts';
import { acceptManifest } from './manifest-fast.ts';
import type { Beacon, Manifest, ManifestEntry } from './types.ts';
import { MANIFEST_VERSION, OUTLAST_PREFIX, RELEASE_ID_PATTERN } from './types.ts';

/** The order header fields are listed in, so equal header sets print and compare the same. */
export const HEADER_ORDER = OBJECT_HEADER_NAMES;

/** `headers` with fields in `HEADER_ORDER` and undefined ones left out: a copy, or the object itself
 * when it is frozen and already so (the scan shares one such object per distinct set). */
export function orderHeaders(headers: ObjectHeaders): ObjectHeaders {
  // The scan's headers are frozen and ordered already (one shared object per distinct set).
  if (Object.isFrozen(headers) && isOrdered(headers)) return headers;
  const ordered: ObjectHeaders = {};
  for (const field of HEADER_ORDER) {
    const value = headers[field];
    if (value !== undefined) ordered[field] = value;
  }
  return ordered;
}

function isOrdered(headers: ObjectHeaders): boolean {
  let at = 0;
  for (const name of Object.keys(headers)) {
    const index = HEADER_ORDER.indexOf(name as (typeof HEADER_ORDER)[number], at);
    if (index < 0 || headers[name as keyof ObjectHeaders] === undefined) return false;
    at = index + 1;
  }
  return true;
}

/**
 * A manifest from `[key, entry]` pairs: keys sorted by `compareKeys` (UTF-8 bytes), each entry's headers in
 * `HEADER_ORDER` without undefined fields, `errorDocument` only when set. A key given twice is a
 * bug in the caller (`internal`): a scan yields each key once.
 */
export function buildManifest(
  entries: Iterable<[string, ManifestEntry]>,
  site: { indexDocument: string; errorDocument?: string },
): Manifest {
  const sorted = sortByKey(Array.from(entries, (entry) => ({ key: entry[0], entry: entry[1] })));
  const pairs: [string, ManifestEntry][] = [];
  let previous: string | undefined;
  for (const { key, entry } of sorted) {
    if (key === previous) throw new OutlastError('internal', `manifest: key "${key}" given twice`);
    previous = key;
    pairs.push([key, { sha256: entry.sha256, size: entry.size, headers: orderHeaders(entry.headers) }]);
  }
  // fromEntries defines own properties, so a file named `__proto__` is kept (assignment would
  // set the object's prototype instead and the file would silently vanish from the release).
  const files: Record<string, ManifestEntry> = Object.fromEntries(pairs);
  const siteInfo: Manifest['site'] = { indexDocument: site.indexDocument };
  if (site.errorDocument !== undefined) siteInfo.errorDocument = site.errorDocument;
  return { version: MANIFEST_VERSION, site: siteInfo, files };
}

/**
 * The manifest's canonical JSON: the same manifest gives the same bytes, however it was built.
 * Exactly `canonicalJson(manifest)` (a test holds them together), with the `files` record written
 * by a loop that knows an entry's shape: the general walk sorts every entry's keys and every
 * header set, which was a tenth of a no-op deploy of 10,000 files.
 */
export function canonicalManifestJson(manifest: Manifest): string {
  const record = manifest as unknown as Record<string, unknown>;
  const keys = sortByKey(
    Object.keys(record)
      .filter((key) => record[key] !== undefined)
      .map((key) => ({ key })),
  );
  const parts = keys.map(
    ({ key }) =>
      `${JSON.stringify(key)}:${key === 'files' ? filesJson(manifest.files) : canonicalJson(record[key], 'manifest')}`,
  );
  return `{${parts.join(',')}}`;
}

/** Header names in the order canonical JSON lists them (ASCII, so code unit order is byte order). */
const SORTED_HEADER_NAMES = [...HEADER_ORDER].sort();

function filesJson(files: Record<string, ManifestEntry>): string {
  const keys = sortByKey(
    Object.keys(files)
      .filter((key) => files[key] !== undefined)
      .map((key) => ({ key })),
  );
  const parts = new Array<string>(keys.length);
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i]!.key;
    parts[i] = `${JSON.stringify(key)}:${entryJson(files[key]!)}`;
  }
  return `{${parts.join(',')}}`;
}

/** `{"headers":{…},"sha256":…,"size":…}`; anything of another shape goes the general way. */
function entryJson(entry: ManifestEntry): string {
  const { headers, sha256, size } = entry;
  if (
    Object.keys(entry).length !== 3 ||
    typeof sha256 !== 'string' ||
    typeof headers !== 'object' ||
    headers === null
  ) {
    return canonicalJson(entry, 'manifest');
  }
  let headersJson = '';
  let named = 0;
  for (const name of SORTED_HEADER_NAMES) {
    const value = headers[name];
    if (value === undefined) continue;
    if (typeof value !== 'string') return canonicalJson(entry, 'manifest');
    headersJson += `${named++ === 0 ? '' : ','}${JSON.stringify(name)}:${JSON.stringify(value)}`;
  }
  const defined = Object.keys(headers).filter((name) => headers[name as keyof ObjectHeaders] !== undefined);
  if (defined.length !== named) return canonicalJson(entry, 'manifest');
  return `{"headers":{${headersJson}},"sha256":${JSON.stringify(sha256)},"size":${canonicalJson(size, 'manifest')}}`;
}

/** The sha256 (hex) of the manifest's JSON as UTF-8, and the release id (`r` + its first 20 hex). */
export function releaseIdOf(manifestJson: string): { releaseId: string; sha256: string } {
  const sha256 = createHash('sha256').update(manifestJson, 'utf8').digest('hex');
  return { releaseId: `r${sha256.slice(0, 20)}`, sha256 };
}

/**
 * Parses and validates a manifest read from `source` (e.g. `origin s3-eu: .well-known/…/r….json`).
 * Anything unexpected (bad JSON, a newer version, a bad key, a missing field, an extra field) is
 * `internal` naming the source and the first few problems, since outlast wrote the file itself.
 */
export function parseManifest(json: string | Uint8Array, source: string): Manifest {
  const value = parseJson(json, source, 'manifest');
  // The walk that keeps the parsed JSON as it is; the schema only to say what is wrong.
  return acceptManifest(value) ?? validate(manifestSchema, value, source, 'manifest');
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

// Strict objects: the manifest is hashed, so a field we would drop could never round-trip.
const headersSchema = z.strictObject({
  contentType: z.string().min(1).optional(),
  cacheControl: z.string().min(1).optional(),
  contentEncoding: z.string().min(1).optional(),
  contentDisposition: z.string().min(1).optional(),
  contentLanguage: z.string().min(1).optional(),
});

const entrySchema = z.strictObject({
  sha256: z.string().regex(SHA256_HEX, { message: 'expected 64 lowercase hex digits' }),
  size: z.number().int().nonnegative(),
  headers: headersSchema,
});

const manifestSchema = z.strictObject({
  version: z.literal(MANIFEST_VERSION, {
    message: `expected version ${MANIFEST_VERSION} (written by a newer outlast?)`,
  }),
  site: z.strictObject({
    indexDocument: z.string().min(1),
    errorDocument: z.string().min(1).optional(),
  }),
  files: z.unknown().transform(parseFiles),
});

/**
 * The `files` record, checked entry by entry. Not `z.record`: it rebuilds the object by
 * assignment, which drops a key named `__proto__`, so that file would vanish from the release.
 */
function parseFiles(value: unknown, ctx: z.RefinementCtx): Record<string, ManifestEntry> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    ctx.addIssue({ code: 'custom', message: 'expected an object of key → entry' });
    return {};
  }
  const pairs: [string, ManifestEntry][] = [];
  for (const [key, raw] of Object.entries(value)) {
    const problem = keyProblem(key) ?? (key.startsWith(OUTLAST_PREFIX) ? 'is reserved' : undefined);
    if (problem) ctx.addIssue({ code: 'custom', path: [key], message: `key ${problem}` });
    const entry = entrySchema.safeParse(raw);
    if (entry.success) pairs.push([key, entry.data]);
    else for (const issue of entry.error.issues) ctx.addIssue({ ...issue, path: [key, ...issue.path] });
  }
  return Object.fromEntries(pairs);
}

// The beacon (`.well-known/outlast/release.json`) is fetched by every health probe and by DNS
// hosts' checkers that match a string in the response body, some of which only read the first few
// kilobytes. So it stays small (under MAX_BEACON_BYTES) and `release` is its first field.

/** The beacon's JSON is strictly shorter than this many bytes. */
export const MAX_BEACON_BYTES = 2048;

const releaseId = z.string().regex(RELEASE_ID_PATTERN, { message: 'expected a release id (r + 20 hex)' });
const count = z.number().int().nonnegative();

// A plain (not strict) object: extra fields that a newer outlast adds are ignored, so an older
// daemon can still probe an origin that a newer CLI deployed to.
const beaconSchema = z
  .object({
    release: releaseId,
    manifestSha256: z.string().regex(SHA256_HEX, { message: 'expected 64 lowercase hex digits' }),
    deployedAt: z.iso.datetime({ offset: true }),
    files: count,
    bytes: count,
    releases: z.array(releaseId).min(1),
    pendingCleanup: z.array(releaseId),
    deploying: releaseId.optional(),
    interrupted: z.array(releaseId).min(1).optional(),
    writer: z.string().min(1).max(100),
  })
  .refine((beacon) => beacon.releases[0] === beacon.release, {
    path: ['releases', 0],
    message: 'expected the first kept release to be the live one (`release`)',
  });

/** Arguments of `buildBeacon`: the live release first in `releases`, newest to oldest. */
export interface BeaconArgs {
  releaseId: string;
  manifestSha256: string;
  files: number;
  bytes: number;
  releases: string[];
  pendingCleanup: string[];
  /** The release being written while the beacon still names the old one (see `Beacon`). */
  deploying?: string;
  deployedAt: Date;
  /** Keep it short, e.g. `outlast/0.1.0`: it counts against the size limit. */
  writer: string;
}

/**
 * The beacon for a release, fields in a fixed order with `release` first. Throws `internal` when
 * the arguments are not a valid beacon (a bug in the caller) and `invalid_argument` when its JSON
 * would reach `MAX_BEACON_BYTES`: every id listed costs 24 bytes, so kept releases plus pending
 * cleanups must stay around 70 (`keepReleases` alone may be up to 100; see the hint).
 */
export function buildBeacon(args: BeaconArgs): Beacon {
  if (Number.isNaN(args.deployedAt.getTime())) {
    throw new OutlastError('internal', 'beacon: deployedAt is an invalid date');
  }
  const candidate: Beacon = {
    release: args.releaseId,
    manifestSha256: args.manifestSha256,
    deployedAt: args.deployedAt.toISOString(),
    files: args.files,
    bytes: args.bytes,
    releases: [...args.releases],
    pendingCleanup: [...args.pendingCleanup],
    ...(args.deploying !== undefined ? { deploying: args.deploying } : {}),
    writer: args.writer,
  };
  const checked = beaconSchema.safeParse(candidate);
  if (!checked.success) {
    const first = checked.error.issues[0];
    throw new OutlastError('internal', `beacon: ${first?.path.join('.')}: ${first?.message}`);
  }
  const bytes = Buffer.byteLength(beaconJson(candidate), 'utf8');
  if (bytes >= MAX_BEACON_BYTES) {
    const ids = candidate.releases.length + candidate.pendingCleanup.length + (args.deploying ? 1 : 0);
    throw new OutlastError(
      'invalid_argument',
      `beacon: ${bytes} bytes with ${ids} release ids listed; it must stay under ${MAX_BEACON_BYTES} bytes`,
      { hint: 'lower site.keepReleases (at most about 60 leaves room for pending cleanups)' },
    );
  }
  return candidate;
}

/** The bytes to store at the beacon key: compact JSON, `release` first. */
export function beaconJson(beacon: Beacon): string {
  return JSON.stringify(beacon);
}

/**
 * Parses and validates a beacon read from `source`. Anything unexpected is `internal` naming the
 * source; unknown extra fields are ignored (left out of the result).
 */
export function parseBeacon(json: string | Uint8Array, source: string): Beacon {
  return parseDocument(beaconSchema, json, source, 'beacon');
}

/**
 * Decodes (UTF-8, strictly), parses and validates one of outlast's own JSON documents.
 */
function parseDocument<T>(schema: z.ZodType<T>, json: string | Uint8Array, source: string, what: string): T {
  return validate(schema, parseJson(json, source, what), source, what);
}

function parseJson(json: string | Uint8Array, source: string, what: string): unknown {
  try {
    const text = typeof json === 'string' ? json : new TextDecoder('utf-8', { fatal: true }).decode(json);
    return JSON.parse(text);
  } catch (error) {
    throw new OutlastError('internal', `${what} is not valid JSON (${messageOf(error)})`, {
      source,
      cause: error,
    });
  }
}

function validate<T>(schema: z.ZodType<T>, value: unknown, source: string, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = result.error.issues;
  const shown = issues.slice(0, 5).map((issue) => `${formatPath(issue.path)}: ${issue.message}`);
  if (issues.length > shown.length) shown.push(`… and ${issues.length - shown.length} more`);
  throw new OutlastError('internal', `${what} is not valid: ${shown.join('; ')}`, { source });
}

/** `files["a b.html"].size`, or `(top level)` for the document itself. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else if (typeof part === 'string' && /^[A-Za-z_$][\w$]*$/.test(part)) out += out ? `.${part}` : part;
    else out += `[${JSON.stringify(String(part))}]`;
  }
  return out || '(top level)';
}

/**
 * JSON with object keys sorted by UTF-8 bytes at every level and undefined properties left out.
 * Refuses what JSON cannot say exactly (NaN, Infinity, bigint, functions) rather than guess.
 */
export function canonicalJson(value: unknown, what = 'value'): string {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return JSON.stringify(value);
    case 'number':
      if (!Number.isFinite(value)) throw new OutlastError('internal', `${what}: ${value} has no JSON form`);
      return JSON.stringify(value);
    case 'object': {
      if (value === null) return 'null';
      if (Array.isArray(value)) {
        return `[${value.map((item) => (item === undefined ? 'null' : canonicalJson(item, what))).join(',')}]`;
      }
      const record = value as Record<string, unknown>;
      const keys = sortByKey(
        Object.keys(record)
          .filter((key) => record[key] !== undefined)
          .map((key) => ({ key })),
      );
      const parts = keys.map(({ key }) => `${JSON.stringify(key)}:${canonicalJson(record[key], what)}`);
      return `{${parts.join(',')}}`;
    }
    default:
      throw new OutlastError('internal', `${what}: a ${typeof value} has no JSON form`);
  }
}

const SURROGATE = /[\ud800-\udfff]/;

/**
 * Sorts by key in UTF-8 byte order (`compareKeys`' order) with each key encoded once, which
 * matters for 10,000+ keys: `compareKeys` encodes both keys on every comparison.
 */
export function sortByKey<T extends { key: string }>(items: T[]): T[] {
  // Without surrogates, UTF-16 code unit order is code point order, which is UTF-8 byte order;
  // so the common case (and every small object of the manifest) needs no encoding at all.
  if (!items.some((item) => SURROGATE.test(item.key))) {
    // Most callers pass what is sorted already (the scan's files, then the manifest built of them).
    if (isSorted(items)) return [...items];
    return [...items].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
  const decorated = items.map((item) => ({ item, bytes: Buffer.from(item.key, 'utf8') }));
  decorated.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  return decorated.map(({ item }) => item);
}

function isSorted(items: readonly { key: string }[]): boolean {
  for (let i = 1; i < items.length; i++) if (items[i - 1]!.key > items[i]!.key) return false;
  return true;
}
