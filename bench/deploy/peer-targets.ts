/**
 * The peers on the same site and cluster: `aws s3 sync` (Debian's awscli v2, not pyenv's v1),
 * `rclone sync` to S3 (default flags and 16/16), `swift upload` (python3-swiftclient), each into a
 * fresh bucket or container; and the bare-PUT limit (bare-put.ts), the store's own speed, with its
 * S3 sibling (bare-s3-put.ts), the store's speed through s3api.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SwiftCluster } from '../../test/servers/swift.ts';
import type { Measurement } from './measure.ts';
import { containerObjectCount, createContainer } from './swift-api.ts';
import {
  ALL_SCENARIOS,
  type BenchContext,
  type ClientReport,
  clientEnv,
  clustersOf,
  type Invocation,
  S3_KEY_VAR,
  S3_SECRET_VAR,
  SWIFT_KEY_VAR,
  type Target,
} from './target.ts';

/** `aws s3 sync` of the site into `bucket` on cluster A (the scale target runs it too). */
export function awsSyncInvocation(ctx: BenchContext, a: SwiftCluster, bucket: string): Invocation {
  return {
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
    env: clientEnv(ctx, {
      AWS_ACCESS_KEY_ID: a.s3AccessKeyId,
      AWS_SECRET_ACCESS_KEY: a.s3SecretAccessKey,
      AWS_DEFAULT_REGION: a.s3Region,
    }),
  };
}

export const awsSync: Target = {
  id: 'aws-s3-sync',
  groups: ['peers'],
  description: '`aws s3 sync` (Debian awscli v2) → cluster A, S3 API',
  scenarios: ALL_SCENARIOS,
  needsClusters: true,
  async prepare(ctx, attempt) {
    const { a } = clustersOf(ctx);
    const bucket = `aws-sync-${attempt}`;
    await createContainer(a, bucket);
    return {
      clusters: [a],
      objectCount: () => containerObjectCount(a, bucket),
      invocation: () => awsSyncInvocation(ctx, a, bucket),
    };
  },
};

export function rcloneTarget(id: string, flags: string[], description: string): Target {
  return {
    id,
    groups: ['peers'],
    description,
    scenarios: ALL_SCENARIOS,
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

export const swiftUpload: Target = {
  id: 'swift-upload',
  groups: ['peers'],
  description:
    '`swift upload` (python3-swiftclient, 10 object threads) → cluster A, native API; `--changed` on re-runs',
  scenarios: ALL_SCENARIOS,
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

/** `meta`: each PUT also carries what outlast's do (a content type, the sha256 metadata, an ETag
 * from a table made before the clock starts), so the store's own work per request is the same and
 * the difference to outlast is the client's. */
export function barePutTarget(concurrency: number, meta = false): Target {
  const id = `bare-put-${meta ? 'meta-' : ''}${concurrency}`;
  return {
    id,
    groups: ['peers'],
    description: meta
      ? `bare-PUT with outlast's headers (content type, sha256 metadata, ETag), ${concurrency} in flight → cluster A, native API`
      : `bare-PUT limit: undici Pool, keep-alive, ${concurrency} PUTs in flight → cluster A, native API`,
    scenarios: ['cold'],
    needsClusters: true,
    async prepare(ctx, attempt) {
      const { a } = clustersOf(ctx);
      const container = `${id}-${attempt}`;
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
            ...(meta ? ['--meta'] : []),
          ],
          env: clientEnv(ctx, { [SWIFT_KEY_VAR]: a.key }),
        }),
        report: bareReport,
      };
    },
  };
}

/** The bare S3 PUT (bare-s3-put.ts): bare-put's client through cluster A's S3 API, each PUT signed
 * with SigV4 (unsigned payload). Not a limit: beside bare-put it is the store's cost of s3api. */
export function bareS3PutTarget(concurrency: number): Target {
  const id = `bare-s3-put-${concurrency}`;
  return {
    id,
    groups: ['peers'],
    description: `bare S3 PUT: undici Pool, keep-alive, ${concurrency} SigV4 PUTs (UNSIGNED-PAYLOAD) in flight → cluster A, S3 API`,
    scenarios: ['cold'],
    needsClusters: true,
    async prepare(ctx, attempt) {
      const { a } = clustersOf(ctx);
      const bucket = `${id}-${attempt}`;
      return {
        clusters: [a],
        objectCount: () => containerObjectCount(a, bucket),
        invocation: () => ({
          command: process.execPath,
          args: [
            '--import',
            'tsx',
            join(ctx.repo, 'bench', 'deploy', 'bare-s3-put.ts'),
            '--endpoint',
            a.s3Endpoint,
            '--bucket',
            bucket,
            '--dir',
            ctx.site.dir,
            '--concurrency',
            String(concurrency),
            '--region',
            a.s3Region,
          ],
          env: clientEnv(ctx, { [S3_KEY_VAR]: a.s3AccessKeyId, [S3_SECRET_VAR]: a.s3SecretAccessKey }),
        }),
        report: bareReport,
      };
    },
  };
}

/** The bare clients' one JSON line: { files, bytes, requests }. */
function bareReport(measurement: Measurement): ClientReport {
  try {
    const json = JSON.parse(measurement.stdout.trim().split('\n').pop() ?? '');
    return { requests: json.requests, uploaded: json.files };
  } catch {
    return {
      error: `exit ${measurement.exitCode}: ${measurement.stderr.trim().split('\n').slice(-5).join(' ')}`,
    };
  }
}
