/**
 * Deploy, rollback and status across all origins.
 *
 * Every origin is read and planned first; only when no plan is refused by the delete guard (or
 * --force is given) are the plans applied, all origins at once, so that a refusal leaves every
 * origin as it was and the origins stay on the same release. An origin that fails does not stop
 * the others: the outcome says which origin is on which release.
 *
 * A dry run (`plan`) stops before applying; its stores are built with a dry-run write gate
 * (writes.ts) as well, so even a write that got past that stop would reach no origin.
 *
 * With `deploy.purge`, an origin whose driver has a CDN to purge (StorageDriver.purge) has the
 * objects this run changed or deleted purged from it once its plan is applied (commit and
 * deletes done): not new keys, which no CDN holds yet. What could not be purged is a warning of
 * that origin; a purge never fails it. A rollback purges the same way.
 */
import { join } from 'node:path';
import type { Config, OriginConfig } from '../config/schema.ts';
import { isOutlastError, OutlastError } from '../errors.ts';
import { canonicalManifestJson, releaseIdOf } from '../release/manifest.ts';
import { type Beacon, RELEASE_ID_PATTERN } from '../release/types.ts';
import { type SiteScan, scanSite } from '../site/scan.ts';
import { createStore } from '../storage/index.ts';
import type { PurgeOutcome, Store } from '../storage/store.ts';
import { collectAtSeam } from '../util/collect.ts';
import { componentLogger } from '../util/log.ts';
import { WRITER } from '../version.ts';
import { createWriteGate } from '../writes.ts';
import { type ApplyProgress, type ApplyResult, applyPlan } from './apply.ts';
import { type PlanTarget, planOrigin } from './plan.ts';
import { readBeacon, readOriginState } from './remote.ts';
import { type SharedReadStats, SharedReads } from './shared-reads.ts';
import type { OriginPlan, OriginState } from './types.ts';

const log = componentLogger('deploy');

export interface OriginOutcome {
  originId: string;
  /** The plan, when the origin could be read. */
  plan: OriginPlan | undefined;
  result: ApplyResult | undefined;
  /** What went wrong on this origin (it alone). */
  error: OutlastError | undefined;
  /** The release the origin serves at the end (from its beacon). */
  release: string | undefined;
  requests: number;
  /** What the CDN purge did (`deploy.purge` on an origin that can purge and had changes). */
  purge: PurgeOutcome | undefined;
  /** Of `requests`, the attempts made again after a retryable failure. */
  retries: number;
  requestCounts: Record<string, number>;
}

/** Where a run's time went (ms), for `deploy --json`. */
export interface RunTimings {
  /** Making the stores and reading what the origins hold (the slowest origin's). */
  remoteMs: number;
  /** Computing the plans (all origins). */
  planMs: number;
  /** Applying them (all origins at once; 0 for a dry run or a refusal). */
  applyMs: number;
}

export interface RunOutcome {
  releaseId: string;
  /** True when the plans were only computed (plan, or a refused guard). */
  applied: boolean;
  /** The delete guard refused at least one plan and nothing was applied. */
  refused: boolean;
  origins: OriginOutcome[];
  timings: RunTimings;
  /** The local files read for uploads (a deploy; all origins together). */
  reads: SharedReadStats | undefined;
}

export interface RunOptions {
  config: Config;
  /** Only these origin ids (default: all). */
  only?: string[];
  /** Compute plans, change nothing. */
  dryRun?: boolean;
  /** List every object instead of trusting the manifests. */
  verify?: boolean;
  /** Apply plans the delete guard refuses. */
  force?: boolean;
  onProgress?: (progress: ApplyProgress) => void;
  onScanProgress?: (done: number, total: number) => void;
  /**
   * The folder of the site scan's hash cache. Default: `hash-cache` in `config.watch.stateDir`
   * (resolved against the config file's folder, `.outlast/state` unless set), a folder outlast
   * already owns and that is never inside the site; `null` turns the cache off.
   */
  cacheDir?: string | null;
}

