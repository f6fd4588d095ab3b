/**
 * `outlast status`: each origin's release, from its beacon (one request per origin), and with
 * `watch.cluster` the watcher cluster as etcd has it (read-only, with a short deadline).
 */
import { loadConfig } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import type { WatchStatus } from '../../daemon/watcher.ts';
import { readStatus } from '../../deploy/engine.ts';
import { OutlastError } from '../../errors.ts';
import { type ClusterRead, clusterJson, clusterLines } from '../cluster-status.ts';
import { EXIT } from '../exit.ts';
import { formatBytes, formatCount, shortRelease } from '../format.ts';
import type { GlobalOptions } from '../options.ts';
import { watcherUrl } from './control.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);

export async function statusCommand(
  options: GlobalOptions & { origin?: string[]; json?: boolean },
): Promise<number> {
  const { config } = await loadConfig(options.config);
  const [statuses, cluster] = await Promise.all([readStatus(config, options.origin), readClusterOf(config)]);
  if (options.json) {
    out(
      JSON.stringify(
        {
          origins: statuses.map((status) => ({
            id: status.originId,
            ok: status.error === undefined,
            beacon: status.beacon ?? null,
            error: status.error ? { code: status.error.code, message: status.error.message } : null,
          })),
          ...(cluster ? { cluster: clusterJson(cluster) } : {}),
        },
        null,
        2,
      ),
    );
  } else {
    printStatus(statuses);
    if (cluster) {
      out();
      for (const line of clusterLines(cluster)) out(line);
    }
  }
  // The cluster is informational: etcd out of reach alone does not fail the command.
  return statuses.some((status) => status.error) ? EXIT.failed : EXIT.ok;
}

/** With `watch.cluster`: the cluster as etcd has it, or why it could not be read. */
async function readClusterOf(config: Config): Promise<ClusterRead | undefined> {
  const cluster = config.watch.cluster;
  if (!cluster) return undefined;
  const endpoints = cluster.etcd.endpoints;
  try {
    const { clusterPrefix, readCluster } = await import('../../cluster/read.ts');
    if (!cluster.etcd.prefix && !config.dns) {
      throw new OutlastError(
        'invalid_config',
        'no dns.name and no watch.cluster.etcd.prefix: cannot tell where the cluster keeps its keys',
      );
    }
    const prefix = clusterPrefix(cluster, config.dns?.name ?? '');
    const reading = await readCluster(
      cluster,
      prefix,
      config.origins.map((origin) => origin.id),
    );
    return { endpoints, reading };
  } catch (error) {
    return { endpoints, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

function printStatus(statuses: Awaited<ReturnType<typeof readStatus>>): void {
  const width = Math.max(...statuses.map((status) => status.originId.length));
  for (const status of statuses) {
    const name = status.originId.padEnd(width);
    if (status.error) {
      out(`${name}  UNREACHABLE: ${status.error.message}`);
      continue;
    }
    const beacon = status.beacon;
    if (!beacon) {
      out(`${name}  never deployed (no beacon)`);
      continue;
    }
    const extra = [
      beacon.deploying ? `deploy of ${shortRelease(beacon.deploying)} in progress or interrupted` : '',
      beacon.pendingCleanup.length > 0
        ? `cleanup pending for ${beacon.pendingCleanup.length} release(s)`
        : '',
    ].filter(Boolean);
    out(
      `${name}  ${beacon.release}  since ${beacon.deployedAt}  ${formatCount(beacon.files, 'file')}, ${formatBytes(beacon.bytes)}` +
        `  kept: ${beacon.releases.map(shortRelease).join(', ')}${extra.length ? `  (${extra.join('; ')})` : ''}`,
    );
  }
  const releases = new Set(statuses.map((status) => status.beacon?.release));
  if (statuses.every((status) => status.beacon) && releases.size === 1) {
    out(`\nall ${statuses.length} origins serve the same release`);
  } else if (statuses.length > 1) {
    out('\norigins are NOT on the same release: run `outlast deploy` to bring them together');
  }
}

/** The running watcher's /status, or undefined when none answers quickly. */
async function fetchWatcherStatus(listen: string): Promise<WatchStatus | undefined> {
  try {
    const response = await fetch(`${await watcherUrl(listen)}/status`, { signal: AbortSignal.timeout(800) });
    return response.ok ? ((await response.json()) as WatchStatus) : undefined;
  } catch {
    return undefined;
  }
}

function printWatcherStatus(status: WatchStatus): void {
  out(
    `${status.name} → ${status.active.join(', ') || '(not decided yet)'}` +
      `${status.activeSince ? ` since ${status.activeSince}` : ''}${status.paused ? '  [PAUSED]' : ''}` +
      `${status.awaitingFailback ? '  [awaiting manual failback]' : ''}`,
  );
  if (status.reason) out(`  why: ${status.reason}`);
  out(
    `  current release: ${status.currentRelease ?? '(unknown)'}; expected failover time ~${status.expectedFailoverSeconds} s\n`,
  );
  const width = Math.max(...status.origins.map((origin) => origin.originId.length));
  for (const origin of status.origins) {
    const probe = origin.lastProbe;
    out(
      `${origin.active ? '*' : ' '} ${origin.originId.padEnd(width)}  ${origin.state.toUpperCase().padEnd(7)} ` +
        `${shortRelease(origin.release)}${origin.onCurrentRelease ? '' : ' (not current)'}  ` +
        `${origin.latencyMs === undefined ? '' : `${origin.latencyMs} ms`}` +
        `${probe && !probe.ok ? `  last error: ${probe.error}` : ''}` +
        `${origin.certificateWarning ? `  ${origin.certificateWarning}` : ''}`,
    );
  }
  out('');
  for (const provider of status.providers) {
    const state = provider.pending
      ? `write pending (attempt ${provider.attempts}${provider.nextRetryAt ? `, next ${provider.nextRetryAt}` : ''}): ${provider.lastError ?? ''}`
      : provider.lastWriteOk === false
        ? `last write failed: ${provider.lastError}`
        : 'in sync';
    out(`  dns ${provider.provider}: ${provider.records.join(', ') || '(no records)'} — ${state}`);
  }
}
