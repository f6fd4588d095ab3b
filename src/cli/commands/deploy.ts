/** `outlast plan`, `outlast deploy` and `outlast rollback`. */
import { loadConfig } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { type OriginOutcome, type RunOutcome, runDeploy, runRollback } from '../../deploy/engine.ts';
import type { OriginPlan } from '../../deploy/types.ts';
import type { NativeUpdate } from '../../dns/native/index.ts';
import { EXIT } from '../exit.ts';
import { formatBytes, formatCount, formatSeconds, listSome, shortRelease } from '../format.ts';
import type { GlobalOptions } from '../options.ts';
import { ProgressLine } from '../progress.ts';

interface CommonOptions extends GlobalOptions {
  origin?: string[];
  json?: boolean;
  verify?: boolean;
  force?: boolean;
}

const out = (line = '') => process.stdout.write(`${line}\n`);
const outAll = (lines: string[]) => {
  for (const line of lines) out(line);
};

export async function planCommand(options: CommonOptions & { full?: boolean }): Promise<number> {
  const { config } = await loadConfig(options.config);
  const outcome = await runDeploy({ config, only: options.origin, dryRun: true, verify: options.verify });
  if (options.json) {
    out(JSON.stringify(planJson(outcome), null, 2));
  } else {
    out(`site ${config.site.dir}: release ${outcome.releaseId}, ${describeSite(outcome.scan)}`);
    for (const origin of outcome.origins) printPlan(origin, options.full ? Number.POSITIVE_INFINITY : 10);
  }
  return codeOf(outcome);
}

export async function deployCommand(options: CommonOptions & { progress?: boolean }): Promise<number> {
  // ms since the process started (performance's time origin): node, outlast's modules, the CLI.
  const startupMs = performance.now();
  const { config } = await loadConfig(options.config);
  const configMs = performance.now() - startupMs;
  const progress = ProgressLine.enabled(options.progress !== false && !options.json)
    ? new ProgressLine()
    : undefined;
  const started = Date.now();
  let outcome: Awaited<ReturnType<typeof runDeploy>>;
  try {
    outcome = await runDeploy({
      config,
      only: options.origin,
      verify: options.verify,
      force: options.force,
      onScanProgress: progress ? (done, total) => progress.onScan(done, total) : undefined,
      onProgress: progress ? (p) => progress.onProgress(p) : undefined,
    });
  } finally {
    progress?.clear();
  }
  const elapsed = Date.now() - started;
  const native = await nativeAfter(config, outcome);
  if (options.json) {
    out(
      JSON.stringify(
        {
          ...resultJson(outcome),
          site: siteJson(outcome.scan),
          ms: elapsed,
          reads: outcome.reads ?? null,
          timings: roundAll({
            startupMs,
            configMs,
            scanMs:
              outcome.scan.timings.walkMs + outcome.scan.timings.hashMs + outcome.scan.timings.manifestMs,
            ...outcome.scan.timings,
            ...outcome.timings,
            totalMs: performance.now(),
          }),
          ...(native ? { nativeFailover: native } : {}),
        },
        null,
        2,
      ),
    );
  } else {
    out(`release ${outcome.releaseId}: ${describeSite(outcome.scan)}`);
    printResults(outcome, elapsed);
    if (native) printNative(native, outcome);
  }
  return codeWithNative(outcome, native);
}

export async function rollbackCommand(options: CommonOptions & { to?: string }): Promise<number> {
  const { config } = await loadConfig(options.config);
  const started = Date.now();
  const outcome = await runRollback({ config, only: options.origin, force: options.force, to: options.to });
  const native = await nativeAfter(config, outcome);
  if (options.json) {
    out(
      JSON.stringify(
        { ...resultJson(outcome), ms: Date.now() - started, ...(native ? { nativeFailover: native } : {}) },
        null,
        2,
      ),
    );
  } else {
    out(`rollback to release ${outcome.releaseId}`);
    printResults(outcome, Date.now() - started);
    if (native) printNative(native, outcome);
  }
  return codeWithNative(outcome, native);
}

/**
 * Moves the native failover hosts to the release just made live, once at least one origin serves
 * it (a deploy that reached some origins and not others included: those behind are then answered
 * only when no origin on the new release is up). Nothing when no provider has failover: native.
 */
