// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} in plain strings is the config syntax under test.
/**
 * One site on three kinds of store at once, through the CLI in dist/, as examples/three-clouds.yaml
 * lays it out: an `s3` origin (cluster A's S3 API), a `swift` origin on Rackspace Cloud Files (the
 * identity and CDN stand-in in front of real cluster B) and an `azure` origin (Azurite). `setup
 * --create` makes all three ready; one deploy puts the same release on all three, each read back
 * anonymously through its own public URL (S3: the bucket's public read; Cloud Files: its CDN host;
 * Azure: the container's blob URL); a change reaches all three (the CDN purged with
 * `deploy.purge`); an origin refusing its credentials fails alone, named, while the other two take
 * the release, and the next deploy with the right key brings it level.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { scanSite } from '../../src/site/scan.ts';
import { writeSite } from '../helpers/site.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, startAzurite } from '../servers/azurite.ts';
import { removeContainer, type SwiftCluster, swiftClustersForTests } from '../servers/swift.ts';
import { type RackspaceStandin, startRackspaceStandin } from '../standins/rackspace.ts';

const BIN = new URL('../../bin/outlast.js', import.meta.url).pathname;
const RAX_USER = 'three-clouds';
const RAX_KEY = `rax-${randomBytes(12).toString('hex')}`;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

interface DeployReport {
  release: string;
  origins: Array<{
    id: string;
    ok: boolean;
    release: string;
    uploaded: number;
    error: { code: string } | null;
  }>;
}

describe('one site on three kinds of store: S3, Rackspace Cloud Files with its CDN, Azure', () => {
  let a: SwiftCluster;
  let b: SwiftCluster;
  let rax: RackspaceStandin;
  let azurite: Azurite;
  const dir = mkdtempSync(join(tmpdir(), 'outlast-three-clouds-'));
  const siteDir = join(dir, 'site');
  const tag = randomBytes(4).toString('hex');
  const bucket = `site-${tag}`;
  const container = `www-${tag}`;
  const azureContainer = `web-${tag}`;
  // Every secret reaches the config through the environment, as users are told to do it.
  const env: Record<string, string> = { TEST_RAX_KEY: RAX_KEY, TEST_AZURE_KEY: AZURITE_KEY };
  const secrets = () => [env.TEST_S3_SECRET!, RAX_KEY, AZURITE_KEY];

  function outlast(args: string[], extra: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve, reject) => {
      // spawn, not spawnSync: the Rackspace stand-in answers from this process.
      const child = spawn(process.execPath, [BIN, ...args], {
        env: { ...process.env, CI: '1', ...env, ...extra },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.once('error', reject);
      child.once('close', (code) => {
        for (const secret of secrets())
          assert.ok(!(stdout + stderr).includes(secret), 'a secret was printed');
        resolve({ code, stdout, stderr });
      });
    });
  }

  function writeConfig(): string {
    const file = join(dir, 'outlast.yaml');
    writeFileSync(
      file,
      stringify({
        site: {
          dir: siteDir,
          hostname: 'www.example.test',
          errorDocument: '404.html',
          headers: [{ match: '**/*.html', cacheControl: 'public, max-age=60' }],
        },
        origins: [
          {
            id: 'aws',
            storage: {
              type: 's3',
              bucket,
              endpoint: a.s3Endpoint,
              region: a.s3Region,
              forcePathStyle: true,
              credentials: { accessKeyId: '${TEST_S3_KEY_ID}', secretAccessKey: '${TEST_S3_SECRET}' },
            },
          },
          {
            id: 'rackspace',
            storage: {
              type: 'swift',
              container,
              region: 'DFW',
              auth: {
                type: 'rackspace',
                url: rax.identityUrl,
                username: RAX_USER,
                apiKey: '${TEST_RAX_KEY}',
              },
              cdn: { ttl: 3600 },
            },
          },
          {
            id: 'azure',
            storage: {
              type: 'azure',
              container: azureContainer,
              account: AZURITE_ACCOUNT,
              accountKey: '${TEST_AZURE_KEY}',
              endpoint: azurite.endpoint,
            },
          },
        ],
        deploy: { attempts: 2, purge: true },
      }),
    );
    return file;
  }

  /** Where each origin serves its objects to anyone. */
  function publicBases(): Record<string, string> {
    const cdn = rax.containers.get(container);
    assert.ok(cdn?.enabled, 'the Cloud Files container is CDN-enabled');
    return {
      aws: `${a.storageUrl}/${bucket}`,
      rackspace: cdn.uri,
      azure: `${azurite.endpoint}/${azureContainer}`,
    };
  }

  /** Every file of the site, fetched anonymously from every origin: the local bytes, each one. */
  async function assertServedEverywhere(configFile: string, release: string): Promise<void> {
    const { config } = parseConfig(readFileSync(configFile, 'utf8'), configFile, { env });
    const scan = await scanSite(config.site);
    assert.equal(scan.releaseId, release);
    for (const [origin, base] of Object.entries(publicBases())) {
      for (const file of scan.files) {
        const response = await fetch(`${base}/${file.key.split('/').map(encodeURIComponent).join('/')}`);
        assert.equal(response.status, 200, `${origin} ${file.key}`);
        assert.deepEqual(
          Buffer.from(await response.arrayBuffer()),
          readFileSync(file.path),
          `${origin} ${file.key}`,
        );
      }
      // The CDN keeps outlast's release marker for its TTL (a deploy purges only the site's files),
      // so the marker is read where it is not cached.
      if (origin === 'rackspace') continue;
      const beacon = await fetch(`${base}/.well-known/outlast/release.json`);
      assert.equal(((await beacon.json()) as { release: string }).release, release, `${origin} beacon`);
    }
  }

  before(async () => {
    ({ a, b } = await swiftClustersForTests());
    env.TEST_S3_KEY_ID = a.s3AccessKeyId;
    env.TEST_S3_SECRET = a.s3SecretAccessKey;
    [rax, azurite] = await Promise.all([
      startRackspaceStandin({ swift: b, username: RAX_USER, apiKey: RAX_KEY }),
      startAzurite(),
    ]);
    writeSite(siteDir, {
      'index.html': `<h1>home ${tag}</h1>\n`,
      '404.html': '<h1>not here</h1>\n',
      'about/index.html': '<h1>about</h1>\n',
      'assets/app.js': `console.log(${JSON.stringify(tag)});\n`,
      'assets/logo.bin': randomBytes(40_000),
    });
  });

  after(async () => {
    // The bucket and the container are the shared clusters' (A's S3 user is A's test account).
    await Promise.all([removeContainer(a, bucket), removeContainer(b, container)]);
    await Promise.all([rax?.stop(), azurite?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  test('setup --create makes all three ready; a second run changes nothing', async () => {
    const config = writeConfig();
    const setup = await outlast(['setup', '--config', config, '--create']);
    assert.equal(setup.code, 0, setup.stdout + setup.stderr);
    assert.match(setup.stdout, /aws:[\s\S]*done\s+create bucket/);
    assert.match(setup.stdout, /rackspace:[\s\S]*done\s+cdn:/);
    assert.match(setup.stdout, /azure:[\s\S]*done\s+create container/);
    assert.ok(rax.containers.get(container)?.enabled);
    const again = await outlast(['setup', '--config', config]);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    // Swift's s3api applies the public-read ACL but reads back only the owner's grant, so that one
    // step says done on every run there (s3-setup.ts); every other step is already done.
    const done = again.stdout.split('\n').filter((line) => /^\s+done\b/.test(line));
    assert.deepEqual(
      done.map((line) => line.trim().split(':')[0]),
      ['done         public read'],
      again.stdout,
    );
    assert.match(again.stdout, /rackspace:\n(\s+already ok .*\n)+azure:/);
  });

  test('one deploy puts the same release on all three, each served anonymously', async () => {
    const config = writeConfig();
    const deploy = await outlast(['deploy', '--config', config, '--json']);
    assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
    const report = JSON.parse(deploy.stdout) as DeployReport;
    assert.deepEqual(
      report.origins.map((origin) => [origin.id, origin.ok, origin.release]),
      ['aws', 'rackspace', 'azure'].map((id) => [id, true, report.release]),
    );
    await assertServedEverywhere(config, report.release);
  });

  test('a change reaches all three; the CDN drops its old copy at once', async () => {
    const config = writeConfig();
    const before = await fetch(`${rax.containers.get(container)!.uri}/assets/app.js`);
    assert.match(await before.text(), new RegExp(tag), 'the CDN holds the old script');
    writeFileSync(join(siteDir, 'assets/app.js'), `console.log("changed ${tag}");\n`);
    const deploy = await outlast(['deploy', '--config', config, '--json']);
    assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
    const report = JSON.parse(deploy.stdout) as DeployReport;
    for (const origin of report.origins) assert.equal(origin.uploaded, 1, origin.id);
    assert.deepEqual(
      rax.purges.map((purge) => `${purge.container}/${purge.object}`),
      [`${container}/assets/app.js`],
    );
    await assertServedEverywhere(config, report.release);
  });

  test('an origin refusing its key fails alone, named; the next deploy brings it level', async () => {
    const config = writeConfig();
    writeFileSync(join(siteDir, 'about/index.html'), `<h1>about, again ${tag}</h1>\n`);
    const wrongKey = Buffer.from(randomBytes(64)).toString('base64');
    const failed = await outlast(['deploy', '--config', config, '--json'], { TEST_AZURE_KEY: wrongKey });
    assert.equal(failed.code, 1, failed.stdout + failed.stderr);
    assert.ok(!(failed.stdout + failed.stderr).includes(wrongKey), 'the wrong key is not printed either');
    const report = JSON.parse(failed.stdout) as DeployReport;
    const byId = Object.fromEntries(report.origins.map((origin) => [origin.id, origin]));
    assert.equal(byId.azure?.ok, false);
    assert.equal(byId.azure?.error?.code, 'permission_denied');
    assert.equal(byId.aws?.ok, true);
    assert.equal(byId.rackspace?.ok, true);

    const level = await outlast(['deploy', '--config', config, '--json']);
    assert.equal(level.code, 0, level.stdout + level.stderr);
    const fixed = JSON.parse(level.stdout) as DeployReport;
    assert.equal(fixed.release, report.release);
    const uploaded = Object.fromEntries(fixed.origins.map((origin) => [origin.id, origin.uploaded]));
    assert.deepEqual(uploaded, { aws: 0, rackspace: 0, azure: 1 });
    assert.ok(
      rax.purges.some((purge) => purge.object === 'about/index.html'),
      'the origin that took the change in the failed run purged it',
    );
    await assertServedEverywhere(config, fixed.release);
  });
});