export function selectOrigins(config: Config, only: string[] | undefined): OriginConfig[] {
  if (!only || only.length === 0) return config.origins;
  const known = new Set(config.origins.map((origin) => origin.id));
  const unknown = only.filter((id) => !known.has(id));
  if (unknown.length > 0) {
    throw new OutlastError(
      'invalid_argument',
      `unknown origin ${unknown.map((id) => `"${id}"`).join(', ')}`,
      {
        hint: `origins in the config: ${[...known].join(', ')}`,
      },
    );
  }
  return config.origins.filter((origin) => only.includes(origin.id));
}

/** Scans the site once, then deploys it to every selected origin. */
export async function runDeploy(options: RunOptions): Promise<RunOutcome & { scan: SiteScan }> {
  const origins = selectOrigins(options.config, options.only);
  const cacheDir =
    options.cacheDir === undefined ? join(options.config.watch.stateDir, 'hash-cache') : options.cacheDir;
  const scan = await scanSite(options.config.site, {
    onProgress: options.onScanProgress,
    ...(cacheDir === null ? {} : { cacheDir }),
    deferCacheSave: true,
  });
  collectAtSeam(scan.files.length);
  const target: PlanTarget = {
    releaseId: scan.releaseId,
    manifest: scan.manifest,
    manifestJson: scan.manifestJson,
    manifestSha256: scan.manifestSha256,
    source: {
      kind: 'local',
      // A scanned file is a LocalFile (path, md5): no copy per file.
      files: new Map(scan.files.map((file) => [file.key, file])),
    },
  };
  // Written once some origin could be read and planned: a run that failed everywhere (a wrong
  // endpoint, an answer that makes no sense) leaves nothing behind, not even the local cache.
  // Saved before the uploads rather than after, so that its memory is free while they run.
  const afterPlans = async (outcomes: OriginOutcome[]) => {
    if (outcomes.some((origin) => origin.error === undefined)) await scan.saveCache();
  };
  const outcome = await runPlans(
    options,
    origins,
    scan.releaseId,
    async (_store, state) => ({ target, state }),
    afterPlans,
  );
  return { ...outcome, scan };
}

/** Puts every selected origin back on a release it keeps (default: the one before the live one). */
export async function runRollback(options: RunOptions & { to?: string }): Promise<RunOutcome> {
  const origins = selectOrigins(options.config, options.only);
  const wanted = options.to ?? (await previousRelease(options.config, origins));
  if (!RELEASE_ID_PATTERN.test(wanted)) {
    throw new OutlastError('invalid_argument', `--to ${JSON.stringify(wanted)} is not a release id`, {
      hint: 'release ids look like r0123456789abcdef0123; `outlast status` lists the kept releases',
    });
  }
  return runPlans({ ...options, verify: true }, origins, wanted, async (store, state) => {
    const manifest = state.manifests.get(wanted);
    if (!manifest || !state.beacon?.releases.includes(wanted)) {
      throw new OutlastError('not_found', `release ${wanted} is not kept on this origin`, {
        source: `origin "${store.originId}"`,
        hint: `kept releases: ${state.beacon?.releases.join(', ') || 'none'}`,
      });
    }
    const manifestJson = canonicalManifestJson(manifest);
    const { sha256 } = releaseIdOf(manifestJson);
    return {
      target: { releaseId: wanted, manifest, manifestJson, manifestSha256: sha256, source: { kind: 'blob' } },
      state,
    };
  });
}

type Targeter = (store: Store, state: OriginState) => Promise<{ target: PlanTarget; state: OriginState }>;