async function nativeAfter(config: Config, outcome: RunOutcome): Promise<NativeUpdate | undefined> {
  if (!config.dns || outcome.refused || !outcome.origins.some((origin) => !origin.error)) return undefined;
  const { nativeProviders, updateNative } = await import('../../dns/native/index.ts');
  if (nativeProviders(config).length === 0) return undefined;
  return updateNative(config, outcome.releaseId);
}

function printNative(native: NativeUpdate, outcome: RunOutcome): void {
  for (const provider of native.updated) out(`dns: ${provider} now checks for release ${outcome.releaseId}`);
  for (const provider of native.refused) {
    out(
      `dns: ${provider} NOT updated: something at the name is not outlast's (see outlast dns plan; --force replaces it)`,
    );
  }
  for (const { provider, message } of native.failed) out(`dns: ${provider} NOT updated: ${message}`);
  const behind = outcome.origins.filter((origin) => origin.error).map((origin) => origin.originId);
  if (behind.length > 0 && native.updated.length > 0) {
    out(
      `dns: ${behind.join(', ')} did not get release ${outcome.releaseId}: the DNS host answers ${behind.length > 1 ? 'them' : 'it'} only while no origin on it is up; deploy again`,
    );
  }
}

/** A native host left behind fails an otherwise good run: the DNS host checks the old release. */
function codeWithNative(outcome: RunOutcome, native: NativeUpdate | undefined): number {
  const left = native !== undefined && native.failed.length + native.refused.length > 0;
  return left && codeOf(outcome) === EXIT.ok ? EXIT.failed : codeOf(outcome);
}

function codeOf(outcome: RunOutcome): number {
  if (outcome.origins.some((origin) => origin.error)) return EXIT.failed;
  if (outcome.refused) return EXIT.refused;
  return EXIT.ok;
}

function describeSite(scan: { files: unknown[]; totalBytes: number }): string {
  return `${formatCount(scan.files.length, 'file')}, ${formatBytes(scan.totalBytes)}`;
}

function printPlan(origin: OriginOutcome, max: number): void {
  const plan = origin.plan;
  if (!plan) {
    out(`\n${origin.originId}: cannot plan: ${origin.error?.message ?? 'unknown error'}`);
    if (origin.error?.hint) out(`  hint: ${origin.error.hint}`);
    return;
  }
  out(`\n${origin.originId}: ${shortRelease(plan.previousRelease)} → ${shortRelease(plan.release)}`);
  if (plan.noop) {
    out(`  nothing to do (${formatCount(plan.unchanged, 'file')} in place)`);
    return;
  }
  const byReason = (reason: string) => plan.uploads.filter((item) => item.reason === reason);
  out(
    `  upload ${formatCount(plan.uploads.length, 'object')} (${formatBytes(plan.uploadBytes)}): ` +
      ['new', 'changed', 'headers', 'unverified']
        .map((reason) => `${byReason(reason).length} ${reason === 'headers' ? 'header changes' : reason}`)
        .join(', '),
  );
  outAll(
    listSome(
      plan.uploads.map((item) => `${item.reason.padEnd(10)} ${item.key}`),
      max,
    ),
  );
  out(`  delete ${formatCount(plan.deletes.length, 'object')} (of ${plan.objectsBefore})`);
  if (plan.deletes.length > 0) outAll(listSome(plan.deletes, max));
  out(`  unchanged ${formatCount(plan.unchanged, 'object')}`);
  out(`  kept releases after: ${plan.keptReleases.map(shortRelease).join(', ')}`);
  for (const warning of plan.warnings) out(`  warning: ${warning}`);
  if (plan.guardRefusal) out(`  REFUSED by the delete guard: ${plan.guardRefusal} (use --force to apply)`);
}

