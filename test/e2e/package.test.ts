/**
 * outlast as a user installs it: `npm pack` makes the tarball (of the dist/ that `npm test` has
 * just built), `npm install -g` puts it in an empty prefix with production dependencies only (from
 * the npm registry, or npm's cache), and from there, in a folder far from this repository and with
 * no dev dependency on the PATH, it prints its help, deploys a small site to a folder origin, and
 * runs the demo's drill.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { delimiter, join, sep } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEMO_HOSTS, demoArgs, saysPortTaken, startOnFreePorts } from '../helpers/ports.ts';
import { tempDir } from '../helpers/site.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  name: string;
  version: string;
  devDependencies: Record<string, string>;
};

/**
 * The environment of a user's shell: none of `npm test`'s own npm_* settings, and a PATH without
 * this repository's node_modules/.bin (where tsx, tsc and biome live).
 */
function userEnv(extraPath: string[] = []): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^npm_/i.test(name) && name !== 'NODE_OPTIONS' && name !== 'INIT_CWD') env[name] = value;
  }
  const path = (process.env.PATH ?? '').split(delimiter).filter((dir) => !dir.startsWith(ROOT));
  env.PATH = [...extraPath, ...path].join(delimiter);
  return env;
}

function run(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  const result = spawnSync(command, args, { ...options, encoding: 'utf8', maxBuffer: 32 << 20 });
  return { code: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

/** Runs a command to its end without blocking the test runner (the drill takes seconds). */
function runAsync(command: string, args: string[], options: { cwd: string; env: NodeJS.ProcessEnv }) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('the npm package, installed from its tarball', () => {
  const work = tempDir('package');
  const prefix = join(work, 'prefix');
  const home = join(work, 'user');
  mkdirSync(home);
  let tarball = '';
  let packedFiles: string[] = [];
  let installed = '';
  let outlastBin = '';
  const env = () => userEnv([join(prefix, 'bin')]);

  before(async () => {
    // --ignore-scripts: no `prepare` (a rebuild of dist/ under the feet of the other test files
    // that run it right now); `npm test` built it a moment ago.
    const packed = run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: ROOT,
      env: userEnv(),
    });
    assert.equal(packed.code, 0, packed.stderr);
    const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    tarball = join(work, info.filename);
    packedFiles = info.files.map((file) => file.path);
    // Dependencies from npm's cache when it has them, else from the registry.
    const install = await runAsync(
      'npm',
      [
        'install',
        '--global',
        '--prefix',
        prefix,
        '--omit=dev',
        '--prefer-offline',
        '--no-audit',
        '--no-fund',
        tarball,
      ],
      { cwd: work, env: env() },
    );
    assert.equal(install.code, 0, `npm install of the tarball failed:\n${install.stdout}\n${install.stderr}`);
    installed = join(prefix, 'lib', 'node_modules', pkg.name);
    outlastBin = join(prefix, 'bin', 'outlast');
  });

  test('the tarball holds the compiled code, the demo site and the README, not the sources or tests', () => {
    assert.match(tarball, new RegExp(`${pkg.name}-${pkg.version.replaceAll('.', '\\.')}\\.tgz$`));
    for (const file of [
      'package.json',
      'README.md',
      'bin/outlast.js',
      'dist/cli/main.js',
      'examples/site/index.html',
    ]) {
      assert.ok(packedFiles.includes(file), `${file} is in the tarball`);
    }
    assert.ok(
      packedFiles.some((file) => file.startsWith('dist/') && file.endsWith('.js.map')),
      'source maps',
    );
    const stray = packedFiles.filter(
      (file) => /^(src|test|bench|scripts|\.ci)\//.test(file) || file.endsWith('.ts'),
    );
    assert.deepEqual(stray, [], 'no sources, tests, benchmarks or scripts');
  });

  test('the install has the production dependencies and no dev-only dependency', () => {
    assert.ok(existsSync(join(installed, 'dist', 'cli', 'main.js')));
    assert.equal(existsSync(join(installed, 'src')), false, 'no src/ installed');
    const modules = join(installed, 'node_modules');
    assert.ok(existsSync(join(modules, 'commander')), 'a production dependency is installed');
    // A dev dependency that a production one also needs (protobufjs, under etcd3, needs
    // @types/node) is rightly installed: the lockfile marks the dev-only ones `dev: true`.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    const devOnly = Object.keys(pkg.devDependencies).filter(
      (dev) => lock.packages[`node_modules/${dev}`]?.dev === true,
    );
    assert.ok(
      devOnly.includes('typescript') && devOnly.includes('tsx'),
      'the lockfile marks dev-only packages',
    );
    for (const dev of devOnly) {
      assert.equal(
        existsSync(join(modules, ...dev.split('/'))),
        false,
        `${dev} (a dev dependency) is not installed`,
      );
      assert.equal(existsSync(join(prefix, 'lib', 'node_modules', ...dev.split('/'))), false, dev);
    }
  });

  test('`outlast --help` and `--version` run from the install, far from the repository', () => {
    const help = run(outlastBin, ['--help'], { cwd: home, env: env() });
    assert.equal(help.code, 0, help.stderr);
    for (const command of ['init', 'plan', 'deploy', 'rollback', 'status', 'watch', 'demo']) {
      assert.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `--help lists ${command}`);
    }
    const version = run(outlastBin, ['--version'], { cwd: home, env: env() });
    assert.equal(version.stdout.trim(), pkg.version);
    assert.ok(
      !readFileSync(join(installed, 'bin', 'outlast.js'), 'utf8').includes('tsx'),
      'the bin runs dist/',
    );
  });

  test('a deploy of a small site to a folder origin, then status', () => {
    const project = join(work, 'project');
    mkdirSync(join(project, 'public', 'css'), { recursive: true });
    writeFileSync(join(project, 'public', 'index.html'), '<!doctype html><h1>installed</h1>\n');
    writeFileSync(join(project, 'public', 'css', 'site.css'), 'h1 { color: teal }\n');
    writeFileSync(
      join(project, 'outlast.yaml'),
      'site:\n  dir: public\n  hostname: www.example.com\norigins:\n  - id: local\n    storage: { type: fs, path: origin }\n',
    );
    const deploy = run(outlastBin, ['deploy', '--json'], { cwd: project, env: env() });
    assert.equal(deploy.code, 0, deploy.stderr);
    const result = JSON.parse(deploy.stdout) as { origins: { id: string; ok: boolean; uploaded: number }[] };
    assert.deepEqual(
      result.origins.map(({ id, ok, uploaded }) => ({ id, ok, uploaded })),
      [{ id: 'local', ok: true, uploaded: 2 }],
    );
    assert.equal(readFileSync(join(project, 'origin', 'css', 'site.css'), 'utf8'), 'h1 { color: teal }\n');
    const beacon = JSON.parse(
      readFileSync(join(project, 'origin', '.well-known', 'outlast', 'release.json'), 'utf8'),
    );
    assert.match(beacon.release, /^r[0-9a-f]{20}$/);
    assert.equal(beacon.writer, `outlast/${pkg.version}`);
    const status = run(outlastBin, ['status'], { cwd: project, env: env() });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(beacon.release));
  });

  test('`outlast demo --drill` fails over and back from the install', async () => {
    const demoDir = join(work, 'demo');
    const drill = await startOnFreePorts(
      DEMO_HOSTS,
      (ports) => runAsync(outlastBin, [...demoArgs(demoDir, ports), '--drill'], { cwd: home, env: env() }),
      (result) => result.code !== 0 && saysPortTaken(result.stderr),
    );
    assert.equal(drill.code, 0, `${drill.stdout}\n${drill.stderr}`);
    assert.match(drill.stdout, /failover: www\.demo\.test answered local-b [\d.]+ s after local-a stopped/);
    assert.match(
      drill.stdout,
      /failback: www\.demo\.test answered local-a again [\d.]+ s after it came back/,
    );
    assert.match(drill.stdout, /DNS: +\d+ queries, 0 unanswered/);
    // The demo's site came from the install, not from this repository.
    const origins = readdirSync(join(demoDir, 'origins'));
    assert.deepEqual(origins.sort(), ['a', 'b']);
    assert.ok(!drill.stdout.includes(`${ROOT}examples`) && !drill.stdout.includes(`${ROOT}${sep}examples`));
    assert.match(
      drill.stdout,
      new RegExp(`publishing ${installed.replaceAll('/', '\\/')}\\/examples\\/site`),
    );
  });

  after(() => rmSync(work, { recursive: true, force: true }));
});
