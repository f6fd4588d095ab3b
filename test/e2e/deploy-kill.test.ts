/**
 * SIGKILL at any moment, then deploy again: the origin converges, and at every moment we stop it
 * the beacon is truthful:
 * - with no deploy marked in progress, every file of the live release is in place, byte for byte;
 * - with a deploy marked in progress (`deploying`), every key of the live release holds the live
 *   content or the incoming one, never a third thing and never nothing;
 * - every kept release can be restored: each of its files is in place or kept as a blob.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseBeacon, parseManifest } from '../../src/release/manifest.ts';
import { BEACON_KEY, blobKey, manifestKey, OUTLAST_PREFIX } from '../../src/release/types.ts';
import { scanSite } from '../../src/site/scan.ts';
import { readOrigin, removeSiteFile, setupFsDeploy, sha256, writeSite } from '../helpers/site.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const FILES = 240;

/** A small deterministic PRNG, so that a failure can be replayed from its seed. */
function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function runCli(
  args: string[],
  killAfterMs?: number,
): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    const timer =
      killAfterMs === undefined ? undefined : setTimeout(() => child.kill('SIGKILL'), killAfterMs);
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      if (code !== null && code !== 0)
        reject(new Error(`outlast ${args.join(' ')} exited ${code}: ${stderr}`));
      else resolve({ code, signal });
    });
  });
}

function siteKeys(dir: string): string[] {
  const keys: string[] = [];
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      if (name === '.outlast-fs') continue;
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else keys.push(relative(dir, full));
    }
  };
  walk(dir);
  return keys.filter((key) => !key.startsWith(OUTLAST_PREFIX));
}

function checkTruthful(dir: string, label: string): string | undefined {
  const beaconBytes = readOrigin(dir, BEACON_KEY);
  if (!beaconBytes) return undefined; // never committed: nothing is claimed
  const beacon = parseBeacon(beaconBytes, `${label} beacon`);
  const manifestOf = (id: string) => {
    const bytes = readOrigin(dir, manifestKey(id));
    assert.ok(bytes, `${label}: the manifest of ${id}, named by the beacon, is missing`);
    return parseManifest(bytes, `${label} ${id}`);
  };
  const live = manifestOf(beacon.release);
  const incoming = beacon.deploying ? manifestOf(beacon.deploying) : undefined;
  for (const [key, entry] of Object.entries(live.files)) {
    const bytes = readOrigin(dir, key);
    assert.ok(bytes, `${label}: ${key} of the live release ${beacon.release} is missing`);
    const actual = sha256(bytes);
    const allowed = [entry.sha256, incoming?.files[key]?.sha256].filter(Boolean);
    assert.ok(
      allowed.includes(actual),
      `${label}: ${key} holds content of neither the live nor the incoming release (deploying: ${beacon.deploying})`,
    );
  }
  for (const id of beacon.releases) {
    for (const [key, entry] of Object.entries(manifestOf(id).files)) {
      const bytes = readOrigin(dir, key);
      const inPlace = bytes !== undefined && sha256(bytes) === entry.sha256;
      assert.ok(
        inPlace || readOrigin(dir, blobKey(entry.sha256)),
        `${label}: kept release ${id} lost ${key}`,
      );
    }
  }
  return beacon.release;
}

test('SIGKILL at random moments never leaves an origin lying, and the next deploy converges', async () => {
  const seed = Number(process.env.OUTLAST_TEST_SEED ?? Date.now() % 100000);
  const random = prng(seed);
  const files: Record<string, string> = {};
  for (let i = 0; i < FILES; i++)
    files[`${i % 7 === 0 ? 'pages' : 'assets'}/f${i}.${i % 7 === 0 ? 'html' : 'css'}`] = `${i} v0 `.repeat(
      200 + (i % 50) * 40,
    );
  const setup = setupFsDeploy({ files, origins: 2, keepReleases: 2, deploy: { concurrency: 4 } });
  after(() => setup.cleanup());
  const args = ['deploy', '--config', setup.configFile, '--no-progress', '--force'];
  let kills = 0;

  for (let round = 1; round <= 8; round++) {
    // A new version: a third of the files change, a few go, a few come.
    for (let i = 0; i < FILES; i++) {
      if (random() < 0.33) writeSite(setup.siteDir, { [`assets/f${i}.css`]: `${i} v${round} `.repeat(300) });
    }
    const existing = siteKeys(setup.siteDir).filter((key) => key.startsWith('assets/'));
    for (let n = 0; n < 5; n++) {
      const victim = existing[Math.floor(random() * existing.length)];
      if (victim && existing.length > 10) {
        try {
          removeSiteFile(setup.siteDir, victim);
        } catch {
          // already removed this round
        }
      }
    }
    writeSite(setup.siteDir, { [`assets/new-${round}.css`]: `new ${round}` });

    // One to three interrupted attempts, each checked, then a full one.
    const attempts = 1 + Math.floor(random() * 3);
    for (let attempt = 0; attempt < attempts; attempt++) {
      const delay = 150 + Math.floor(random() * 900);
      const { signal } = await runCli(args, delay);
      if (signal === 'SIGKILL') kills++;
      for (const [i, dir] of setup.origins.entries())
        checkTruthful(dir, `seed ${seed} round ${round} kill ${attempt} origin ${i}`);
    }
    await runCli(args);
    const expected = (await scanSite(setup.config.site)).releaseId;
    for (const [i, dir] of setup.origins.entries()) {
      const label = `seed ${seed} round ${round} converged origin ${i}`;
      assert.equal(checkTruthful(dir, label), expected, `${label}: serves the local release`);
      const beacon = parseBeacon(readOrigin(dir, BEACON_KEY)!, label);
      assert.equal(beacon.deploying, undefined);
      assert.deepEqual(beacon.pendingCleanup, []);
      // Exactly the files of the kept releases, no strays.
      const kept = new Set(
        beacon.releases.flatMap((id) =>
          Object.keys(parseManifest(readOrigin(dir, manifestKey(id))!, label).files),
        ),
      );
      assert.deepEqual(siteKeys(dir).sort(), [...kept].sort(), `${label}: no stray objects`);
      for (const key of siteKeys(setup.siteDir)) {
        assert.equal(
          readOrigin(dir, key)?.toString(),
          readOrigin(setup.siteDir, key)?.toString(),
          `${label}: ${key}`,
        );
      }
    }
  }
  assert.ok(kills > 0, 'at least one deploy was killed mid-way');
});