async function runPlans(
  options: RunOptions,
  origins: OriginConfig[],
  releaseId: string,
  targetFor: Targeter,
  afterPlans?: (outcomes: OriginOutcome[]) => Promise<void>,
): Promise<RunOutcome> {
  const { config } = options;
  const gate = createWriteGate({ dryRun: options.dryRun ?? false, log });
  const stores = new Map<string, Store>();
  const outcomes: OriginOutcome[] = origins.map((origin) => ({
    originId: origin.id,
    plan: undefined,
    result: undefined,
    error: undefined,
    release: undefined,
    requests: 0,
    purge: undefined,
    retries: 0,
    requestCounts: {},
  }));
  const timings: RunTimings = { remoteMs: 0, planMs: 0, applyMs: 0 };
  let reads: SharedReads | undefined;
  const finish = (applied: boolean, refused: boolean) =>
    finishRun(outcomes, stores, releaseId, applied, refused, timings, reads);
  try {
    await Promise.all(
      origins.map(async (origin, index) => {
        const outcome = outcomes[index]!;
        const readStarted = performance.now();
        try {
          const store = await createStore(origin, { attempts: config.deploy.attempts, gate });
          stores.set(origin.id, store);
          const read = await readOriginState(store, {
            releaseId,
            keepReleases: config.site.keepReleases,
            verify: options.verify ?? false,
            concurrency: config.deploy.concurrency,
          });
          outcome.release = read.beacon?.release;
          const { target, state } = await targetFor(store, read);
          const planStarted = performance.now();
          timings.remoteMs = Math.max(timings.remoteMs, planStarted - readStarted);
          outcome.plan = planOrigin({
            originId: origin.id,
            aliases: store.driver.siteAliases?.(config.site) ?? {},
            target,
            state,
            keepReleases: config.site.keepReleases,
            guard: config.deploy,
            now: new Date(),
            writer: WRITER,
          });
          timings.planMs += performance.now() - planStarted;
          if (target.source.kind === 'blob') checkBlobs(outcome.plan, state, origin.id);
          if (outcome.plan.uploads.length > 0) await checkSizes(store, outcome.plan);
        } catch (error) {
          outcome.error = asOriginError(error, origin.id);
        }
      }),
    );
    await afterPlans?.(outcomes);
    // Only before uploads: a deploy with nothing to upload is about to end, and a collection of a
    // large heap costs a tenth of a second or more.
    if (outcomes.some((o) => (o.plan?.uploads.length ?? 0) > 0)) {
      collectAtSeam(
        Math.max(0, ...outcomes.map((o) => (o.plan ? o.plan.unchanged + o.plan.uploads.length : 0))),
      );
    }
    const refused = outcomes.some((outcome) => outcome.plan?.guardRefusal !== undefined) && !options.force;
    if (gate.dryRun || refused) return finish(false, refused);

    const applying = outcomes.filter(
      (outcome) => outcome.plan && !outcome.error && stores.has(outcome.originId),
    );
    const shared = new SharedReads(applying.map((outcome) => outcome.plan!));
    reads = shared;
    const applyStarted = performance.now();
    await Promise.all(
      applying.map(async (outcome) => {
        const store = stores.get(outcome.originId)!;
        const plan = outcome.plan!;
        try {
          outcome.result = await applyPlan(store, plan, {
            concurrency: config.deploy.concurrency,
            onProgress: options.onProgress,
            reads: shared,
          });
          outcome.release = plan.release;
          if (config.deploy.purge) outcome.purge = await purgeChanged(store, plan);
        } catch (error) {
          outcome.error = asOriginError(error, outcome.originId);
          log.error({ origin: outcome.originId, err: outcome.error.message }, 'origin failed');
        }
      }),
    );
    timings.applyMs = performance.now() - applyStarted;
    return finish(true, false);
  } finally {
    await Promise.all([...stores.values()].map((store) => store.close().catch(() => undefined)));
  }
}

function finishRun(
  outcomes: OriginOutcome[],
  stores: Map<string, Store>,
  releaseId: string,
  applied: boolean,
  refused: boolean,
  timings: RunTimings,
  reads: SharedReads | undefined,
): RunOutcome {
  for (const outcome of outcomes) {
    const store = stores.get(outcome.originId);
    if (store) {
      outcome.requests = store.requests;
      outcome.retries = store.retries;
      outcome.requestCounts = store.requestCounts;
    }
  }
  return { releaseId, applied, refused, origins: outcomes, timings, reads: reads?.stats };
}

/**
 * Purges the keys the applied plan changed (any upload but a new key: other bytes, other headers,
 * or perhaps written by an interrupted deploy) or deleted, when the store can; its warning joins
 * the plan's. Undefined when there was nothing to purge or the store cannot.
 */
