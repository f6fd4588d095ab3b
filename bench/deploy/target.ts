/**
 * What a benchmark target is: a client with a command per scenario against a fresh origin
 * (`prepare` makes one for every attempt, so a repeated measurement starts from an empty origin
 * again), plus what every target shares: the context and the clients' environment.
 */
import { join } from 'node:path';
import type { Azurite } from '../../test/servers/azurite.ts';
import type { SwiftCluster } from '../../test/servers/swift.ts';
import type { Measurement } from './measure.ts';
import type { GeneratedSite } from './site.ts';

export type ScenarioName = 'cold' | 'noop' | 'changed';
export type Group = 'fs' | 'swift' | 's3' | 'peers' | 'scale' | 'progress' | 'azure';

export interface BenchContext {
  /** This checkout: the bench's own clients (bare-PUT) run from it. */
  repo: string;
  /** The checkout whose bin/outlast.js is measured (--under-test; default this one). */
  underTest: string;
  site: GeneratedSite;
  /** Configs, folder origins, rclone's empty config. */
  scratch: string;
  clusters: { a: SwiftCluster; b: SwiftCluster } | undefined;
  /** Azurite (the blob service, in memory), started when a target of group `azure` runs. */
  azurite?: Azurite | undefined;
}

export interface Invocation {
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  /**
   * A run of another client inside this target (the scale target's `aws s3 sync` no-op over the
   * container outlast just filled): its row carries this label and description, and `report`
   * parses its output instead of the target's.
   */
  as?: { target: string; description: string; report?(measurement: Measurement): ClientReport };
}

/** What the client itself reports (only outlast and the bare-PUT client report anything). */
export interface ClientReport {
  requests?: number;
  /** outlast's `deploy --json` `timings` (milliseconds), when the build prints them. */
  timings?: Record<string, number>;
  requestCounts?: Record<string, number>;
  uploaded?: number;
  perOrigin?: unknown;
  error?: string;
}

export interface PreparedTarget {
  /** `step` is the index in the target's `scenarios` (a scenario may come twice, as in scale's). */
  invocation(scenario: ScenarioName, step: number): Invocation;
  report?(measurement: Measurement): ClientReport;
  /** The clusters whose proxy logs and server CPU belong to this target. */
  clusters: SwiftCluster[];
  /** Server processes besides the clusters' (Azurite): their CPU is the store's, not other work. */
  serverPids?(): number[];
  /** Objects in the origin(s) after a run: a check that the upload really happened. */
  objectCount?(step: number): Promise<number>;
}

export interface Target {
  id: string;
  /** `--only` selects a target when one of its groups is listed. */
  groups: Group[];
  description: string;
  scenarios: ScenarioName[];
  needsClusters: boolean;
  /** Starts Azurite for this target (context.azurite). */
  needsAzurite?: boolean;
  /** Deploys the `--scale-files` site (generated only when such a target runs), not the `--files` one. */
  largeSite?: boolean;
  prepare(ctx: BenchContext, attempt: number): Promise<PreparedTarget>;
}

export const ALL_SCENARIOS: ScenarioName[] = ['cold', 'noop', 'changed'];

/** Environment variables the config's `${…}` take the secrets from. */
export const S3_KEY_VAR = 'BENCH_S3_ACCESS_KEY_ID';
export const S3_SECRET_VAR = 'BENCH_S3_SECRET_ACCESS_KEY';
export const SWIFT_KEY_VAR = 'BENCH_SWIFT_KEY';

export function clustersOf(ctx: BenchContext): { a: SwiftCluster; b: SwiftCluster } {
  if (!ctx.clusters) throw new Error('this target needs the Swift clusters');
  return ctx.clusters;
}

/**
 * The environment of every client: no shared AWS config or credentials of the machine's user, and
 * no AWS_CA_BUNDLE (rclone's S3 backend fails at once when it is set; the endpoints are plain http).
 */
export function clientEnv(ctx: BenchContext, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
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
