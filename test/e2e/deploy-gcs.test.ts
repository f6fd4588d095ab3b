/**
 * `outlast setup` and `outlast deploy` (the CLI from dist/) of the odd-names site to a gcs origin
 * on the JSON API stand-in (test/standins/gcs.ts), the service account's private key reaching the
 * config through `${VAR}`. Every deployed key is then read back without a token through the
 * stand-in's public URL (`/<bucket>/<key>`, served once setup granted allUsers objectViewer) and
 * must match the local file byte for byte, with its headers; a second deploy writes nothing.
 *
 * The CLI runs as a child process (spawn, not spawnSync: the stand-in answers from this process).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { scanSite } from '../../src/site/scan.ts';
import { ODD_NAMES, writeSite } from '../helpers/site.ts';
import { GcsStandIn } from '../standins/gcs.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const EMAIL = 'deployer@outlast-e2e.iam.gserviceaccount.com';

function outlast(
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], { env: { ...process.env, CI: '1', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('deploy to a gcs origin on the JSON API stand-in', () => {
  const server = new GcsStandIn();
  const dir = mkdtempSync(join(tmpdir(), 'outlast-deploy-gcs-'));
  const siteDir = join(dir, 'site');
  const bucket = `site-${randomBytes(4).toString('hex')}`;
  const configFile = join(dir, 'outlast.yaml');
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  // The key reaches the config through the environment, as users are told to do it.
  const env = { TEST_GCS_KEY: keys.privateKey };
  const keyLine = keys.privateKey.split('\n')[1]!;

  before(async () => {
    await server.start();
    server.addAccount(EMAIL, keys.publicKey);
    const files = Object.fromEntries(
      ODD_NAMES.map((key) => [key, `${key}: ${randomBytes(8).toString('hex')}\n`]),
    );
    files['assets/blob.bin'] = randomBytes(70_000) as unknown as string;
    writeSite(siteDir, files);
    writeFileSync(
      configFile,
      stringify({
        site: {
          dir: siteDir,
          hostname: 'www.example.test',
          errorDocument: '404.html',
          headers: [{ match: '**/*.html', cacheControl: 'public, max-age=60' }],
        },
        origins: [
          {
            id: 'gcs',
            storage: {
              type: 'gcs',
              bucket,
              projectId: 'outlast-e2e',
              apiEndpoint: server.baseUrl,
              // biome-ignore lint/suspicious/noTemplateCurlyInString: the config's ${VAR}, not a template
              credentials: { client_email: EMAIL, private_key: '${TEST_GCS_KEY}' },
            },
          },
        ],
        deploy: { attempts: 2 },
      }),
    );
  });

  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('setup --create makes a public website bucket; a second setup says already', async () => {
    const setup = await outlast(['setup', '--config', configFile, '--create'], env);
    assert.equal(setup.code, 0, setup.stdout + setup.stderr);
    assert.match(setup.stdout, /done\s+create bucket/);
    assert.match(setup.stdout, /done\s+public read/);
    const made = server.buckets.get(bucket);
    assert.deepEqual(made?.config.website, { mainPageSuffix: 'index.html', notFoundPage: '404.html' });
    const again = await outlast(['setup', '--config', configFile], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /already ok\s+create bucket/);
    assert.doesNotMatch(again.stdout, /\bdone\b/);
    for (const said of [setup.stdout, setup.stderr, again.stdout, again.stderr]) {
      assert.ok(!said.includes(keyLine), 'never the private key');
    }
  });

  test('deploy puts every file, read back without a token byte for byte with its headers', async () => {
    const deploy = await outlast(['deploy', '--config', configFile, '--json'], env);
    assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
    assert.ok(!(deploy.stdout + deploy.stderr).includes(keyLine), 'never the private key');
    const report = JSON.parse(deploy.stdout) as {
      release: string;
      origins: Array<{ id: string; release: string }>;
    };
    assert.equal(report.origins[0]?.release, report.release);

    const { config } = parseConfig(readFileSync(configFile, 'utf8'), configFile, { env });
    const scan = await scanSite(config.site);
    assert.equal(scan.releaseId, report.release);
    assert.equal(scan.files.length, ODD_NAMES.length + 1);
    const base = `${server.baseUrl}/${bucket}`;
    for (const file of scan.files) {
      const response = await fetch(`${base}/${file.key.split('/').map(encodeURIComponent).join('/')}`);
      assert.equal(response.status, 200, file.key);
      assert.deepEqual(Buffer.from(await response.arrayBuffer()), readFileSync(file.path), file.key);
      assert.equal(response.headers.get('content-type'), file.headers.contentType, file.key);
      assert.equal(response.headers.get('cache-control'), file.headers.cacheControl ?? null, file.key);
    }
    const beacon = (await (await fetch(`${base}/.well-known/outlast/release.json`)).json()) as {
      release: string;
    };
    assert.equal(beacon.release, report.release);
    assert.deepEqual(server.violations, []);
  });

  test('a second deploy finds the origin on the release and writes nothing', async () => {
    const uploads = server.uploads.length;
    const again = await outlast(['deploy', '--config', configFile, '--json'], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const report = JSON.parse(again.stdout) as { origins: Array<{ id: string; uploaded: number }> };
    for (const origin of report.origins) assert.equal(origin.uploaded, 0, origin.id);
    assert.equal(server.uploads.length, uploads, 'no upload reached the stand-in');
  });
});
