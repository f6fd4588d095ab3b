/**
 * The seed pattern for real: examples/site on cloud A through its S3 API and on cloud B through
 * Swift's native API (two independent Swift clusters), set up with `outlast setup`, deployed with
 * `outlast deploy`, then every file fetched anonymously through each cluster's public URL. Plus
 * the errors a user meets first: wrong credentials, a missing bucket, a dead endpoint.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { scanSite } from '../../src/site/scan.ts';
import { type SwiftCluster, swiftClustersForTests, swiftLogin } from '../servers/swift.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const SITE = fileURLToPath(new URL('../../examples/site', import.meta.url));

function outlast(args: string[], env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1', ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('one site on two clouds: S3 API on cluster A, Swift API on cluster B', () => {
  let a: SwiftCluster;
  let b: SwiftCluster;
  const dir = mkdtempSync(join(tmpdir(), 'outlast-two-clouds-'));
  const bucket = `site-${randomBytes(4).toString('hex')}`;
  const container = `www-${randomBytes(4).toString('hex')}`;
  const configFile = join(dir, 'outlast.yaml');
  // Secrets reach the config through the environment, as users are told to do it.
  const env = { TEST_S3_KEY_ID: '', TEST_S3_SECRET: '', TEST_SWIFT_KEY: '' };

  function writeConfig(overrides: { s3Secret?: string; s3Endpoint?: string; bucket?: string } = {}): string {
    const file = join(dir, `outlast-${randomBytes(3).toString('hex')}.yaml`);
    writeFileSync(
      file,
      stringify({
        site: {
          dir: SITE,
          hostname: 'www.example.test',
          errorDocument: '404.html',
          headers: [
            { match: 'assets/**', cacheControl: 'public, max-age=31536000, immutable' },
            { match: '**/*.html', cacheControl: 'public, max-age=60' },
          ],
        },
        origins: [
          {
            id: 'cloud-a',
            storage: {
              type: 's3',
              bucket: overrides.bucket ?? bucket,
              endpoint: overrides.s3Endpoint ?? a.s3Endpoint,
              region: a.s3Region,
              forcePathStyle: true,
              credentials: {
                accessKeyId: '${TEST_S3_KEY_ID}',
                secretAccessKey: overrides.s3Secret ?? '${TEST_S3_SECRET}',
              },
            },
          },
          {
            id: 'cloud-b',
            storage: {
              type: 'swift',
              container,
              auth: { type: 'tempauth', url: b.authUrl, user: b.user, key: '${TEST_SWIFT_KEY}' },
            },
          },
        ],
        deploy: { attempts: 2 },
      }),
    );
    return file;
  }

  before(async () => {
    ({ a, b } = await swiftClustersForTests());
    env.TEST_S3_KEY_ID = a.s3AccessKeyId;
    env.TEST_S3_SECRET = a.s3SecretAccessKey;
    env.TEST_SWIFT_KEY = b.key;
    const file = writeConfig();
    writeFileSync(configFile, readFileSync(file));
  });

  after(() => rmSync(dir, { recursive: true, force: true }));

  test('setup without --create says the bucket is missing; with --create it makes both ready', () => {
    const missing = outlast(['setup', '--config', configFile], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stdout, /cloud-a:[\s\S]*FAILED[\s\S]*setup --create/);

    const setup = outlast(['setup', '--config', configFile, '--create'], env);
    assert.equal(setup.code, 0, setup.stdout + setup.stderr);
    assert.match(setup.stdout, /cloud-a:[\s\S]*done\s+create bucket/);
    // Swift's S3 API has no website calls: said plainly, with what to do instead.
    assert.match(setup.stdout, /UNSUPPORTED\s+website: .*swift/i);
    assert.match(
      setup.stdout,
      /cloud-b:[\s\S]*done\s+create container[\s\S]*done\s+public read[\s\S]*done\s+website/,
    );

    const again = outlast(['setup', '--config', configFile], env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /cloud-b:\n(\s+already ok .*\n)+/);
    assert.doesNotMatch(again.stdout, new RegExp(env.TEST_S3_SECRET));
  });

  test('deploy puts the same bytes on both clouds, served anonymously with the right headers', async () => {
    const deploy = outlast(['deploy', '--config', configFile, '--json'], env);
    assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
    const report = JSON.parse(deploy.stdout);
    for (const origin of report.origins) assert.equal(origin.release, report.release, origin.id);

    // Cluster A's bucket is a container of the S3 user's account; staticweb needs its web-index,
    // which the S3 API cannot set: the step setup said to do by hand.
    const { token, storageUrl } = await swiftLogin(a);
    const post = await fetch(`${storageUrl}/${bucket}`, {
      method: 'POST',
      headers: {
        'x-auth-token': token,
        'x-container-meta-web-index': 'index.html',
        'x-container-meta-web-error': '.html',
      },
    });
    assert.ok(post.ok);

    const { config } = parseConfig(readFileSync(configFile, 'utf8'), configFile, { env });
    const scan = await scanSite(config.site);
    assert.equal(scan.releaseId, report.release);
    for (const [base, name] of [
      [`${a.storageUrl}/${bucket}`, 'cloud A (S3 API)'],
      [`${b.storageUrl}/${container}`, 'cloud B (Swift API)'],
    ] as const) {
      for (const file of scan.files) {
        const url = `${base}/${file.key.split('/').map(encodeURIComponent).join('/')}`;
        const response = await fetch(url);
        assert.equal(response.status, 200, `${name} ${file.key}`);
        assert.deepEqual(
          Buffer.from(await response.arrayBuffer()),
          readFileSync(file.path),
          `${name} ${file.key}`,
        );
        assert.equal(response.headers.get('content-type'), file.headers.contentType, `${name} ${file.key}`);
        assert.equal(
          response.headers.get('cache-control'),
          file.headers.cacheControl ?? null,
          `${name} ${file.key}`,
        );
      }
      const beacon = await (await fetch(`${base}/.well-known/outlast/release.json`)).json();
      assert.equal((beacon as { release: string }).release, report.release, `${name} beacon`);
      const index = await fetch(`${base}/`);
      assert.equal(index.status, 200, `${name} index`);
      assert.match(await index.text(), /Harbor Coffee Roasters/);
    }
    // Swift's staticweb serves the error page from 404<errorDocument>, which the deploy adds.
    const missing = await fetch(`${b.storageUrl}/${container}/no-such-page`);
    assert.equal(missing.status, 404);
    assert.match(await missing.text(), /We couldn't find that page/);
  });

  test('a second deploy finds both clouds on the release and writes nothing', () => {
    const again = JSON.parse(outlast(['deploy', '--config', configFile, '--json'], env).stdout);
    for (const origin of again.origins) {
      assert.equal(origin.uploaded, 0, origin.id);
      assert.ok(origin.requests <= 2, `${origin.id}: ${origin.requests} requests`);
    }
  });

  test('wrong credentials, a missing bucket and a dead endpoint each give one clear error naming the origin', () => {
    const cases = [
      {
        file: writeConfig({ s3Secret: 'wrong-secret-value' }),
        expect: /cloud-a.*(signature|secret|denied)/i,
      },
      { file: writeConfig({ bucket: 'no-such-bucket-here' }), expect: /cloud-a.*no-such-bucket-here/i },
      {
        file: writeConfig({ s3Endpoint: 'http://127.0.0.1:9' }),
        expect: /cloud-a.*(unreachable|refused|connect)/i,
      },
    ];
    for (const { file, expect } of cases) {
      const result = outlast(['deploy', '--config', file], env);
      assert.equal(result.code, 1, result.stdout + result.stderr);
      const line = result.stdout.split('\n').find((l) => l.startsWith('cloud-a'));
      assert.ok(line, result.stdout);
      assert.match(line, expect);
      assert.doesNotMatch(result.stdout + result.stderr, /wrong-secret-value/);
      assert.doesNotMatch(result.stdout + result.stderr, /at .*\.ts:\d+/, 'no stack trace');
      // The other cloud is untouched by cloud A's trouble.
      assert.match(result.stdout, /cloud-b\s+already on/);
    }
  });
});
