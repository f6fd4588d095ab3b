/**
 * The end-of-run secret scan (issue 14, item 7): every file of the capture folders, for every form
 * of every secret of canary.ts (as is, base64, base64url, URL-encoded, JSON-escaped; a base64 key's
 * bytes as hex). A hit names the file and the secret's name, never its value.
 *
 *   node --import tsx test/helpers/canary-scan.ts DIR...   exit 1 on any hit, 0 when clean
 *
 * scripts/test.mjs runs it on the run's capture folder after the tests; test/e2e/secret-canary
 * calls scanTexts on its own captures too, so that it also checks itself when run alone.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NamedSecret, secretsToScan } from './canary.ts';

export interface SecretHit {
  /** The file (or capture name) it was found in. */
  where: string;
  /** The secret's name, never its value. */
  secret: string;
  /** Which form of it: `as is`, `base64`, … */
  form: string;
}

interface Form {
  form: string;
  value: string;
}

/** The forms a secret may be written in: each one is looked for. */
export function formsOf(secret: NamedSecret): Form[] {
  const value = secret.value;
  const forms: Form[] = [
    { form: 'as is', value },
    { form: 'base64', value: Buffer.from(value).toString('base64').replace(/=+$/, '') },
    { form: 'base64url', value: Buffer.from(value).toString('base64url') },
    { form: 'URL-encoded', value: encodeURIComponent(value) },
    { form: 'JSON-escaped', value: JSON.stringify(value).slice(1, -1) },
  ];
  if (secret.base64) {
    const bytes = Buffer.from(value, 'base64');
    forms.push({ form: 'key bytes as hex', value: bytes.toString('hex') });
    forms.push({ form: 'key bytes as base64url', value: bytes.toString('base64url') });
  }
  const seen = new Set<string>();
  return forms.filter((form) => {
    if (form.value.length < 4 || seen.has(form.value)) return false;
    seen.add(form.value);
    return true;
  });
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A matcher for one form: a plain substring, or a whole token for a weak secret's own form. */
function matcher(secret: NamedSecret, form: Form): (text: string) => boolean {
  if (secret.weak && form.form === 'as is') {
    const pattern = new RegExp(`(?<![A-Za-z0-9_-])${escapeRegExp(form.value)}(?![A-Za-z0-9_-])`);
    return (text) => pattern.test(text);
  }
  // Hex may be written in either case.
  if (form.form === 'key bytes as hex') {
    const lower = form.value.toLowerCase();
    return (text) => text.toLowerCase().includes(lower);
  }
  return (text) => text.includes(form.value);
}

/** Every hit of every secret in the given texts (an empty list: no secret anywhere). */
export function scanTexts(
  texts: Array<{ where: string; text: string }>,
  secrets: NamedSecret[] = secretsToScan(),
): SecretHit[] {
  const checks = secrets.flatMap((secret) =>
    formsOf(secret).map((form) => ({ secret: secret.name, form: form.form, test: matcher(secret, form) })),
  );
  const hits: SecretHit[] = [];
  for (const { where, text } of texts) {
    for (const check of checks) {
      if (check.test(text)) hits.push({ where, secret: check.secret, form: check.form });
    }
  }
  return hits;
}

function filesUnder(dir: string): string[] {
  const found: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    const stat = statSync(path);
    if (stat.isDirectory()) found.push(...filesUnder(path));
    else if (stat.isFile()) found.push(path);
  }
  return found;
}

/** Scans every file under each folder; also returns how much it read. */
export function scanDirs(
  dirs: string[],
  secrets: NamedSecret[] = secretsToScan(),
): { hits: SecretHit[]; files: number; bytes: number } {
  let bytes = 0;
  const files = dirs.flatMap((dir) => filesUnder(dir));
  const hits: SecretHit[] = [];
  for (const file of files) {
    const content = readFileSync(file);
    bytes += content.length;
    hits.push(...scanTexts([{ where: file, text: content.toString('utf8') }], secrets));
  }
  return { hits, files: files.length, bytes };
}

function main(dirs: string[]): number {
  if (dirs.length === 0) {
    process.stderr.write('usage: canary-scan.ts DIR...\n');
    return 2;
  }
  const secrets = secretsToScan();
  const { hits, files, bytes } = scanDirs(dirs, secrets);
  const summary = `${files} files (${(bytes / 1024).toFixed(0)} KiB), ${secrets.length} secrets`;
  if (hits.length === 0) {
    process.stdout.write(`secret canary: no secret in ${summary}\n`);
    return 0;
  }
  process.stdout.write(`secret canary: ${hits.length} hits in ${summary}:\n`);
  for (const hit of hits) process.stdout.write(`  ${hit.where}: ${hit.secret} (${hit.form})\n`);
  return 1;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  process.exitCode = main(process.argv.slice(2));
}
