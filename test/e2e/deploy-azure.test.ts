/**
 * `outlast setup` and `outlast deploy` (the CLI from dist/) of the odd-names site to an azure
 * origin on Azurite: a container with public blob access, the account key reaching the config
 * through `${VAR}`. Every deployed key is then read anonymously through Azurite's public blob URL
 * and must match the local file byte for byte, with its content type; a second deploy writes
 * nothing. (Azurite does not serve the static website endpoint, so `$web`'s index and 404
 * documents are not checked here: see test/unit/storage-azure.test.ts for their settings.)
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
import { ODD_NAMES, writeSite } from '../helpers/site.ts';
import { AZURITE_ACCOUNT, AZURITE_KEY, type Azurite, startAzurite } from '../servers/azurite.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));

function outlast(args: string[], env: NodeJS.ProcessEnv) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    encoding: 'utf8',
    env: { ...process.env, CI: '1', ...env },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('deploy to an azure origin on Azurite', () => {
  let azurite: Azurite;
  const dir = mkdtempSync(join(tmpdir(), 'outlast-deploy-azure-'));
  const siteDir = join(dir, 'site');
  const container = `site-${randomBytes(4).toString('hex')}`;
  const configFile = join(dir, 'outlast.yaml');
  // The key reaches the config through the environment, as users are told to do it.
  const env = { TEST_AZURE_KEY: AZURITE_KEY };

  before(async () => {
    azurite = await startAzurite();
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
            id: 'azure',
            storage: {
              type: 'azure',
              container,
              account: AZURITE_ACCOUNT,
              accountKey: '${TEST_AZURE_KEY}',
              endpoint: azurite.endpoint,
            },
          },
        ],
        deploy: { attempts: 2 },
      }),
    );
  });

  after(async () => {
    await azurite?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('setup --create makes a container whose blobs anyone may read', () => {
    const setup = outlast(['setup', '--config', configFile, '--create'], env);
    assert.equal(setup.code, 0, setup.stdout + setup.stderr);
    assert.match(setup.stdout, /done\s+create container/);
    assert.match(setup.stdout, /UNSUPPORTED\s+website: .*\$web/);
    const again = outlast(['setup', '--config', configFile], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    assert.match(again.stdout, /already ok\s+create container/);
    assert.doesNotMatch(
      setup.stdout + setup.stderr + again.stdout + again.stderr,
      new RegExp(escapeRegExp(AZURITE_KEY)),
    );
  });

  test('deploy puts every file, read back anonymously byte for byte with its content type', async () => {
    const deploy = outlast(['deploy', '--config', configFile, '--json'], env);
    assert.equal(deploy.code, 0, deploy.stdout + deploy.stderr);
    assert.doesNotMatch(deploy.stdout + deploy.stderr, new RegExp(escapeRegExp(AZURITE_KEY)));
    const report = JSON.parse(deploy.stdout) as {
      release: string;
      origins: Array<{ id: string; release: string }>;
    };
    assert.equal(report.origins[0]?.release, report.release);

    const { config } = parseConfig(readFileSync(configFile, 'utf8'), configFile, { env });
    const scan = await scanSite(config.site);
    assert.equal(scan.releaseId, report.release);
    assert.equal(scan.files.length, ODD_NAMES.length + 1);
    const base = `${azurite.endpoint}/${container}`;
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
  });

  test('a second deploy finds the origin on the release and writes nothing', () => {
    const again = outlast(['deploy', '--config', configFile, '--json'], env);
    assert.equal(again.code, 0, again.stdout + again.stderr);
    const report = JSON.parse(again.stdout) as {
      origins: Array<{ id: string; uploaded: number; requests: number }>;
    };
    for (const origin of report.origins) {
      assert.equal(origin.uploaded, 0, origin.id);
      assert.ok(origin.requests <= 2, `${origin.id}: ${origin.requests} requests`);
    }
  });
});

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
