/**
 * The start-up benchmark: how long outlast's commands take when there is little or nothing to do,
 * against the peers in the same run on the same site and the same Swift cluster.
 *
 *   npm run bench:startup -- [--files 10000] [--rounds 7] [--out bench/out] [--quiet-wait 120]
 *
 * It builds dist/ first (what `bin/outlast.js` runs), generates the site (bench/deploy/site.ts),
 * starts one Swift cluster on 127.0.0.2, deploys the site once, untimed, to a folder (fs), to the
 * cluster's S3 API and native API, and syncs it once with `aws s3 sync`; then, `--rounds` times and
 * interleaved so that a disturbance hits every command alike, it times: node's own start-up,
 * `outlast --version` and `--help`, `outlast plan` against the fs origin, the no-op
 * `outlast deploy` to each origin, `aws --version` and the no-op `aws s3 sync`. A report (median,
 * min, max of wall time; median CPU; peak RSS) goes to OUT/startup-<time>.md and startup-latest.md.
 * A benchmark, not a test: nothing here asserts a timing.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { type SwiftCluster, startSwiftClusterOnFreePort } from '../../test/servers/swift.ts';
import { ensurePackages } from '../deploy/install.ts';
import { loadAverages, type Measurement, measure, waitForQuiet } from '../deploy/measure.ts';
import { writeSite } from '../deploy/site.ts';
import { createContainer, serverPids } from '../deploy/swift-api.ts';
import { type BenchContext, clientEnv } from '../deploy/target.ts';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const BIN = join(REPO, 'bin', 'outlast.js');
const AWS = '/usr/bin/aws';
/** `${NAME}`: how the configs refer to a secret in the environment. */
const envRef = (name: string): string => `\${${name}}`;

const { values } = parseArgs({
  options: {
    files: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '7' },
    out: { type: 'string', default: 'bench/out' },
    'quiet-wait': { type: 'string', default: '120' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (values.help) {
  process.stdout.write(
    'npm run bench:startup -- [--files 10000] [--rounds 7] [--out bench/out] [--quiet-wait 120]\n',
  );
  process.exit(0);
}
const files = Number(values.files);
const rounds = Number(values.rounds);
const quietWait = Number(values['quiet-wait']);
if (!(files > 0) || !(rounds > 0) || !(quietWait >= 0)) {
  process.stderr.write('bad arguments: --files, --rounds and --quiet-wait take numbers\n');
  process.exit(2);
}

const log = (line: string) => process.stderr.write(`[bench/startup] ${line}\n`);
const scratch = mkdtempSync(join(tmpdir(), 'outlast-bench-startup-'));
let cluster: SwiftCluster | undefined;
async function cleanUp(): Promise<void> {
  await cluster?.stop();
  rmSync(scratch, { recursive: true, force: true });
}
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    log(`${signal}: stopping`);
    void cleanUp().finally(() => process.exit(130));
  });
}

interface Command {
  id: string;
  what: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** Peers and outlast's no-op are compared in the ratios. */
  group: 'floor' | 'outlast' | 'peer';
}