function printResults(outcome: RunOutcome, elapsed: number): void {
  for (const origin of outcome.origins) {
    const name = origin.originId.padEnd(Math.max(...outcome.origins.map((o) => o.originId.length)));
    if (origin.error) {
      out(`${name}  FAILED (${formatCount(origin.requests, 'request')}): ${origin.error.message}`);
      if (origin.error.hint) out(`${' '.repeat(name.length)}  hint: ${origin.error.hint}`);
      out(`${' '.repeat(name.length)}  serves ${shortRelease(origin.release)}`);
      continue;
    }
    const plan = origin.plan!;
    if (outcome.refused) {
      out(`${name}  refused, nothing written${plan.guardRefusal ? `: ${plan.guardRefusal}` : ''}`);
      continue;
    }
    const result = origin.result!;
    const what = plan.noop
      ? `already on ${shortRelease(plan.release)}, nothing to do`
      : `${shortRelease(plan.previousRelease)} → ${shortRelease(plan.release)}: uploaded ${result.uploaded} (${formatBytes(result.uploadedBytes)}), deleted ${result.deleted}, unchanged ${plan.unchanged}`;
    out(`${name}  ${what}  [${formatCount(origin.requests, 'request')}]`);
    if (origin.purge && origin.purge.purged.length > 0) {
      out(
        `${' '.repeat(name.length)}  purged ${formatCount(origin.purge.purged.length, 'object')} from the CDN`,
      );
    }
    for (const warning of plan.warnings) out(`${' '.repeat(name.length)}  warning: ${warning}`);
  }
  const failed = outcome.origins.filter((origin) => origin.error).length;
  if (outcome.refused) {
    out('\nnothing was written: the delete guard refused the plan above. Review it with `outlast plan`,');
    out('then run again with --force if the deletes are wanted.');
  } else if (failed > 0) {
    const advice = outcome.origins.some((origin) => origin.error?.retryable)
      ? '; run again to converge once the failing origins answer'
      : '';
    out(
      `\n${failed} of ${formatCount(outcome.origins.length, 'origin')} failed (${formatSeconds(elapsed)})${advice}.`,
    );
  } else if (outcome.origins.length === 1) {
    out(
      `\norigin ${outcome.origins[0]!.originId} on release ${outcome.releaseId} (${formatSeconds(elapsed)})`,
    );
  } else {
    out(
      `\nall ${outcome.origins.length} origins on release ${outcome.releaseId} (${formatSeconds(elapsed)})`,
    );
  }
}

function originJson(origin: OriginOutcome) {
  const plan: OriginPlan | undefined = origin.plan;
  return {
    id: origin.originId,
    ok: origin.error === undefined,
    release: origin.release ?? null,
    previousRelease: plan?.previousRelease ?? null,
    uploaded: origin.result?.uploaded ?? 0,
    deleted: origin.result?.deleted ?? 0,
    unchanged: plan?.unchanged ?? 0,
    bytes: origin.result?.uploadedBytes ?? 0,
    requests: origin.requests,
    retries: origin.retries,
    requestCounts: origin.requestCounts,
    warnings: plan?.warnings ?? [],
    purge: origin.purge ? { purged: origin.purge.purged, notPurged: origin.purge.notPurged } : null,
    guardRefusal: plan?.guardRefusal ?? null,
    error: origin.error ? { code: origin.error.code, message: origin.error.message } : null,
  };
}

function resultJson(outcome: RunOutcome) {
  return {
    release: outcome.releaseId,
    applied: outcome.applied,
    refused: outcome.refused,
    origins: outcome.origins.map(originJson),
  };
}

function siteJson(scan: { files: unknown[]; totalBytes: number }) {
  return { files: scan.files.length, bytes: scan.totalBytes };
}

function planJson(outcome: Awaited<ReturnType<typeof runDeploy>>) {
  return {
    release: outcome.releaseId,
    site: siteJson(outcome.scan),
    refused: outcome.origins.some((origin) => origin.plan?.guardRefusal),
    origins: outcome.origins.map((origin) => ({
      id: origin.originId,
      error: origin.error ? { code: origin.error.code, message: origin.error.message } : null,
      plan: origin.plan
        ? {
            from: origin.plan.previousRelease ?? null,
            to: origin.plan.release,
            noop: origin.plan.noop,
            uploads: origin.plan.uploads.map(({ key, reason, size, html }) => ({ key, reason, size, html })),
            deletes: origin.plan.deletes,
            unchanged: origin.plan.unchanged,
            keptReleases: origin.plan.keptReleases,
            droppedReleases: origin.plan.droppedReleases,
            guardRefusal: origin.plan.guardRefusal ?? null,
            warnings: origin.plan.warnings,
          }
        : null,
    })),
  };
}

/** Milliseconds to one decimal, for the JSON report. */
function roundAll(timings: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(timings).map(([name, ms]) => [name, Math.round(ms * 10) / 10]));
}
