/**
 * The secret canary (issue 14, item 7): secret values that must never appear in anything outlast
 * prints, logs, stores or serves, and the capture folder where the tests leave what they saw.
 *
 * - Canaries: recognisable, unique per run (`CANARY-<kind>-<seed>`, the seed from
 *   OUTLAST_TEST_CANARY_SEED, which scripts/test.mjs sets once per run) and in a shape each service
 *   accepts (a TSIG secret is base64). Stand-ins and fakes are given these.
 * - The real servers' fixed secrets (scripts/servers/*.sh: the Swift keys, which are also the S3
 *   secrets, PowerDNS's API key, the TSIG secrets) cannot be changed, so they are scanned for too:
 *   from outlast's point of view they are secrets like any other.
 * - capture(name, text) appends text to the run's capture folder (OUTLAST_TEST_CAPTURE_DIR); the
 *   end-of-run scan (test/helpers/canary-scan.ts) looks there for every form of every secret.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, type Dirent, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DNS_TSIG_KEY, DNS_TSIG_KEY512, PDNS_API_KEY } from '../servers/dns.ts';

export const CAPTURE_DIR_ENV = 'OUTLAST_TEST_CAPTURE_DIR';
export const CANARY_SEED_ENV = 'OUTLAST_TEST_CANARY_SEED';

/** The run's seed; a test file run alone (no scripts/test.mjs) gets one of its own. */
function seed(): string {
  const given = process.env[CANARY_SEED_ENV];
  if (given && /^[a-z0-9]{6,32}$/.test(given)) return given;
  const made = randomBytes(6).toString('hex');
  process.env[CANARY_SEED_ENV] = made;
  return made;
}

const SEED = seed();
const canary = (kind: string) => `CANARY-${kind}-${SEED}`;

/** Every canary of the run, by name; each appears only where a test gives it to outlast. */
export const CANARIES = {
  s3SecretAccessKey: canary('s3secret'),
  swiftKey: canary('swiftkey'),
  powerDnsApiKey: canary('pdnskey'),
  /** base64 of `CANARY-tsig-<seed>` (32 bytes or so): a key that servers accept as a TSIG secret. */
  tsigSecret: Buffer.from(canary('tsig-key-material')).toString('base64'),
  route53SecretAccessKey: canary('r53secret'),
  cloudflareApiToken: canary('cftoken'),
  dnsMadeEasySecretKey: canary('dmesecret'),
  watcherToken: canary('watchtoken'),
  webhookSecret: canary('whsecret'),
  /** Put in a webhook URL's path, which (like Slack's) is itself a secret. */
  webhookUrlSecret: canary('whurl'),
  smtpPassword: canary('smtppass'),
} as const;

export interface NamedSecret {
  /** What a hit is reported as (the value itself never is). */
  name: string;
  value: string;
  /**
   * A short, common word (Swift's test key `testing`): matched only as a whole token, not inside
   * longer words, so that "testing123" or a test's title is not a hit.
   */
  weak?: boolean;
  /** base64 key material: its decoded bytes (as hex) are a form of it too. */
  base64?: boolean;
}

interface SwiftFacts {
  key?: string;
  key2?: string;
  s3SecretAccessKey?: string;
}

function swiftFacts(name: string, env: NodeJS.ProcessEnv): SwiftFacts {
  try {
    return JSON.parse(env[name] ?? '{}') as SwiftFacts;
  } catch {
    return {};
  }
}

/** The real servers' fixed secrets (scripts/servers/swift.sh and dns.sh). */
export function fixedSecrets(env: NodeJS.ProcessEnv = process.env): NamedSecret[] {
  const secrets: NamedSecret[] = [
    { name: 'PowerDNS API key (dns.sh)', value: PDNS_API_KEY },
    { name: `TSIG secret ${DNS_TSIG_KEY.name} (dns.sh)`, value: DNS_TSIG_KEY.secret, base64: true },
    { name: `TSIG secret ${DNS_TSIG_KEY512.name} (dns.sh)`, value: DNS_TSIG_KEY512.secret, base64: true },
    // swift.sh's tempauth keys (the S3 secret is the key): the defaults, and what the runner's
    // clusters say they use.
    { name: 'Swift key of test:tester / S3 secret (swift.sh)', value: 'testing', weak: true },
    { name: 'Swift key of test2:tester2 (swift.sh)', value: 'testing2', weak: true },
    { name: 'Swift key of test:tester3 (swift.sh)', value: 'testing3', weak: true },
    { name: 'Route 53 stand-in default secret', value: 'route53-stand-in-secret-0123456789' },
  ];
  for (const variable of ['OUTLAST_TEST_SWIFT_A', 'OUTLAST_TEST_SWIFT_B']) {
    const facts = swiftFacts(variable, env);
    for (const [field, value] of Object.entries(facts)) {
      if (!['key', 'key2', 's3SecretAccessKey'].includes(field) || typeof value !== 'string') continue;
      if (!value || secrets.some((secret) => secret.value === value)) continue;
      secrets.push({ name: `Swift ${field} of ${variable}`, value, weak: value.length < 12 });
    }
  }
  return secrets;
}

/** Every secret the scan looks for: the run's canaries and the real servers' secrets. */
export function secretsToScan(env: NodeJS.ProcessEnv = process.env): NamedSecret[] {
  const canaries = Object.entries(CANARIES).map(([name, value]) => ({
    name: `canary ${name}`,
    value,
    base64: name === 'tsigSecret',
  }));
  return [...canaries, ...fixedSecrets(env)];
}

let sequence = 0;

/** The capture folder of this run, or undefined when nothing asked for captures. */
export function captureDir(): string | undefined {
  return process.env[CAPTURE_DIR_ENV] || undefined;
}

/**
 * An appender to one new file of the capture folder, named after `name`; undefined when the run
 * has no capture folder (a test file run on its own: tests that must check their own captures do
 * so with scanTexts, canary-scan.ts).
 */
export function captureFile(name: string): ((text: string | Uint8Array) => void) | undefined {
  const dir = captureDir();
  if (!dir) return undefined;
  mkdirSync(dir, { recursive: true });
  const safe = name.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80);
  sequence += 1;
  const path = join(dir, `${process.pid}-${String(sequence).padStart(4, '0')}-${safe}.txt`);
  return (text) => appendFileSync(path, text);
}

/** Keeps `text` (what outlast printed, served or wrote) for the end-of-run scan. */
export function capture(name: string, text: string | Uint8Array): void {
  captureFile(name)?.(text);
}

/**
 * Captures the watcher state folders under `root` (folders named `state…`, a few levels down),
 * every file but `token` (the one place the watcher's token belongs), before a test removes them.
 */
export function captureStateDirs(root: string, depth = 3): void {
  if (!captureDir() || depth < 0) return;
  let entries: Dirent[];
  try {
    entries = readdirSync(root, { withFileTypes: true });
  } catch {
    return;
  }
  for (const entry of entries) {
    if (!entry.isDirectory()) continue;
    const path = join(root, entry.name);
    if (entry.name.startsWith('state')) captureFolder(path, entry.name);
    else captureStateDirs(path, depth - 1);
  }
}

function captureFolder(dir: string, label: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) captureFolder(path, `${label}-${entry.name}`);
    else if (entry.isFile() && entry.name !== 'token' && statSync(path).size <= 4 * 1024 * 1024) {
      capture(`${label}-${entry.name}`, readFileSync(path));
    }
  }
}
