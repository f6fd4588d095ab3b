/**
 * The clients under test, each a command per scenario against a fresh origin: outlast to a folder,
 * to Swift (native API and S3 API) and to two clusters at once; the peers (`aws s3 sync`, `rclone
 * sync`, `swift upload`); and the bare-PUT limit. `prepare` makes a fresh origin for every attempt
 * (a repeated measurement starts from an empty one again).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { SwiftCluster } from '../../test/servers/swift.ts';
import type { Measurement } from './measure.ts';
import type { GeneratedSite } from './site.ts';
import { containerObjectCount, createContainer } from './swift-api.ts';

export type ScenarioName = 'cold' | 'noop' | 'changed';
export type Group = 'fs' | 'swift' | 's3' | 'peers';

export const SCENARIOS: Record<ScenarioName, string> = {
  cold: 'cold (empty origin)',
  noop: 'no-op (nothing changed)',
  changed: '1 % changed',
};

export interface BenchContext {
  repo: string;
  site: GeneratedSite;
  /** Configs, folder origins, rclone's empty config. */
  scratch: string;
  clusters: { a: SwiftCluster; b: SwiftCluster } | undefined;
}

export interface Invocation {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
}

/** What the client itself reports (only outlast and the bare-PUT client report anything). */
export interface ClientReport {
  requests?: number;
  requestCounts?: Record<string, number>;
  uploaded?: number;
  perOrigin?: unknown;
  error?: string;
}

export interface PreparedTarget {
  invocation(scenario: ScenarioName): Invocation;
  report?(measurement: Measurement): ClientReport;
  /** The clusters whose proxy logs and server CPU belong to this target. */
  clusters: SwiftCluster[];
  /** Objects in the origin(s) after a run: a check that the upload really happened. */
  objectCount?(): Promise<number>;
}

export interface Target {
  id: string;
  /** `--only` selects a target when one of its groups is listed. */
  groups: Group[];
  description: string;
  scenarios: ScenarioName[];
  needsClusters: boolean;
  prepare(ctx: BenchContext, attempt: number): Promise<PreparedTarget>;
}

const ALL: ScenarioName[] = ['cold', 'noop', 'changed'];

/** Environment variables the config's `${…}` take the secrets from. */
const S3_KEY_VAR = 'BENCH_S3_ACCESS_KEY_ID';
const S3_SECRET_VAR = 'BENCH_S3_SECRET_ACCESS_KEY';
const SWIFT_KEY_VAR = 'BENCH_SWIFT_KEY';

function clustersOf(ctx: BenchContext): { a: SwiftCluster; b: SwiftCluster } {
  if (!ctx.clusters) throw new Error('this target needs the Swift clusters');
  return ctx.clusters;
}

/**
 * The environment of every client: no shared AWS config or credentials of the machine's user, and
 * no AWS_CA_BUNDLE (rclone's S3 backend fails at once when it is set; the endpoints are plain http).
 */
function clientEnv(ctx: BenchContext, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.AWS_CA_BUNDLE;
  delete env.AWS_PROFILE;
  for (const name of Object.keys(env)) if (/^(RCLONE_|ST_|OS_)/.test(name)) delete env[name];
  return {
    ...env,
    AWS_CONFIG_FILE: join(ctx.scratch, 'no-aws-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(ctx.scratch, 'no-aws-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    NO_COLOR: '1',
    ...extra,
  };
}

// ---------------------------------------------------------------------------------------------
// outlast

type OriginSpec = { id: string; storage: Record<string, unknown> };

function s3Origin(id: string, cluster: SwiftCluster, bucket: string): OriginSpec {
  return {
    id,
    storage: {
      type: 's3',
      bucket,
      region: cluster.s3Region,
      endpoint: cluster.s3Endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: `\${${S3_KEY_VAR}}`, secretAccessKey: `\${${S3_SECRET_VAR}}` },
    },
  };
}

function swiftOrigin(id: string, cluster: SwiftCluster, container: string): OriginSpec {
  return {
    id,
    storage: {
      type: 'swift',
      container,
      auth: { type: 'tempauth', url: cluster.authUrl, user: cluster.user, key: `\${${SWIFT_KEY_VAR}}` },
    },
  };
}

async function outlastTarget(
  ctx: BenchContext,
  name: string,
  origins: OriginSpec[],
  clusters: SwiftCluster[],
  secrets: Record<string, string>,
  objectCount?: () => Promise<number>,
): Promise<PreparedTarget> {
  const configFile = join(ctx.scratch, `${name}.yaml`);
  const config = { site: { dir: ctx.site.dir, hostname: 'bench.example.com' }, origins };
  await writeFile(configFile, stringify(config));
  return {
    clusters,
    objectCount,
    invocation: () => ({
      command: process.execPath,
      args: [join(ctx.repo, 'bin', 'outlast.js'), 'deploy', '--config', configFile, '--json'],
      env: { ...clientEnv(ctx, secrets), AWS_CA_BUNDLE: process.env.AWS_CA_BUNDLE ?? '' },
    }),
    report: parseOutlast,
  };
}

