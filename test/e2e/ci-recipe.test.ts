/**
 * The CI recipe users copy (examples/ci/github-actions.yml), run as GitHub Actions would run it:
 * each `run:` step's text through `bash -e`, in a site project, with the job's `env` filled from
 * "secrets" (here the real Swift clusters' keys: cluster A through its S3 API, credentials from
 * the AWS SDK's environment chain; cluster B through the Swift API, its key as ${SWIFT_API_KEY}).
 * `npx outlast` finds outlast in the project's node_modules/.bin, as it would after
 * `npm install --save-dev outlast`.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { containerObjectCount, type SwiftCluster, swiftClustersForTests } from '../servers/swift.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const RECIPE = join(ROOT, 'examples', 'ci', 'github-actions.yml');

interface Step {
  name?: string;
  run?: string;
  uses?: string;
  if?: string;
  with?: Record<string, unknown>;
}
interface Workflow {
  on: { push?: { branches?: string[] } };
  concurrency?: { group: string; 'cancel-in-progress': boolean };
  jobs: Record<string, { env?: Record<string, string>; steps: Step[] }>;
}

const workflow = parse(readFileSync(RECIPE, 'utf8')) as Workflow;
const job = Object.values(workflow.jobs)[0]!;
const runSteps = job.steps.filter((step) => step.run !== undefined).map((step) => step.run!.trim());

/** Runs one step's script as Actions does (`bash -e {0}`), without blocking the test runner. */
function runStep(script: string, cwd: string, env: NodeJS.ProcessEnv) {
  return new Promise<{ code: number | null; output: string }>((resolve) => {
    const child = spawn('bash', ['-e', '-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('close', (code) => resolve({ code, output }));
  });
}

describe('the CI recipe (examples/ci/github-actions.yml)', () => {
  let a: SwiftCluster;
  let b: SwiftCluster;
  const work = mkdtempSync(join(tmpdir(), 'outlast-ci-recipe-'));
  const bucket = `ci-${randomBytes(4).toString('hex')}`;
  const container = `ci-${randomBytes(4).toString('hex')}`;

  /** A site project as the recipe expects one: a build script, outlast in node_modules/.bin. */
  function project(name: string): string {
    const dir = join(work, name);
    mkdirSync(join(dir, 'src'), { recursive: true });
    mkdirSync(join(dir, 'node_modules', '.bin'), { recursive: true });
    symlinkSync(join(ROOT, 'bin', 'outlast.js'), join(dir, 'node_modules', '.bin', 'outlast'));
    writeFileSync(join(dir, 'src', 'index.html'), '<!doctype html><h1>built by CI</h1>\n');
    writeFileSync(join(dir, 'src', 'about.html'), '<!doctype html><p>about</p>\n');
    writeFileSync(
      join(dir, 'package.json'),
      JSON.stringify({
        name: `site-${name}`,
        private: true,
        scripts: { build: 'mkdir -p public && cp src/*.html public/' },
      }),
    );
    writeFileSync(
      join(dir, 'outlast.yaml'),
      stringify({
        site: { dir: 'public', hostname: 'www.example.test' },
        origins: [
          {
            id: 'aws',
            storage: { type: 's3', bucket, endpoint: a.s3Endpoint, region: a.s3Region, forcePathStyle: true },
          },
          {
            id: 'cloudfiles',
            storage: {
              type: 'swift',
              container,
              // biome-ignore lint/suspicious/noTemplateCurlyInString: outlast's own ${VAR} reference
              auth: { type: 'tempauth', url: b.authUrl, user: b.user, key: '${SWIFT_API_KEY}' },
            },
          },
        ],
      }),
    );
    return dir;
  }

  /** The job's environment, its `${{ secrets.X }}` filled from `secrets`; no AWS config of this machine. */
  function jobEnv(secrets: Record<string, string>): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = {};
    for (const [name, value] of Object.entries(process.env)) {
      if (!/^(npm_|AWS_|OS_|ST_)/i.test(name)) env[name] = value;
    }
    env.AWS_CONFIG_FILE = join(work, 'no-aws-config');
    env.AWS_SHARED_CREDENTIALS_FILE = join(work, 'no-aws-credentials');
    env.AWS_REGION = a.s3Region;
    for (const [name, value] of Object.entries(job.env ?? {})) {
      const secret = /^\$\{\{\s*secrets\.(\w+)\s*\}\}$/.exec(value)?.[1];
      assert.ok(secret, `${name} comes from a secret`);
      env[name] = secrets[secret] ?? '';
    }
    return env;
  }

  before(async () => {
    ({ a, b } = await swiftClustersForTests());
  });
  after(() => rmSync(work, { recursive: true, force: true }));

  test('on push to main: npm ci, the build, outlast check, outlast deploy --json, the report kept always', () => {
    assert.deepEqual(workflow.on.push?.branches, ['main']);
    assert.equal(workflow.concurrency?.['cancel-in-progress'], false, 'a running deploy is never cancelled');
    assert.deepEqual(runSteps, [
      'npm ci',
      'npm run build',
      'npx outlast check',
      'npx outlast deploy --json > outlast-deploy.json',
    ]);
    const keep = job.steps.at(-1)!;
    assert.match(keep.uses ?? '', /^actions\/upload-artifact@/);
    assert.equal(keep.if, 'always()');
    assert.equal(keep.with?.path, 'outlast-deploy.json');
    for (const value of Object.values(job.env ?? {})) assert.match(value, /^\$\{\{ secrets\.\w+ \}\}$/);
  });

  test('its steps deploy a site to two clouds with the credentials from the secrets', async () => {
    const dir = project('good');
    const env = jobEnv({
      AWS_ACCESS_KEY_ID: a.s3AccessKeyId,
      AWS_SECRET_ACCESS_KEY: a.s3SecretAccessKey,
      SWIFT_API_KEY: b.key,
    });
    const setup = await runStep('npx outlast setup --create', dir, env);
    assert.equal(setup.code, 0, setup.output);
    // `npm ci` installs the project's own dependencies; this project has none but outlast itself.
    for (const script of runSteps.filter((step) => step !== 'npm ci')) {
      const step = await runStep(script, dir, env);
      assert.equal(step.code, 0, `${script}:\n${step.output}`);
    }
    const report = JSON.parse(readFileSync(join(dir, 'outlast-deploy.json'), 'utf8')) as {
      origins: { id: string; ok: boolean; uploaded: number; release: string }[];
    };
    assert.deepEqual(
      report.origins.map(({ id, ok, uploaded }) => ({ id, ok, uploaded })),
      [
        { id: 'aws', ok: true, uploaded: 2 },
        { id: 'cloudfiles', ok: true, uploaded: 2 },
      ],
    );
    assert.equal(report.origins[0]!.release, report.origins[1]!.release);
    assert.ok((await containerObjectCount(b, container)) > 2, 'the pages, the manifest and the beacon');
  });

  test('with a wrong secret the check step fails, and the job stops before anything is written', async () => {
    const dir = project('bad');
    const fresh = `ci-${randomBytes(4).toString('hex')}`;
    writeFileSync(
      join(dir, 'outlast.yaml'),
      readFileSync(join(dir, 'outlast.yaml'), 'utf8').replace(container, fresh),
    );
    const env = jobEnv({
      AWS_ACCESS_KEY_ID: a.s3AccessKeyId,
      AWS_SECRET_ACCESS_KEY: 'not-the-secret',
      SWIFT_API_KEY: b.key,
    });
    const outcomes: { script: string; code: number | null; output: string }[] = [];
    for (const script of runSteps.filter((step) => step !== 'npm ci')) {
      const step = await runStep(script, dir, env);
      outcomes.push({ script, ...step });
      if (step.code !== 0) break; // Actions stops the job at the first failed step.
    }
    const failed = outcomes.at(-1)!;
    assert.equal(failed.script, 'npx outlast check');
    assert.equal(failed.code, 1, failed.output);
    assert.match(failed.output, /aws/);
    assert.doesNotMatch(failed.output, /not-the-secret/, 'the secret is never printed');
    assert.equal(existsSync(join(dir, 'outlast-deploy.json')), false);
    assert.equal(await containerObjectCount(b, fresh), 0, 'nothing was written to the other cloud either');
  });
});
