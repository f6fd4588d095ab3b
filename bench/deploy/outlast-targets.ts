/**
 * outlast's targets: `outlast deploy --json` to a folder, to cluster A through the native Swift
 * API and through the S3 API, and to two origins at once (A via S3, B via Swift). The config is
 * written per attempt; secrets are `${VAR}` in it and come from the child's environment.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import type { SwiftCluster } from '../../test/servers/swift.ts';
import type { Measurement } from './measure.ts';
import { containerObjectCount, createContainer } from './swift-api.ts';
import {
  ALL_SCENARIOS,
  type BenchContext,
  type ClientReport,
  clientEnv,
  clustersOf,
  type PreparedTarget,
  S3_KEY_VAR,
  S3_SECRET_VAR,
  SWIFT_KEY_VAR,
  type Target,
} from './target.ts';
import { parseTimings } from './timings.ts';

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

export function swiftOrigin(id: string, cluster: SwiftCluster, container: string): OriginSpec {
  return {
    id,
    storage: {
      type: 'swift',
      container,
      auth: { type: 'tempauth', url: cluster.authUrl, user: cluster.user, key: `\${${SWIFT_KEY_VAR}}` },
    },
  };
}

/** outlast deploy → one origin: a new container `container` on cluster A, native Swift API. */
export async function outlastToSwiftA(ctx: BenchContext, container: string): Promise<PreparedTarget> {
  const { a } = clustersOf(ctx);
  await createContainer(a, container);
  return outlastTarget(
    ctx,
    container,
    [swiftOrigin('a-swift', a, container)],
    [a],
    { [SWIFT_KEY_VAR]: a.key },
    () => containerObjectCount(a, container),
  );
}

export async function outlastTarget(
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
      args: [join(ctx.underTest, 'bin', 'outlast.js'), 'deploy', '--config', configFile, '--json'],
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
  let json: { origins: OutlastOriginJson[]; timings?: unknown };
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
    timings: parseTimings(json.timings),
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

export const outlastFs: Target = {
  id: 'outlast-fs',
  groups: ['fs'],
  description: 'outlast deploy → one `fs` origin (a folder)',
  scenarios: ALL_SCENARIOS,
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

export const outlastSwift: Target = {
  id: 'outlast-swift',
  groups: ['swift'],
  description: 'outlast deploy → cluster A, native Swift API (tempauth)',
  scenarios: ALL_SCENARIOS,
  needsClusters: true,
  async prepare(ctx, attempt) {
    return outlastToSwiftA(ctx, `outlast-swift-${attempt}`);
  },
};

export const outlastS3: Target = {
  id: 'outlast-s3',
  groups: ['s3'],
  description: 'outlast deploy → cluster A, S3 API (s3api)',
  scenarios: ALL_SCENARIOS,
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

export const outlastTwo: Target = {
  id: 'outlast-two',
  groups: ['swift', 's3'],
  description: 'outlast deploy → two origins at once: A via S3 and B via Swift',
  scenarios: ALL_SCENARIOS,
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