interface OutlastOriginJson {
  id: string;
  ok: boolean;
  uploaded: number;
  deleted: number;
  unchanged: number;
  bytes: number;
  requests: number;
  requestCounts: Record<string, number>;
  error: { code: string; message: string } | null;
}

function parseOutlast(measurement: Measurement): ClientReport {
  const start = measurement.stdout.indexOf('{');
  let json: { origins: OutlastOriginJson[] };
  try {
    json = JSON.parse(measurement.stdout.slice(start));
  } catch {
    const tail = `${measurement.stdout}\n${measurement.stderr}`.trim().split('\n').slice(-12).join('\n');
    return { error: `exit ${measurement.exitCode}, no JSON result:\n${tail}` };
  }
  const requestCounts: Record<string, number> = {};
  for (const origin of json.origins) {
    for (const [op, n] of Object.entries(origin.requestCounts))
      requestCounts[op] = (requestCounts[op] ?? 0) + n;
  }
  const failed = json.origins.filter((origin) => !origin.ok);
  return {
    requests: json.origins.reduce((sum, origin) => sum + origin.requests, 0),
    requestCounts,
    uploaded: json.origins.reduce((sum, origin) => sum + origin.uploaded, 0),
    perOrigin: json.origins.map(({ id, uploaded, deleted, unchanged, bytes, requests, requestCounts }) => ({
      id,
      uploaded,
      deleted,
      unchanged,
      bytes,
      requests,
      requestCounts,
    })),
    error:
      failed.length > 0 || measurement.exitCode !== 0
        ? `exit ${measurement.exitCode}: ${failed.map((o) => `${o.id}: ${o.error?.code} ${o.error?.message}`).join('; ')}`
        : undefined,
  };
}

const outlastFs: Target = {
  id: 'outlast-fs',
  groups: ['fs'],
  description: 'outlast deploy → one `fs` origin (a folder)',
  scenarios: ALL,
  needsClusters: false,
  async prepare(ctx, attempt) {
    const dir = join(ctx.scratch, `fs-origin-${attempt}`);
    await mkdir(dir, { recursive: true });
    return outlastTarget(
      ctx,
      `outlast-fs-${attempt}`,
      [{ id: 'fs', storage: { type: 'fs', path: dir } }],
      [],
      {},
    );
  },
};

const outlastSwift: Target = {
  id: 'outlast-swift',
  groups: ['swift'],
  description: 'outlast deploy → cluster A, native Swift API (tempauth)',
  scenarios: ALL,
  needsClusters: true,
  async prepare(ctx, attempt) {
    const { a } = clustersOf(ctx);
    const container = `outlast-swift-${attempt}`;
    await createContainer(a, container);
    return outlastTarget(
      ctx,
      container,
      [swiftOrigin('a-swift', a, container)],
      [a],
      { [SWIFT_KEY_VAR]: a.key },
      () => containerObjectCount(a, container),
    );
  },
};

const outlastS3: Target = {
  id: 'outlast-s3',
  groups: ['s3'],
  description: 'outlast deploy → cluster A, S3 API (s3api)',
  scenarios: ALL,
  needsClusters: true,
  async prepare(ctx, attempt) {
    const { a } = clustersOf(ctx);
    const bucket = `outlast-s3-${attempt}`;
    await createContainer(a, bucket);
    return outlastTarget(
      ctx,
      bucket,
      [s3Origin('a-s3', a, bucket)],
      [a],
      { [S3_KEY_VAR]: a.s3AccessKeyId, [S3_SECRET_VAR]: a.s3SecretAccessKey },
      () => containerObjectCount(a, bucket),
    );
  },
};

const outlastTwo: Target = {
  id: 'outlast-two',
  groups: ['swift', 's3'],
  description: 'outlast deploy → two origins at once: A via S3 and B via Swift',
  scenarios: ALL,
  needsClusters: true,
  async prepare(ctx, attempt) {
    const { a, b } = clustersOf(ctx);
    const name = `outlast-two-${attempt}`;
    await Promise.all([createContainer(a, name), createContainer(b, name)]);
    return outlastTarget(
      ctx,
      name,
      [s3Origin('a-s3', a, name), swiftOrigin('b-swift', b, name)],
      [a, b],
      { [S3_KEY_VAR]: a.s3AccessKeyId, [S3_SECRET_VAR]: a.s3SecretAccessKey, [SWIFT_KEY_VAR]: b.key },
      async () => (await containerObjectCount(a, name)) + (await containerObjectCount(b, name)),
    );
  },
};

// ---------------------------------------------------------------------------------------------
// peers

