/**
 * Rackspace Cloud Files end to end, through the CLI in dist/: examples/site on a `swift` origin
 * that logs in with Rackspace identity v2.0 at the stand-in (test/standins/rackspace.ts), whose
 * storage is real Swift cluster B. `outlast setup` CDN-enables the container and prints its CDN
 * URIs; the deployed site is then served anonymously by the CDN host (and before setup there is
 * none); `outlast check` warns while the origin's url is off the CDN host, not once it is on it.
 * The CLI runs as a child process without blocking this one, since the stand-in lives here.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { scanSite } from '../../src/site/scan.ts';
import { removeContainer, type SwiftCluster, swiftClustersForTests, swiftLogin } from '../servers/swift.ts';
import { type RackspaceStandin, startRackspaceStandin } from '../standins/rackspace.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const SITE = fileURLToPath(new URL('../../examples/site', import.meta.url));
const USERNAME = 'site-owner';
const API_KEY = `rax-${randomBytes(12).toString('hex')}`;

function outlast(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
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

describe('a site on Rackspace Cloud Files, served by its CDN', () => {
  let cluster: SwiftCluster;
  let rax: RackspaceStandin;
  const dir = mkdtempSync(join(tmpdir(), 'outlast-cloudfiles-'));
  const container = `www-${randomBytes(4).toString('hex')}`;

  function writeConfig(url?: string): string {
    const file = join(dir, `outlast-${randomBytes(3).toString('hex')}.yaml`);
    writeFileSync(
      file,
      stringify({
        site: { dir: SITE, hostname: 'www.example.test', errorDocument: '404.html' },
        origins: [
          {
            id: 'cloudfiles',
            ...(url ? { url } : {}),
            storage: {
              type: 'swift',
              container,
              region: 'DFW',
              auth: {
                type: 'rackspace',
                url: rax.identityUrl,
                username: USERNAME,
                apiKey: '${TEST_RAX_KEY}',
              },
              cdn: { ttl: 3600 },
            },
          },
        ],
        deploy: { attempts: 2 },
      }),
    );
    return file;
  }

  before(async () => {
    cluster = (await swiftClustersForTests()).b;
    rax = await startRackspaceStandin({ swift: cluster, username: USERNAME, apiKey: API_KEY });
  });

  after(async () => {
    // The container is the shared cluster's: emptied and deleted.
    await removeContainer(cluster, container);
    await rax?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  let httpUri = '';
  let sslUri = '';

  test('setup: a dry run changes nothing, then the container is created, CDN-enabled and its URIs printed', async () => {
    const config = writeConfig();
    const dry = await outlast(['setup', '--config', config, '--create', '--dry-run']);
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /would do\s+cdn: would CDN-enable the container \(TTL 3600\)/);
    assert.equal(rax.containers.has(container), false, 'no CDN before setup: nothing serves the site');
    const { token, storageUrl } = await swiftLogin(cluster);
    const head = await fetch(`${storageUrl}/${container}`, {
      method: 'HEAD',
      headers: { 'x-auth-token': token },
    });
    assert.equal(head.status, 404, 'the dry run created no container');

    const setup = await outlast(['setup', '--config', config, '--create']);
    assert.equal(setup.code, 0, setup.stdout + setup.stderr);
    assert.match(setup.stdout, /done\s+create container/);
    assert.doesNotMatch(setup.stdout, /public read/, 'no ACL on Rackspace: the CDN publishes');
    const line = setup.stdout.split('\n').find((text) => /done\s+cdn:/.test(text));
    assert.ok(line, setup.stdout);
    const entry = rax.containers.get(container);
    assert.ok(entry?.enabled);
    assert.equal(entry.ttl, 3600);
    httpUri = entry.uri;
    sslUri = entry.sslUri;
    assert.ok(line.includes(`HTTP ${httpUri}, SSL ${sslUri}`), line);
    assert.ok(line.includes(`set the origin's url to ${sslUri}`), line);

    const again = await outlast(['setup', '--config', config]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /cloudfiles:\n(\s+already ok .*\n)+$/);
    assert.deepEqual(rax.violations, []);
  });

  test('deploy: the CDN host serves every file of the site anonymously, with the error page', async () => {
    assert.ok(httpUri, 'setup ran');
    const config = writeConfig(httpUri);
    const deploy = await outlast(['deploy', '--config', config, '--json']);
    assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
    const report = JSON.parse(deploy.stdout) as { release: string };
    const { config: parsed } = parseConfig(readFileSync(config, 'utf8'), config, {
      env: { TEST_RAX_KEY: API_KEY },
    });
    const scan = await scanSite(parsed.site);
    assert.equal(scan.releaseId, report.release);
    for (const file of scan.files) {
      const response = await fetch(`${httpUri}/${file.key.split('/').map(encodeURIComponent).join('/')}`);
      assert.equal(response.status, 200, file.key);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), readFileSync(file.path), file.key);
    }
    const index = await fetch(`${httpUri}/`);
    assert.equal(index.status, 200);
    assert.match(await index.text(), /Harbor Coffee Roasters/);
    const missing = await fetch(`${httpUri}/no-such-page`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /We couldn't find that page/);
    // The storage URL itself stays private: only the CDN publishes.
    const direct = await fetch(`${cluster.storageUrl}/${container}/index.html`);
    assert.equal(direct.status, 401);
    await direct.arrayBuffer();
  });

  test('check warns while the url is off the CDN host, naming the config path and the URI to use', async () => {
    assert.ok(sslUri, 'setup ran');
    const wrong = await outlast([
      'check',
      '--config',
      writeConfig(`${cluster.storageUrl}/${container}`),
      '--json',
    ]);
    const wrongFindings = (JSON.parse(wrong.stdout) as { findings: Array<Record<string, string>> }).findings;
    const cdn = wrongFindings.find((finding) => finding.subject === 'origin cloudfiles cdn');
    assert.ok(cdn, wrong.stdout);
    assert.equal(cdn.level, 'warn');
    assert.match(cdn.message!, /origins\[0\]\.url/);
    assert.ok(cdn.message!.includes(`set it to ${sslUri}`), cdn.message);

    const right = await outlast(['check', '--config', writeConfig(httpUri), '--json']);
    const rightFindings = (JSON.parse(right.stdout) as { findings: Array<Record<string, string>> }).findings;
    const ok = rightFindings.find((finding) => finding.subject === 'origin cloudfiles cdn');
    assert.equal(ok?.level, 'ok', right.stdout);
    const url = rightFindings.find((finding) => finding.subject === 'origin cloudfiles url');
    assert.equal(url?.level, 'ok', `the CDN host serves the beacon: ${right.stdout}`);
  });
});
