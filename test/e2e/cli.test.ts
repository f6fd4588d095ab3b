/**
 * The `outlast` command as a user runs it: exit codes, what it prints, and that bad input writes
 * nothing.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { removeSiteFile, setupFsDeploy, tempDir, writeSite } from '../helpers/site.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));

function outlast(args: string[], cwd?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    env: { ...process.env, CI: '1' },
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('outlast CLI', () => {
  const files = Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`page${i}.html`, `<p>${i}</p>`]));
  const setup = setupFsDeploy({ files: { ...files, 'index.html': '<h1>hi</h1>' } });
  after(() => setup.cleanup());
  const config = ['--config', setup.configFile];

  test('--help names the commands; no command shows help; an unknown command is a usage error', () => {
    const help = outlast(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['plan', 'deploy', 'rollback', 'status', 'serve', 'demo']) {
      assert.match(help.stdout, new RegExp(`\\b${command}\\b`));
    }
    const unknown = outlast(['deplo']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Did you mean deploy\?/);
  });

  test('a bad config is exit 2 with file, line and path, and nothing is written', () => {
    const dir = tempDir('cli-config');
    writeFileSync(
      join(dir, 'outlast.yaml'),
      'site:\n  dir: ./public\n  hostname: www.example.com\norigins:\n  - id: a\n    storage: { type: fs, pth: ./origin }\n',
    );
    const result = outlast(['deploy'], dir);
    assert.equal(result.code, 2);
    assert.match(
      result.stderr,
      /outlast\.yaml:6:26 origins\[0\]\.storage: unknown key "pth" \(did you mean "path"\?\)/,
    );
    assert.doesNotMatch(result.stderr, /at .*\.ts:\d+/, 'no stack trace');
    assert.equal(existsSync(join(dir, 'origin')), false);
  });

  test('a missing config file is exit 2 and says how to choose one', () => {
    const result = outlast(['plan'], tempDir('cli-empty'));
    assert.equal(result.code, 2);
    assert.match(result.stderr, /config file outlast\.yaml not found.*--config/s);
  });

  test('a site with a symlink leading outside is exit 2 before anything is written', () => {
    const bad = setupFsDeploy({ files: { 'index.html': 'x' } });
    try {
      symlinkSync('/etc/hostname', join(bad.siteDir, 'leak.txt'));
      const result = outlast(['deploy', '--config', bad.configFile]);
      assert.equal(result.code, 2);
      assert.match(result.stderr, /leak\.txt/);
      for (const origin of bad.origins) assert.equal(existsSync(origin), false);
    } finally {
      bad.cleanup();
    }
  });

  test('deploy --json reports each origin; a second deploy is a no-op of at most 2 requests', () => {
    const first = outlast(['deploy', ...config, '--json']);
    assert.equal(first.code, 0, first.stderr);
    const report = JSON.parse(first.stdout);
    assert.equal(report.origins.length, 2);
    for (const origin of report.origins) {
      assert.equal(origin.ok, true);
      assert.equal(origin.release, report.release);
      assert.equal(origin.uploaded, 13);
      assert.ok(origin.requests > 13);
    }
    const again = JSON.parse(outlast(['deploy', ...config, '--json']).stdout);
    for (const origin of again.origins) {
      assert.equal(origin.uploaded, 0);
      assert.equal(origin.unchanged, 13);
      assert.ok(origin.requests <= 2, `${origin.requests} requests`);
    }
  });

  test('plan shows the change and writes nothing; status reads the beacons', () => {
    writeSite(setup.siteDir, { 'index.html': '<h1>changed</h1>' });
    const before = readFileSync(join(setup.origins[0]!, 'index.html'), 'utf8');
    const plan = outlast(['plan', ...config]);
    assert.equal(plan.code, 0);
    assert.match(plan.stdout, /changed\s+index\.html/);
    assert.equal(readFileSync(join(setup.origins[0]!, 'index.html'), 'utf8'), before);
    const status = JSON.parse(outlast(['status', ...config, '--json']).stdout);
    assert.equal(status.origins[0].beacon.files, 13);
  });

  test('the delete guard refuses with exit 3 and writes nothing; --force applies', () => {
    outlast(['deploy', ...config]);
    for (let i = 0; i < 12; i++) removeSiteFile(setup.siteDir, `page${i}.html`);
    // keepReleases is 3: deploy until the pages fall out of every kept release.
    let result = outlast(['deploy', ...config]);
    for (let n = 0; n < 3 && result.code === 0; n++) {
      writeSite(setup.siteDir, { 'index.html': `<h1>v${n}</h1>` });
      result = outlast(['deploy', ...config]);
    }
    assert.equal(result.code, 3, result.stdout + result.stderr);
    assert.match(result.stdout, /refused/);
    assert.equal(existsSync(join(setup.origins[0]!, 'page0.html')), true);
    const forced = outlast(['deploy', ...config, '--force', '--json']);
    assert.equal(forced.code, 0);
    assert.equal(JSON.parse(forced.stdout).origins[0].deleted, 12);
    assert.equal(existsSync(join(setup.origins[0]!, 'page0.html')), false);
  });

  test('rollback --to a malformed id is exit 2; an origin that cannot be written is exit 1', () => {
    assert.equal(outlast(['rollback', ...config, '--to', 'nope']).code, 2);
    const broken = setupFsDeploy({ files: { 'index.html': 'x' } });
    try {
      mkdirSync(broken.origins[0]!);
      writeFileSync(join(broken.origins[0]!, 'index.html'), 'x');
      mkdirSync(join(broken.origins[0]!, '.outlast-fs'));
      writeFileSync(join(broken.origins[0]!, '.outlast-fs', 'tmp'), 'a file where outlast needs a folder');
      const result = outlast(['deploy', '--config', broken.configFile]);
      assert.equal(result.code, 1, result.stdout);
      assert.match(result.stdout, /o0\s+FAILED/);
      assert.match(result.stdout, /o1\s+\(none\) → r/);
    } finally {
      broken.cleanup();
    }
  });
});