const awsSync: Target = {
  id: 'aws-s3-sync',
  groups: ['peers'],
  description: '`aws s3 sync` (Debian awscli v2) → cluster A, S3 API',
  scenarios: ALL,
  needsClusters: true,
  async prepare(ctx, attempt) {
    const { a } = clustersOf(ctx);
    const bucket = `aws-sync-${attempt}`;
    await createContainer(a, bucket);
    const env = clientEnv(ctx, {
      AWS_ACCESS_KEY_ID: a.s3AccessKeyId,
      AWS_SECRET_ACCESS_KEY: a.s3SecretAccessKey,
      AWS_DEFAULT_REGION: a.s3Region,
    });
    return {
      clusters: [a],
      objectCount: () => containerObjectCount(a, bucket),
      invocation: () => ({
        command: '/usr/bin/aws',
        // --only-show-errors: no per-file progress lines (10,000 of them) through the pipe.
        args: [
          '--endpoint-url',
          a.s3Endpoint,
          's3',
          'sync',
          ctx.site.dir,
          `s3://${bucket}`,
          '--only-show-errors',
        ],
        env,
      }),
    };
  },
};

function rcloneTarget(id: string, flags: string[], description: string): Target {
  return {
    id,
    groups: ['peers'],
    description,
    scenarios: ALL,
    needsClusters: true,
    async prepare(ctx, attempt) {
      const { a } = clustersOf(ctx);
      const bucket = `${id}-${attempt}`;
      await createContainer(a, bucket);
      const configFile = join(ctx.scratch, 'rclone.conf');
      await writeFile(configFile, '');
      const env = clientEnv(ctx, {
        RCLONE_CONFIG: configFile,
        RCLONE_CONFIG_BENCH_TYPE: 's3',
        RCLONE_CONFIG_BENCH_PROVIDER: 'Other',
        RCLONE_CONFIG_BENCH_ENV_AUTH: 'false',
        RCLONE_CONFIG_BENCH_ACCESS_KEY_ID: a.s3AccessKeyId,
        RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY: a.s3SecretAccessKey,
        RCLONE_CONFIG_BENCH_ENDPOINT: a.s3Endpoint,
        RCLONE_CONFIG_BENCH_REGION: a.s3Region,
        RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE: 'true',
      });
      return {
        clusters: [a],
        objectCount: () => containerObjectCount(a, bucket),
        invocation: () => ({
          command: '/usr/bin/rclone',
          args: ['sync', ctx.site.dir, `bench:${bucket}`, ...flags],
          env,
        }),
      };
    },
  };
}

const swiftUpload: Target = {
  id: 'swift-upload',
  groups: ['peers'],
  description:
    '`swift upload` (python3-swiftclient, 10 object threads) → cluster A, native API; `--changed` on re-runs',
  scenarios: ALL,
  needsClusters: true,
  async prepare(ctx, attempt) {
    const { a } = clustersOf(ctx);
    const container = `swift-upload-${attempt}`;
    await createContainer(a, container);
    const auth = ['-A', a.authUrl, '-U', a.user, '-K', a.key];
    return {
      clusters: [a],
      objectCount: () => containerObjectCount(a, container),
      invocation: (scenario) => ({
        command: '/usr/bin/swift',
        args: [
          ...auth,
          'upload',
          ...(scenario === 'cold' ? [] : ['--changed']),
          '--object-name',
          '',
          container,
          ctx.site.dir,
        ],
        env: clientEnv(ctx),
      }),
    };
  },
};

function barePutTarget(concurrency: number): Target {
  return {
    id: `bare-put-${concurrency}`,
    groups: ['peers'],
    description: `bare-PUT limit: undici Pool, keep-alive, ${concurrency} PUTs in flight → cluster A, native API`,
    scenarios: ['cold'],
    needsClusters: true,
    async prepare(ctx, attempt) {
      const { a } = clustersOf(ctx);
      const container = `bare-put-${concurrency}-${attempt}`;
      return {
        clusters: [a],
        objectCount: () => containerObjectCount(a, container),
        invocation: () => ({
          command: process.execPath,
          args: [
            '--import',
            'tsx',
            join(ctx.repo, 'bench', 'deploy', 'bare-put.ts'),
            '--auth-url',
            a.authUrl,
            '--user',
            a.user,
            '--container',
            container,
            '--dir',
            ctx.site.dir,
            '--concurrency',
            String(concurrency),
          ],
          env: clientEnv(ctx, { [SWIFT_KEY_VAR]: a.key }),
        }),
        report(measurement) {
          try {
            const json = JSON.parse(measurement.stdout.trim().split('\n').pop() ?? '');
            return { requests: json.requests, uploaded: json.files };
          } catch {
            return {
              error: `exit ${measurement.exitCode}: ${measurement.stderr.trim().split('\n').slice(-5).join(' ')}`,
            };
          }
        },
      };
    },
  };
}

/** In the order they run: fs first, then the peers and the limit, then outlast on Swift. */
export const TARGETS: Target[] = [
  outlastFs,
  barePutTarget(16),
  barePutTarget(32),
  awsSync,
  rcloneTarget(
    'rclone-s3',
    [],
    '`rclone sync` (Debian 1.60) → cluster A, S3 API, default flags (4 transfers, 8 checkers)',
  ),
  rcloneTarget(
    'rclone-s3-16',
    ['--transfers', '16', '--checkers', '16'],
    '`rclone sync` → cluster A, S3 API, `--transfers 16 --checkers 16`',
  ),
  swiftUpload,
  outlastSwift,
  outlastS3,
  outlastTwo,
];
