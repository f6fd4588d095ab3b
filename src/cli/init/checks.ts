/**
 * The checks and small conversions of `outlast init`'s answers. Each check returns the problem in
 * words (what was expected), or undefined when the answer is fine, so that the same check serves
 * a flag (an error naming it) and a question (asked again).
 */
import { isIP } from 'node:net';
import { isAbsolute, relative, sep } from 'node:path';
import { configSchema } from '../../config/schema.ts';
import type { DnsTargetAnswer } from '../../config/template.ts';
import { absoluteName, inZone } from '../../dns/embedded/records.ts';

export type Check = (answer: string) => string | undefined;

export const checkHostname: Check = (text) =>
  configSchema.shape.site.shape.hostname.safeParse(text).success
    ? undefined
    : 'expected a host name such as www.example.com';

export const checkUrl: Check = (text) => {
  try {
    const url = new URL(text);
    if (url.protocol === 'http:' || url.protocol === 'https:') return undefined;
  } catch {
    // not a URL at all: the same answer
  }
  return 'expected an http:// or https:// URL';
};

export const checkDnsName: Check = (text) => {
  try {
    absoluteName(text);
    return undefined;
  } catch {
    return 'expected a host name such as ns1.example.com';
  }
};

export const checkOriginId: Check = (text) =>
  /^[a-z0-9][a-z0-9_-]{0,62}$/.test(text)
    ? undefined
    : 'expected lowercase letters, digits, - and _ (at most 63), starting with a letter or digit';

export const checkEnvPrefix: Check = (text) =>
  /^[A-Za-z_][A-Za-z0-9_]*$/.test(text)
    ? undefined
    : 'expected a variable name prefix: letters, digits and _, not starting with a digit';

export const checkWord =
  (what: string): Check =>
  (text) =>
    /^[\w.@-]+$/.test(text) ? undefined : `expected ${what}`;

export function checkChoice(choices: readonly string[]): Check {
  return (text) => (choices.includes(text) ? undefined : `expected one of ${choices.join(', ')}`);
}

/** The zone must hold the name, or every change would be refused. */
export function checkZone(name: string | undefined): Check {
  return (text) => {
    if (checkDnsName(text)) return 'expected a zone name such as example.com';
    if (name !== undefined && !inZone(absoluteName(name), absoluteName(text))) {
      return `${name} is not inside the zone ${text}`;
    }
    return undefined;
  };
}

/** The zone a name most likely sits in: the name without its first label (a two-label name is its own zone). */
export function zoneOf(name: string): string {
  const labels = name.replace(/\.$/, '').split('.');
  return labels.length > 2 ? labels.slice(1).join('.') : labels.join('.');
}

/** `HOST:PORT`, or `HOST` with `defaultPort`; undefined when malformed. */
export function hostPort(text: string, defaultPort?: number): string | undefined {
  const match = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+)(?::(\d{1,5}))?$/.exec(text);
  if (!match) return undefined;
  const port = match[2] ?? (defaultPort === undefined ? undefined : String(defaultPort));
  if (port === undefined || Number(port) > 65535) return undefined;
  return `${match[1]}:${port}`;
}

export function parseYesNo(text: string): boolean | undefined {
  const answer = text.trim().toLowerCase();
  if (['y', 'yes', 'true', '1'].includes(answer)) return true;
  if (['n', 'no', 'false', '0'].includes(answer)) return false;
  return undefined;
}

/** What the name points to unless told: the host of the origin's public URL (an address, or a CNAME to it). */
export function defaultTarget(url: string): string {
  return new URL(url).hostname.replace(/^\[(.*)\]$/, '$1');
}

/** One host name: a CNAME; IP addresses (space or comma separated): address records. */
export function parseTarget(text: string): DnsTargetAnswer | undefined {
  const items = splitList(text);
  if (items.length > 0 && items.every((item) => isIP(item) !== 0)) return { addresses: items };
  const [only] = items;
  if (items.length === 1 && only !== undefined && checkDnsName(only) === undefined) return { cname: only };
  return undefined;
}

export function splitList(text: string): string[] {
  return text.split(/[\s,]+/).filter(Boolean);
}

/** `swift-2` → `SWIFT_2`; a variable name cannot start with a digit. */
export function envPrefix(base: string): string {
  const name = base.toUpperCase().replace(/[^A-Z0-9_]/g, '_');
  return /^[0-9]/.test(name) ? `ORIGIN_${name}` : name;
}

/** Is `path` the folder or inside it (both absolute)? */
export function within(path: string, folder: string): boolean {
  const rel = relative(folder, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/** A path as the config file should say it: `./x` below the file's folder, else absolute. */
export function pathForFile(absolute: string, configDir: string): string {
  const rel = relative(configDir, absolute);
  if (rel === '') return '.';
  return within(absolute, configDir) ? `.${sep}${rel}` : absolute;
}
