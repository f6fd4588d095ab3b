/**
 * The HTTP headers each site file is served with: a Content-Type guessed from the key's
 * extension, then the site's header rules (`site.headers` in outlast.yaml).
 *
 * Rules are resolved per header, not per rule: for each header, the first rule whose glob matches
 * the key and that sets that header wins. So a broad rule late in the list can supply a default
 * Cache-Control while an earlier, narrower rule sets only the Content-Type.
 */
import mime from 'mime';
import picomatch from 'picomatch';
import type { HeaderRule } from '../config/schema.ts';
import { HEADER_FIELDS } from '../config/schema.ts';
import { orderHeaders } from '../release/manifest.ts';
import type { ObjectHeaders } from '../storage/driver.ts';

/** Served when the extension says nothing (no extension, or one mime does not know). */
export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

// Textual types outside text/* whose bytes are UTF-8 in any site we publish. Without the charset
// a browser may guess Latin-1 for a JSON or SVG file fetched directly, and mangle non-ASCII text.
const TEXTUAL_TYPES: ReadonlySet<string> = new Set([
  'application/javascript',
  'application/json',
  'application/xml',
  'image/svg+xml',
  'application/manifest+json',
]);

// Structured-syntax suffixes (RFC 6839): atom+xml, rss+xml, ld+json, geo+json… are text too.
const TEXTUAL_SUFFIX = /^application\/[a-z0-9.+-]+\+(json|xml)$/;

/** Resolves the headers of one key; built once per site by `compileHeaderRules`. */
export type HeaderResolver = (key: string) => ObjectHeaders;

/**
 * The Content-Type for a key from its extension (mime's table), with `; charset=utf-8` for text.
 * `.js`/`.mjs` give `text/javascript; charset=utf-8`, `.wasm` `application/wasm`, `.woff2`
 * `font/woff2`, `.map` `application/json; charset=utf-8`; unknown → `application/octet-stream`.
 */
export function contentTypeOf(key: string): string {
  const type = mime.getType(key);
  if (type === null) return DEFAULT_CONTENT_TYPE;
  const textual = type.startsWith('text/') || TEXTUAL_TYPES.has(type) || TEXTUAL_SUFFIX.test(type);
  return textual ? `${type}; charset=utf-8` : type;
}

/**
 * Compiles the rules' globs once (picomatch, `dot: true`, matched against the whole key) and
 * returns a function giving the headers of a key. Use it when resolving many keys: compiling a
 * glob costs far more than matching one. A rule's `contentType` is taken as written (no charset
 * is added). The returned headers list their fields in the manifest's order and omit unset ones.
 */
export function compileHeaderRules(rules: readonly HeaderRule[]): HeaderResolver {
  const compiled = rules.map((rule) => ({
    rule,
    matches: picomatch(rule.match, { dot: true }),
    // Which fields this rule sets, so a key is only matched against rules that could still help.
    fields: HEADER_FIELDS.filter((field) => rule[field] !== undefined),
  }));
  // Most files share a few header sets: one frozen object per distinct set, not one per file (a
  // site of 100,000 files would hold 100,000 copies in the scan and as many in the manifest).
  const interned = new Map<string, ObjectHeaders>();
  return (key) => {
    const found: ObjectHeaders = {};
    let missing: number = HEADER_FIELDS.length;
    for (const { rule, matches, fields } of compiled) {
      if (missing === 0) break;
      if (!fields.some((field) => found[field] === undefined) || !matches(key)) continue;
      for (const field of fields) {
        if (found[field] === undefined) {
          found[field] = rule[field];
          missing--;
        }
      }
    }
    found.contentType ??= contentTypeOf(key);
    const ordered = orderHeaders(found);
    const signature = JSON.stringify(ordered);
    let shared = interned.get(signature);
    if (shared === undefined) {
      shared = Object.freeze(ordered);
      interned.set(signature, shared);
    }
    return shared;
  };
}

// Rules arrays come from the loaded config and live for the whole run, so caching the compiled
// form by identity makes repeated `resolveHeaders` calls as cheap as a compiled resolver.
const compiledByRules = new WeakMap<readonly HeaderRule[], HeaderResolver>();

/**
 * The headers of one key: the Content-Type from its extension, then, for each header, the first
 * rule that matches the key and sets that header. Compiled rules are cached per `rules` array.
 */
export function resolveHeaders(key: string, rules: readonly HeaderRule[]): ObjectHeaders {
  let resolver = compiledByRules.get(rules);
  if (resolver === undefined) {
    resolver = compileHeaderRules(rules);
    compiledByRules.set(rules, resolver);
  }
  return resolver(key);
}