/** Runs a command untimed and fails the benchmark loudly when it fails. */
function runOrDie(label: string, command: string, args: string[], env: NodeJS.ProcessEnv): void {
  const result = spawnSync(command, args, { env, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (result.status !== 0) {
    throw new Error(`${label} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
}

async function main(): Promise<void> {
  ensurePackages(true, log);
  log('building dist/ (npm run build)');
  runOrDie('npm run build', process.execPath, [join(REPO, 'scripts', 'build.mjs')], process.env);

  log(`generating ${files} files in ${scratch}/site`);
  const site = writeSite(join(scratch, 'site'), files);
  log('starting a Swift cluster on 127.0.0.2');
  cluster = await startSwiftClusterOnFreePort('127.0.0.2');
  const a = cluster;
  const ctx: BenchContext = { repo: REPO, underTest: REPO, site, scratch, clusters: { a, b: a } };

  const fsDir = join(scratch, 'fs-origin');
  mkdirSync(fsDir);
  for (const name of ['outlast-s3', 'outlast-swift', 'aws-sync']) await createContainer(a, name);
  const secrets = {
    BENCH_S3_ACCESS_KEY_ID: a.s3AccessKeyId,
    BENCH_S3_SECRET_ACCESS_KEY: a.s3SecretAccessKey,
    BENCH_SWIFT_KEY: a.key,
  };
  const outlastEnv = { ...clientEnv(ctx, secrets), AWS_CA_BUNDLE: '' };
  const configOf = (name: string, storage: Record<string, unknown>): string => {
    const file = join(scratch, `${name}.yaml`);
    const config = {
      site: { dir: site.dir, hostname: 'bench.example.com' },
      origins: [{ id: name, storage }],
      watch: { stateDir: join(scratch, `state-${name}`) },
    };
    writeFileSync(file, stringify(config));
    return file;
  };
  const configs = {
    fs: configOf('fs', { type: 'fs', path: fsDir }),
    s3: configOf('s3', {
      type: 's3',
      bucket: 'outlast-s3',
      region: a.s3Region,
      endpoint: a.s3Endpoint,
      forcePathStyle: true,
      credentials: {
        accessKeyId: envRef('BENCH_S3_ACCESS_KEY_ID'),
        secretAccessKey: envRef('BENCH_S3_SECRET_ACCESS_KEY'),
      },
    }),
    swift: configOf('swift', {
      type: 'swift',
      container: 'outlast-swift',
      auth: { type: 'tempauth', url: a.authUrl, user: a.user, key: envRef('BENCH_SWIFT_KEY') },
    }),
  };
  const awsEnv = clientEnv(ctx, {
    AWS_ACCESS_KEY_ID: a.s3AccessKeyId,
    AWS_SECRET_ACCESS_KEY: a.s3SecretAccessKey,
    AWS_DEFAULT_REGION: a.s3Region,
  });
  const awsSync = [
    '--endpoint-url',
    a.s3Endpoint,
    's3',
    'sync',
    site.dir,
    's3://aws-sync',
    '--only-show-errors',
  ];

  for (const [name, config] of Object.entries(configs)) {
    log(`cold deploy to ${name} (untimed)`);
    runOrDie(`outlast deploy (${name})`, process.execPath, [BIN, 'deploy', '--config', config], outlastEnv);
  }
  log('cold aws s3 sync (untimed)');
  runOrDie('aws s3 sync', AWS, awsSync, awsEnv);

  const outlast = (id: string, what: string, args: string[]): Command => ({
    id,
    what,
    command: process.execPath,
    args: [BIN, ...args],
    env: outlastEnv,
    group: 'outlast',
  });
  const commands: Command[] = [
    {
      id: 'node',
      what: '`node -e 0`: Node.js itself',
      command: process.execPath,
      args: ['-e', '0'],
      env: outlastEnv,
      group: 'floor',
    },
    outlast('version', '`outlast --version`', ['--version']),
    outlast('help', '`outlast --help`', ['--help']),
    outlast('plan-fs', `\`outlast plan\`, ${files} files, fs origin`, ['plan', '--config', configs.fs]),
    outlast('noop-fs', 'no-op `outlast deploy` → fs', ['deploy', '--config', configs.fs]),
    outlast('noop-s3', 'no-op `outlast deploy` → Swift S3 API', ['deploy', '--config', configs.s3]),
    outlast('noop-swift', 'no-op `outlast deploy` → Swift native API', ['deploy', '--config', configs.swift]),
    {
      id: 'aws-version',
      what: '`aws --version` (Debian awscli v2)',
      command: AWS,
      args: ['--version'],
      env: awsEnv,
      group: 'peer',
    },
    {
      id: 'aws-noop',
      what: 'no-op `aws s3 sync` → Swift S3 API',
      command: AWS,
      args: awsSync,
      env: awsEnv,
      group: 'peer',
    },
  ];

  const results = new Map<string, Measurement[]>(commands.map((command) => [command.id, []]));
  for (let round = 1; round <= rounds; round++) {
    const quiet = await waitForQuiet(
      0.15,
      quietWait,
      () => serverPids(a),
      (load) => log(`waiting for quiet (other work uses ${load.toFixed(2)} cores)`),
    );
    log(`round ${round}/${rounds} (load ${loadAverages()}${quiet.quiet ? '' : ', not quiet'})`);
    for (const command of commands) {
      const measurement = await measure({
        command: command.command,
        args: command.args,
        env: command.env,
        scratch,
        serverPids: () => serverPids(a),
        timeoutSeconds: 300,
      });
      if (measurement.exitCode !== 0) {
        throw new Error(`${command.id} failed (exit ${measurement.exitCode}):\n${measurement.stderr}`);
      }
      if (command.id.startsWith('noop-') && !/nothing to do/.test(measurement.stdout)) {
        throw new Error(`${command.id} was not a no-op:\n${measurement.stdout}`);
      }
      results.get(command.id)!.push(measurement);
    }
  }

  const report = markdown(commands, results);
  const out = resolve(REPO, values.out);
  mkdirSync(out, { recursive: true });
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, 'Z');
  for (const name of [`startup-${stamp}.md`, 'startup-latest.md']) writeFileSync(join(out, name), report);
  process.stdout.write(report);
  log(`report: ${relative(REPO, join(out, `startup-${stamp}.md`))}`);
}

const median = (values: number[]): number => {
  const sorted = [...values].sort((x, y) => x - y);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const ms = (seconds: number): string => `${Math.round(seconds * 1000)} ms`;

function markdown(commands: Command[], results: Map<string, Measurement[]>): string {
  const wall = (id: string) => median(results.get(id)!.map((m) => m.wallSeconds));
  const lines = [
    `# bench/startup, ${new Date().toISOString()}`,
    '',
    `${files} files (bench/deploy/site.ts), ${rounds} rounds interleaved, one Swift cluster (tmpfs, one replica), ` +
      `${cpus().length} cores, Node.js ${process.version}. Command: \`npm run bench:startup -- ${process.argv.slice(2).join(' ')}\`.`,
    '',
    '| command | wall median | min | max | CPU median | peak RSS |',
    '|---|---|---|---|---|---|',
  ];
  for (const command of commands) {
    const runs = results.get(command.id)!;
    const walls = runs.map((m) => m.wallSeconds);
    lines.push(
      `| ${command.what} | **${ms(median(walls))}** | ${ms(Math.min(...walls))} | ${ms(Math.max(...walls))} | ` +
        `${ms(median(runs.map((m) => m.cpuSeconds)))} | ${Math.round(Math.max(...runs.map((m) => m.peakRssMb)))} MB |`,
    );
  }
  const peer = wall('aws-noop');
  lines.push('', '| no-op deploy ÷ no-op `aws s3 sync` (medians) | ratio |', '|---|---|');
  for (const id of ['noop-fs', 'noop-s3', 'noop-swift']) {
    lines.push(`| ${commands.find((c) => c.id === id)!.what} | **${(wall(id) / peer).toFixed(2)}×** |`);
  }
  lines.push(
    '',
    `\`outlast --version\` less Node.js's own start-up: ${ms(wall('version') - wall('node'))}.`,
    '',
  );
  return lines.join('\n');
}

try {
  await main();
} catch (error) {
  log(error instanceof Error ? error.message : String(error));
  process.exitCode = 1;
} finally {
  await cleanUp();
}
