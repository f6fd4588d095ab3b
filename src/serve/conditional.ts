/**
 * Conditional and range requests (RFC 9110 §13 and §14), as S3 answers them: preconditions in
 * the RFC's order, one byte range at a time, and the whole object when several are asked for.
 * Pure functions of the request headers and the object's validators.
 */
import type { IncomingHttpHeaders } from 'node:http';
import rangeParser from 'range-parser';

/** The validators of the object being served. */
export interface Validators {
  /** Quoted, `W/`-prefixed when weak. */
  etag: string;
  lastModified: Date;
}

export type PreconditionResult = 'proceed' | 'not-modified' | 'failed';

export type RangeChoice =
  | { kind: 'full' }
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

/** What the preconditions of a GET or HEAD say: serve it, 304, or 412. */
export function evaluatePreconditions(headers: IncomingHttpHeaders, object: Validators): PreconditionResult {
  const ifMatch = headers['if-match'];
  if (ifMatch !== undefined) {
    if (!etagListMatches(ifMatch, object.etag, 'strong')) return 'failed';
  } else {
    const since = parseHttpDate(headers['if-unmodified-since']);
    if (since !== undefined && wholeSeconds(object.lastModified) > since) return 'failed';
  }
  const ifNoneMatch = headers['if-none-match'];
  if (ifNoneMatch !== undefined)
    return etagListMatches(ifNoneMatch, object.etag, 'weak') ? 'not-modified' : 'proceed';
  const since = parseHttpDate(headers['if-modified-since']);
  if (since !== undefined && wholeSeconds(object.lastModified) <= since) return 'not-modified';
  return 'proceed';
}

/** Which bytes of an object of `size` bytes to send. */
export function chooseRange(headers: IncomingHttpHeaders, size: number, object: Validators): RangeChoice {
  const range = headers.range;
  if (typeof range !== 'string') return { kind: 'full' };
  const ifRange = headers['if-range'];
  if (typeof ifRange === 'string' && !ifRangeHolds(ifRange, object)) return { kind: 'full' };
  const ranges = rangeParser(size, range, { combine: true });
  if (ranges === -1) return { kind: 'unsatisfiable' };
  // A malformed header or another unit is ignored, as the RFC allows.
  if (ranges === -2 || ranges.type !== 'bytes') return { kind: 'full' };
  const [only] = ranges;
  // S3 answers several ranges with the whole object rather than multipart/byteranges.
  if (only === undefined || ranges.length > 1) return { kind: 'full' };
  return { kind: 'partial', start: only.start, end: only.end };
}

/** Whether a comma-separated entity-tag list (or `*`) matches `etag`. */
export function etagListMatches(list: string, etag: string, comparison: 'weak' | 'strong'): boolean {
  if (list.trim() === '*') return true;
  if (comparison === 'strong' && etag.startsWith('W/')) return false;
  const opaque = opaqueTag(etag);
  for (const candidate of list.split(',')) {
    const tag = candidate.trim();
    if (tag === '' || (comparison === 'strong' && tag.startsWith('W/'))) continue;
    if (opaqueTag(tag) === opaque) return true;
  }
  return false;
}

function ifRangeHolds(ifRange: string, object: Validators): boolean {
  const value = ifRange.trim();
  // An entity tag must match strongly; a date must equal Last-Modified exactly.
  if (value.startsWith('"') || value.startsWith('W/')) return etagListMatches(value, object.etag, 'strong');
  const date = parseHttpDate(value);
  return date !== undefined && date === wholeSeconds(object.lastModified);
}

function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

/** Seconds since the epoch, or `undefined` for a missing or unparsable date. */
function parseHttpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

// HTTP dates have one-second resolution; file times do not.
function wholeSeconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}
