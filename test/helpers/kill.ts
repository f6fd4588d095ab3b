/**
 * The kill tests' shared parts: the CLI run with an optional SIGKILL after a delay, and the
 * checks of what an origin claims at the moment a deploy was killed, over any origin that can be
 * read by key and listed with each object's content (an fs folder here, a Swift container in the
 * Swift kill test):
 * - truthful: with no deploy marked in progress, every file of the live release is in place, byte
 *   for byte; with one marked (`deploying`), every key of the live release holds the live content
 *   or the incoming one (or that of a deploy the beacon names as `interrupted` before it), never a
 *   third thing and never nothing;
 * - restorable: each file of every kept release is in place or kept as a blob;
 * - converged (after a full deploy): the local release, nothing in progress, no cleanup pending,
 *   exactly the kept releases' files and no strays, every local file byte for byte.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseBeacon, parseManifest } from '../../src/release/manifest.ts';
import type { Manifest } from '../../src/release/types.ts';
import { BEACON_KEY, blobKey, manifestKey, OUTLAST_PREFIX } from '../../src/release/types.ts';
import { readOrigin, sha256 } from './site.ts';

export { prng } from './prng.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));

/**
 * Runs `outlast ARGS`; with `kill`, SIGKILLs it that many ms after the start, or when the promise
 * that `kill(ended)` returns resolves (`ended()` tells whether the process is over; a trigger
 * polling something should stop then). Resolves with how it ended; rejects when it exited with a
 * non-zero code.
 */
export function runCli(
  args: string[],
  kill?: number | ((ended: () => boolean) => Promise<void>),
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    let ended = false;
    const timer = typeof kill === 'number' ? setTimeout(() => child.kill('SIGKILL'), kill) : undefined;
    if (typeof kill === 'function') {
      kill(() => ended).then(
        () => {
          if (!ended) child.kill('SIGKILL');
        },
        (error) => {
          child.kill('SIGKILL');
          reject(error);
        },
      );
    }
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      ended = true;
      clearTimeout(timer);
      if (code !== null && code !== 0)
        reject(new Error(`outlast ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ code, signal });
    });
  });
}

/** The files under `dir` as keys ('/'-separated), except fs origins' reserved folder. */
export function filesUnder(dir: string): string[] {
  const keys: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      if (name === '.outlast-fs') continue;
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else keys.push(relative(dir, full).split(sep).join('/'));
    }
  };
  walk(dir);
  return keys;
}

/** The site's keys in `dir` (a site folder or an fs origin), outlast's own objects left out. */
export function siteKeys(dir: string): string[] {
  return filesUnder(dir).filter((key) => !key.startsWith(OUTLAST_PREFIX));
}

/** An origin as the checks see it. */
export interface OriginView {
  /** The object's bytes, or undefined when there is none. */
  read(key: string): Promise<Buffer | undefined>;
  /** Every object now: key → sha256 of its content (or any string that is no sha256 when unknown). */
  contents(): Promise<Map<string, string>>;
}

/** An fs origin's folder. */
export function fsOriginView(dir: string): OriginView {
  return {
    read: async (key) => readOrigin(dir, key),
    contents: async () => new Map(filesUnder(dir).map((key) => [key, sha256(readOrigin(dir, key)!)])),
  };
}

/** Manifests never change once written (the id is their hash): read each once per view. */
const manifests = new WeakMap<OriginView, Map<string, Manifest>>();

async function manifestOf(origin: OriginView, id: string, label: string): Promise<Manifest> {
  const known = manifests.get(origin) ?? new Map<string, Manifest>();
  manifests.set(origin, known);
  const cached = known.get(id);
  if (cached) return cached;
  const bytes = await origin.read(manifestKey(id));
  assert.ok(bytes, `${label}: the manifest of ${id}, named by the beacon, is missing`);
  const manifest = parseManifest(bytes, `${label} ${id}`);
  known.set(id, manifest);
  return manifest;
}

/**
 * Checks that the origin is truthful and its kept releases restorable (see the top); returns the
 * live release, or undefined when no beacon was ever committed (nothing is claimed).
 */
export async function checkTruthful(origin: OriginView, label: string): Promise<string | undefined> {
  const beaconBytes = await origin.read(BEACON_KEY);
  if (!beaconBytes) return undefined;
  const beacon = parseBeacon(beaconBytes, `${label} beacon`);
  const live = await manifestOf(origin, beacon.release, label);
  const incoming = beacon.deploying ? await manifestOf(origin, beacon.deploying, label) : undefined;
  // Deploys interrupted before the one in progress: their content may still be under live keys.
  const earlier = await Promise.all((beacon.interrupted ?? []).map((id) => manifestOf(origin, id, label)));
  const kept = await Promise.all(beacon.releases.map((id) => manifestOf(origin, id, label)));
  // Listed after the beacon was read: a deploy killed before the read cannot have moved on since.
  const contents = await origin.contents();
  for (const [key, entry] of Object.entries(live.files)) {
    const actual = contents.get(key);
    assert.ok(actual, `${label}: ${key} of the live release ${beacon.release} is missing`);
    const allowed = [
      entry.sha256,
      incoming?.files[key]?.sha256,
      ...earlier.map((m) => m.files[key]?.sha256),
    ].filter(Boolean);
    assert.ok(
      allowed.includes(actual),
      `${label}: ${key} holds content of neither the live nor the incoming release (deploying: ${beacon.deploying})`,
    );
  }
  for (const [i, manifest] of kept.entries()) {
    for (const [key, entry] of Object.entries(manifest.files)) {
      assert.ok(
        contents.get(key) === entry.sha256 || contents.has(blobKey(entry.sha256)),
        `${label}: kept release ${beacon.releases[i]} lost ${key}`,
      );
    }
  }
  return beacon.release;
}

/**
 * After a full deploy of `siteDir` (release `expected`): the origin serves it, nothing is in
 * progress or pending, it holds exactly the kept releases' files, and every local file as is.
 */
export async function checkConverged(
  origin: OriginView,
  label: string,
  expected: string,
  siteDir: string,
): Promise<void> {
  assert.equal(await checkTruthful(origin, label), expected, `${label}: serves the local release`);
  const beacon = parseBeacon((await origin.read(BEACON_KEY))!, label);
  assert.equal(beacon.deploying, undefined);
  assert.deepEqual(beacon.pendingCleanup, []);
  const kept = new Set<string>();
  for (const id of beacon.releases) {
    for (const key of Object.keys((await manifestOf(origin, id, label)).files)) kept.add(key);
  }
  const contents = await origin.contents();
  const onOrigin = [...contents.keys()].filter((key) => !key.startsWith(OUTLAST_PREFIX));
  const strays = onOrigin.filter((key) => !kept.has(key)).sort();
  const missing = [...kept].filter((key) => !contents.has(key)).sort();
  assert.deepEqual(
    { strays, missing },
    { strays: [], missing: [] },
    `${label}: ${strays.length} stray objects (${strays.slice(0, 3).join(', ')}…), ${missing.length} missing`,
  );
  for (const key of siteKeys(siteDir)) {
    assert.equal(
      contents.get(key),
      sha256(readFileSync(join(siteDir, ...key.split('/')))),
      `${label}: ${key}`,
    );
  }
}
