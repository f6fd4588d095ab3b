/**
 * The deploy engine end to end on directory origins: odd names byte for byte, releases kept and
 * cleaned up, rollback from the origin's own copies, the delete guard, and a failing origin.
 */
import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { after, describe, test } from 'node:test';
import { readStatus, runDeploy, runRollback } from '../../src/deploy/engine.ts';
import { parseBeacon } from '../../src/release/manifest.ts';
import { BEACON_KEY } from '../../src/release/types.ts';
import { startServer } from '../../src/serve/server.ts';
import { ODD_NAMES, readOrigin, removeSiteFile, setupFsDeploy, sha256, writeSite } from '../helpers/site.ts';

function siteFiles(version: string): Record<string, string> {
  return Object.fromEntries(ODD_NAMES.map((key) => [key, `${key} ${version}\n`]));
}

/** Every file under a folder with its sha256, for "nothing changed" checks. */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (path: string) => {
    for (const name of readdirSync(path)) {
      const full = join(path, name);
      if (statSync(full).isDirectory()) walk(full);
      else
        files.set(
          relative(dir, full),
          sha256(readOrigin(dir, relative(dir, full).split('\\').join('/')) ?? ''),
        );
    }
  };
  walk(dir);
  return files;
}

describe('deploy to directory origins', () => {
  const setup = setupFsDeploy({ files: siteFiles('v1') });
  after(() => setup.cleanup());
  let first: string;

  test('a first deploy puts every file, byte-identical, on every origin', async () => {
    const outcome = await runDeploy({ config: setup.config });
    first = outcome.releaseId;
    assert.equal(outcome.applied, true);
    for (const origin of outcome.origins) {
      assert.equal(origin.error, undefined, origin.error?.message);
      assert.equal(origin.result?.uploaded, ODD_NAMES.length);
      assert.equal(origin.release, first);
    }
    for (const dir of setup.origins) {
      for (const key of ODD_NAMES) assert.equal(readOrigin(dir, key)?.toString(), `${key} v1\n`, key);
      const beacon = parseBeacon(readOrigin(dir, BEACON_KEY)!, 'beacon');
      assert.equal(beacon.release, first);
      assert.deepEqual(beacon.releases, [first]);
      assert.equal(beacon.files, ODD_NAMES.length);
      assert.ok(readOrigin(dir, BEACON_KEY)!.length < 2048);
      assert.ok(readOrigin(dir, `.well-known/outlast/releases/${first}.json`));
    }
  });

  test('outlast serve returns the odd names with the manifest’s content type and headers', async () => {
    const server = await startServer({ dir: setup.origins[0]!, host: '127.0.0.1', port: 0 });
    try {
      for (const key of ODD_NAMES) {
        const path = key.split('/').map(encodeURIComponent).join('/');
        const response = await fetch(`${server.url}/${path}`);
        assert.equal(response.status, 200, key);
        assert.equal(await response.text(), `${key} v1\n`);
        if (key.endsWith('.html')) {
          assert.equal(response.headers.get('content-type'), 'text/html; charset=utf-8');
          assert.equal(response.headers.get('cache-control'), 'public, max-age=60');
        }
        if (key.startsWith('assets/')) {
          assert.equal(response.headers.get('cache-control'), 'public, max-age=31536000, immutable');
        }
      }
      const missing = await fetch(`${server.url}/nope`);
      assert.equal(missing.status, 404);
      assert.equal(await missing.text(), '404.html v1\n');
    } finally {
      await server.close();
    }
  });

  test('a no-op deploy makes one request per origin and writes nothing', async () => {
    const before = snapshot(setup.origins[0]!);
    const outcome = await runDeploy({ config: setup.config });
    for (const origin of outcome.origins) {
      assert.equal(origin.plan?.noop, true);
      assert.ok(origin.requests <= 2, `${origin.requests} requests`);
    }
    assert.deepEqual(snapshot(setup.origins[0]!), before);
  });

  let second: string;
  test('a change uploads only what changed; the old release stays whole for rollback', async () => {
    writeSite(setup.siteDir, { 'index.html': 'index.html v2\n' });
    removeSiteFile(setup.siteDir, 'plus+sign.txt');
    const outcome = await runDeploy({ config: setup.config });
    second = outcome.releaseId;
    assert.notEqual(second, first);
    for (const origin of outcome.origins) {
      assert.equal(origin.error, undefined);
      assert.equal(origin.result?.uploaded, 1);
      assert.equal(origin.result?.preserved, 1, 'the old index.html is kept as a blob');
      assert.equal(origin.result?.deleted, 0, 'plus+sign.txt is still in the kept release');
      // Two requests for the changed file: the kept copy made server-side from what the live
      // manifest says the key holds (no stat first), then the put.
      assert.equal(origin.requestCounts.stat, 0, 'no stat before the kept copy');
      assert.equal(origin.requestCounts.copy, 1);
    }
    assert.ok(setup.origins.length >= 2);
    assert.deepEqual(
      outcome.reads,
      { reads: 1, rereads: 0, bytesRead: 'index.html v2\n'.length },
      'one read for every origin',
    );
    const dir = setup.origins[0]!;
    assert.equal(readOrigin(dir, 'index.html')?.toString(), 'index.html v2\n');
    assert.equal(readOrigin(dir, 'plus+sign.txt')?.toString(), 'plus+sign.txt v1\n');
    assert.equal(
      readOrigin(dir, `.well-known/outlast/blobs/${sha256('index.html v1\n')}`)?.toString(),
      'index.html v1\n',
    );
  });

  test('rollback restores the previous release from the origin’s own copies', async () => {
    const outcome = await runRollback({ config: setup.config });
    assert.equal(outcome.releaseId, first);
    for (const origin of outcome.origins) assert.equal(origin.error, undefined, origin.error?.message);
    for (const dir of setup.origins) {
      for (const key of ODD_NAMES) assert.equal(readOrigin(dir, key)?.toString(), `${key} v1\n`, key);
      const beacon = parseBeacon(readOrigin(dir, BEACON_KEY)!, 'beacon');
      assert.equal(beacon.release, first);
      assert.deepEqual(beacon.releases, [first, second]);
    }
    const status = await readStatus(setup.config);
    assert.deepEqual(
      status.map((s) => s.beacon?.release),
      [first, first],
    );
  });

  test('releases beyond keepReleases are cleaned up, and only their files', async () => {
    for (const version of ['v3', 'v4', 'v5']) {
      writeSite(setup.siteDir, { 'index.html': `index.html ${version}\n` });
      const outcome = await runDeploy({ config: setup.config });
      for (const origin of outcome.origins) assert.equal(origin.error, undefined);
    }
    const dir = setup.origins[1]!;
    const beacon = parseBeacon(readOrigin(dir, BEACON_KEY)!, 'beacon');
    assert.equal(beacon.releases.length, 3);
    assert.deepEqual(beacon.pendingCleanup, []);
    assert.equal(readOrigin(dir, 'plus+sign.txt'), undefined, 'removed from the site 4 releases ago');
    assert.equal(readOrigin(dir, `.well-known/outlast/releases/${first}.json`), undefined);
    assert.equal(readOrigin(dir, `.well-known/outlast/blobs/${sha256('index.html v1\n')}`), undefined);
    assert.equal(
      readOrigin(dir, `.well-known/outlast/blobs/${sha256('index.html v4\n')}`)?.toString(),
      'index.html v4\n',
    );
    assert.equal(readOrigin(dir, 'index.html')?.toString(), 'index.html v5\n');
  });

  test('the delete guard refuses a plan that deletes most of the site, and writes nothing', async () => {
    const big = setupFsDeploy({
      keepReleases: 1,
      files: Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`p${i}.txt`, `${i}`])),
    });
    try {
      await runDeploy({ config: big.config });
      for (let i = 0; i < 15; i++) removeSiteFile(big.siteDir, `p${i}.txt`);
      const before = snapshot(big.origins[0]!);
      const refused = await runDeploy({ config: big.config });
      assert.equal(refused.refused, true);
      assert.equal(refused.applied, false);
      assert.match(refused.origins[0]!.plan!.guardRefusal!, /15 of 20 objects/);
      assert.deepEqual(snapshot(big.origins[0]!), before);
      const forced = await runDeploy({ config: big.config, force: true });
      assert.equal(forced.origins[0]!.result?.deleted, 15);
    } finally {
      big.cleanup();
    }
  });

  test('a failing origin does not stop the others, and says which release each serves', async () => {
    const broken = setupFsDeploy({ files: { 'index.html': 'x' } });
    try {
      writeFileSync(broken.origins[1]!, 'a file where a folder should be');
      const outcome = await runDeploy({ config: broken.config });
      const [good, bad] = outcome.origins;
      assert.equal(good!.error, undefined);
      assert.equal(good!.release, outcome.releaseId);
      assert.ok(bad!.error, 'the broken origin reports an error');
      assert.match(bad!.error!.message, /o1/);
      assert.equal(bad!.release, undefined);
    } finally {
      broken.cleanup();
    }
  });
});