async function purgeChanged(store: Store, plan: OriginPlan): Promise<PurgeOutcome | undefined> {
  const keys = [
    ...plan.uploads.filter((item) => item.reason !== 'new').map((item) => item.key),
    ...plan.deletes,
  ];
  if (!store.canPurge || keys.length === 0) return undefined;
  const result = await store.purge(keys);
  if (result.warning) plan.warnings.push(`CDN purge: ${result.warning}`);
  return result;
}

/** Files larger than the store takes in one object fail the plan, before anything is written. */
async function checkSizes(store: Store, plan: OriginPlan): Promise<void> {
  const limit = await store.maxObjectBytes();
  if (limit === undefined) return;
  const over = plan.uploads.filter((item) => item.size > limit);
  if (over.length === 0) return;
  const bytes = (n: number) => `${n.toLocaleString('en-US')} bytes`;
  const named = over.slice(0, 5).map((item) => `${JSON.stringify(item.key)} (${bytes(item.size)})`);
  throw new OutlastError(
    'unsupported',
    `${over.length} file(s) larger than the ${bytes(limit)} this store takes in one object: ${named.join(', ')}${over.length > 5 ? ', …' : ''}`,
    {
      source: `origin "${plan.originId}"`,
      hint: 'leave them out with site.exclude and serve them from elsewhere (outlast does not split files into segments)',
    },
  );
}

/** A rollback copies from blobs: every blob it needs must be there before anything is written. */
function checkBlobs(plan: OriginPlan, state: OriginState, originId: string): void {
  const missing = plan.uploads.filter((item) => item.reason !== 'headers' && !state.blobs?.has(item.sha256));
  if (missing.length > 0) {
    const keys = missing.slice(0, 5).map((item) => JSON.stringify(item.key));
    throw new OutlastError(
      'not_found',
      `cannot restore ${missing.length} object(s) of release ${plan.release}: their older content is not on the origin (${keys.join(', ')}${missing.length > 5 ? ', …' : ''})`,
      { source: `origin "${originId}"`, hint: 'deploy that release again from its build instead' },
    );
  }
  // Same bytes, other headers: the bytes are in place; only a redeploy can restore the headers.
  const headersOnly = plan.uploads.filter((item) => item.reason === 'headers');
  if (headersOnly.length > 0) {
    plan.warnings.push(
      `${headersOnly.length} object(s) keep their current headers (same bytes, other headers)`,
    );
    plan.uploads = plan.uploads.filter((item) => item.reason !== 'headers');
  }
}

async function previousRelease(config: Config, origins: OriginConfig[]): Promise<string> {
  for (const origin of origins) {
    const store = await createStore(origin, { attempts: config.deploy.attempts });
    try {
      const beacon = await readBeacon(store);
      if (beacon && beacon.releases.length > 1) return beacon.releases[1]!;
    } catch {
      // Another origin may answer.
    } finally {
      await store.close();
    }
  }
  throw new OutlastError('not_found', 'no origin keeps a release before the live one', {
    hint: 'name one with --to; `outlast status` lists the kept releases',
  });
}

export interface OriginStatus {
  originId: string;
  beacon: Beacon | undefined;
  error: OutlastError | undefined;
}

/** Each origin's beacon (one request per origin). */
export async function readStatus(config: Config, only?: string[]): Promise<OriginStatus[]> {
  return Promise.all(
    selectOrigins(config, only).map(async (origin) => {
      let store: Store | undefined;
      try {
        store = await createStore(origin, { attempts: config.deploy.attempts });
        return { originId: origin.id, beacon: await readBeacon(store), error: undefined };
      } catch (error) {
        return { originId: origin.id, beacon: undefined, error: asOriginError(error, origin.id) };
      } finally {
        await store?.close().catch(() => undefined);
      }
    }),
  );
}

function asOriginError(error: unknown, originId: string): OutlastError {
  if (isOutlastError(error)) return error;
  return new OutlastError('internal', error instanceof Error ? error.message : String(error), {
    cause: error,
    source: `origin "${originId}"`,
  });
}
