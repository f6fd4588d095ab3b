/**
 * `deploy.purge` on Rackspace Cloud Files, end to end through the CLI in dist/: a site under a
 * key prefix on a `swift` origin that logs in at the Rackspace stand-in (test/standins/rackspace.ts,
 * storage on real Swift cluster B), whose CDN hosts cache like an edge for the TTL (an hour here,
 * far past the test). A deploy with `deploy.purge: true` purges exactly the keys it changed or
 * deleted (with the prefix, never a new key), so the CDN host serves the new bytes at once; one
 * without it purges nothing and the CDN host keeps the old bytes; past Rackspace's 25 purges a day
 * the deploy still succeeds and names what it did not purge. The stand-in is this file's own, so
 * its daily count starts at 0, and its purge day is fixed, so midnight UTC cannot reset it.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { removeContainer, type SwiftCluster, swiftClustersForTests, swiftLogin } from '../servers/swift.ts';
import { PURGE_QUOTA, type RackspaceStandin, startRackspaceStandin } from '../standins/rackspace.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const USERNAME = 'purge-owner';
const API_KEY = `rax-${randomBytes(12).toString('hex')}`;
const PREFIX = 'site/';
const MANY = 30;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface DeployReport {
  origins: Array<{
    ok: boolean;
    warnings: string[];
    purge: { purged: string[]; notPurged: string[] } | null;
  }>;
}

function outlast(args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...process.env, CI: '1', TEST_RAX_KEY: API_KEY },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => {
      assert.doesNotMatch(stdout + stderr, new RegExp(API_KEY), 'the API key is never printed');
      resolve({ code, stdout, stderr });
    });
  });
}

describe('deploy.purge on Rackspace Cloud Files: changed objects leave the CDN at once', () => {
  let cluster: SwiftCluster;
  let rax: RackspaceStandin;
  const dir = mkdtempSync(join(tmpdir(), 'outlast-cloudfiles-purge-'));
  const site = join(dir, 'site');
  const container = `purge-${randomBytes(4).toString('hex')}`;
  let cdnUri = '';

  function write(key: string, text: string): void {
    mkdirSync(dirname(join(site, key)), { recursive: true });
    writeFileSync(join(site, key), text);
  }

  function writeConfig(purge: boolean): string {
    const file = join(dir, `outlast-${randomBytes(3).toString('hex')}.yaml`);
    writeFileSync(
      file,
      stringify({
        site: { dir: site, hostname: 'www.example.test', keepReleases: 1 },
        origins: [
          {
            id: 'cloudfiles',
            ...(cdnUri ? { url: `${cdnUri}/${PREFIX}` } : {}),
            storage: {
              type: 'swift',
              container,
              region: 'DFW',
              prefix: PREFIX,
              auth: {
                type: 'rackspace',
                url: rax.identityUrl,
                username: USERNAME,
                // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's own env reference
                apiKey: '${TEST_RAX_KEY}',
              },
              cdn: { ttl: 3600, purgeEmail: ['ops@example.test', 'web@example.test'] },
            },
          },
        ],
        deploy: { attempts: 2, ...(purge ? { purge: true } : {}) },
      }),
    );
    return file;
  }

  /** What the CDN host serves for a site key (under the prefix). */
  async function edge(key: string): Promise<string> {
    const path = `${PREFIX}${key}`.split('/').map(encodeURIComponent).join('/');
    const response = await fetch(`${cdnUri}/${path}`);
    assert.equal(response.status, 200, key);
    return response.text();
  }

  async function deploy(purge: boolean): Promise<DeployReport> {
    const run = await outlast(['deploy', '--config', writeConfig(purge), '--json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    return JSON.parse(run.stdout) as DeployReport;
  }

  before(async () => {
    cluster = (await swiftClustersForTests()).b;
    rax = await startRackspaceStandin({
      swift: cluster,
      username: USERNAME,
      apiKey: API_KEY,
      day: () => '2026-01-01',
    });
    write('index.html', '<h1>v1</h1>');
    write('about us.html', 'about v1');
    write('assets/app.css', 'body { color: red }');
    write('gone.txt', 'soon deleted');
    for (let index = 0; index < MANY; index++) write(`many/${index}.txt`, `many v1 ${index}`);
  });

  after(async () => {
    // The container is the shared cluster's: emptied and deleted.
    if (cluster) await removeContainer(cluster, container);
    await rax?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a first deploy with deploy.purge purges nothing: every key is new', async () => {
    const setup = await outlast(['setup', '--config', writeConfig(true), '--create']);
    assert.equal(setup.code, 0, setup.stdout + setup.stderr);
    const entry = rax.containers.get(container);
    assert.ok(entry?.enabled, setup.stdout);
    cdnUri = entry.uri;

    const report = await deploy(true);
    assert.equal(report.origins[0]!.ok, true);
    assert.equal(report.origins[0]!.purge, null, 'no key changed or was deleted');
    assert.deepEqual(rax.purges, []);
    // The edge caches what it serves now.
    assert.equal(await edge('index.html'), '<h1>v1</h1>');
    assert.equal(await edge('about us.html'), 'about v1');
    assert.equal(await edge('assets/app.css'), 'body { color: red }');
    assert.equal(await edge('gone.txt'), 'soon deleted');
    for (let index = 0; index < MANY; index++)
      assert.equal(await edge(`many/${index}.txt`), `many v1 ${index}`);
  });

  test('without deploy.purge nothing is purged and the CDN host keeps serving the old bytes', async () => {
    write('index.html', '<h1>v2</h1>');
    const report = await deploy(false);
    assert.equal(report.origins[0]!.ok, true);
    assert.equal(report.origins[0]!.purge, null);
    assert.deepEqual(rax.purges, []);
    assert.ok(!rax.cdnRequests.some((request) => request.startsWith('DELETE')), rax.cdnRequests.join('\n'));
    assert.equal(await edge('index.html'), '<h1>v1</h1>', 'cached until its TTL ends');
    const { token, storageUrl } = await swiftLogin(cluster);
    const stored = await fetch(`${storageUrl}/${container}/${PREFIX}index.html`, {
      headers: { 'x-auth-token': token },
    });
    assert.equal(await stored.text(), '<h1>v2</h1>', 'while the store has the new bytes');
  });

  test('with deploy.purge exactly the changed and deleted keys are purged, and served anew at once', async () => {
    write('index.html', '<h1>v3</h1>');
    write('about us.html', 'about v3');
    rmSync(join(site, 'gone.txt'));
    write('new.txt', 'brand new');
    const report = await deploy(true);
    const origin = report.origins[0]!;
    assert.equal(origin.ok, true);
    assert.deepEqual(origin.warnings, []);
    const changed = ['about us.html', 'gone.txt', 'index.html'];
    assert.deepEqual(origin.purge?.purged.slice().sort(), changed);
    assert.deepEqual(origin.purge?.notPurged, []);
    assert.deepEqual(
      rax.purges.map((purge) => purge.object).sort(),
      changed.map((key) => `${PREFIX}${key}`),
      'the stored names, prefix included; not the new key, not an unchanged one',
    );
    for (const purge of rax.purges) {
      assert.equal(purge.container, container);
      assert.equal(purge.email, 'ops@example.test, web@example.test');
    }
    assert.equal(await edge('index.html'), '<h1>v3</h1>');
    assert.equal(await edge('about us.html'), 'about v3');
    assert.equal(await edge('new.txt'), 'brand new');
    assert.equal(await edge('assets/app.css'), 'body { color: red }');
    const deleted = await fetch(`${cdnUri}/${PREFIX}gone.txt`);
    assert.equal(deleted.status, 404, 'the deleted object is no longer served from the edge');
    await deleted.arrayBuffer();
    assert.deepEqual(rax.violations, []);
  });

  test('past the daily quota the deploy still succeeds and says what it did not purge', async () => {
    const used = rax.purges.length;
    for (let index = 0; index < MANY; index++) write(`many/${index}.txt`, `many v4 ${index}`);
    const run = await outlast(['deploy', '--config', writeConfig(true)]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const left = PURGE_QUOTA - used;
    assert.equal(rax.purges.length, PURGE_QUOTA, 'as many as the day allows');
    assert.match(run.stdout, new RegExp(`purged ${left} objects from the CDN`));
    const warning = run.stdout.split('\n').find((line) => line.includes('warning: CDN purge:'));
    assert.ok(warning, run.stdout);
    assert.match(warning, /refused a purge/);
    const purged = new Set(rax.purges.slice(used).map((purge) => purge.object.slice(PREFIX.length)));
    const notPurged = new Set<string>();
    for (let index = 0; index < MANY; index++) {
      const key = `many/${index}.txt`;
      const served = await edge(key);
      if (purged.has(key)) {
        assert.equal(served, `many v4 ${index}`, key);
      } else {
        assert.equal(served, `many v1 ${index}`, `${key}: not purged, cached until its TTL ends`);
        notPurged.add(key);
      }
    }
    assert.equal(purged.size, left);
    assert.equal(notPurged.size, MANY - left);
    // The warning names them (the first ten, then how many more).
    const list = warning.split('not purged (served from the CDN until their TTL ends): ')[1];
    assert.ok(list, warning);
    const named = [...list.matchAll(/"([^"]+)"/g)].map((match) => match[1]!);
    assert.equal(named.length, Math.min(10, notPurged.size), warning);
    for (const key of named) assert.ok(notPurged.has(key), `${key} is named but was purged`);
    if (notPurged.size > 10) assert.match(warning, new RegExp(`and ${notPurged.size - 10} more`));
  });
});
