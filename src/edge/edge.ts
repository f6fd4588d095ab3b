/**
 * `outlast edge`, put together: the origins' clients, passive health, the release view, the
 * cache and its warmer, the fetcher, the listeners (HTTP, or HTTPS with HTTP/2 and an HTTP
 * listener for ACME and the redirect) and the admin listener (`/status`, `/metrics`).
 *
 * Everything here is wiring; the decisions live in the modules it joins (see DESIGN.md, "Edge").
 */
import type { Registry } from 'prom-client';
import type { Config } from '../config/schema.ts';
import { OutlastError } from '../errors.ts';
import { componentLogger, type Logger } from '../util/log.ts';
import { AccessLog } from './access-log.ts';
import { BlobCache } from './cache.ts';
import { Fetcher } from './fetcher.ts';
import { type Listeners, startListeners } from './listeners.ts';
import { OriginClient } from './origin-client.ts';
import { PassiveHealth } from './passive-health.ts';
import { type EdgeRelease, ReleaseView } from './release-view.ts';
import { EdgeStats } from './stats.ts';
import type { TlsManager } from './tls.ts';
import type { EdgeStatus, HealthView } from './types.ts';
import { Warmer } from './warm.ts';

export interface StartEdgeOptions {
  /** A loaded config with an `edge` section. */
  config: Config;
  /** The watcher's health, when the edge runs inside `outlast watch`. */
  healthView?: HealthView;
  logger?: Logger;
  /** Extra trusted CA certificates (PEM) for https origins. */
  originCa?: string;
  /** Where the access log goes (default stdout; tests). */
  accessLogWrite?: (text: string) => void;
}

export interface RunningEdge {
  /** The site's URLs (HTTPS first with TLS). */
  urls: string[];
  /** `http://host:port` of `/status` and `/metrics`. */
  adminUrl: string;
  status(): EdgeStatus;
  release(): EdgeRelease | undefined;
  /** Prometheus text of the edge's metrics. */
  metrics(): Promise<string>;
  /** The registry behind `metrics()` (the watcher serves it with its own). */
  registry: Registry;
  /** Stops listening, closes every connection and stops the background work. Idempotent. */
  close(): Promise<void>;
}

export async function startEdge(options: StartEdgeOptions): Promise<RunningEdge> {
  const { config } = options;
  const edge = config.edge;
  if (edge === undefined) {
    throw new OutlastError(
      'invalid_argument',
      'the config has no edge section: add `edge: { listen: HOST:PORT }`',
    );
  }
  const logger = options.logger ?? componentLogger('edge');
  const order = edgeOrder(config);
  const origins = new Map<string, OriginClient>();
  for (const id of order) {
    const origin = config.origins.find((candidate) => candidate.id === id)!;
    origins.set(
      id,
      new OriginClient(
        {
          id,
          url: origin.url!,
          ...(origin.hostHeader === undefined ? {} : { hostHeader: origin.hostHeader }),
        },
        {
          connections: 32,
          firstByteTimeoutMs: edge.firstByteTimeout,
          idleTimeoutMs: edge.idleTimeout,
          ...(options.originCa === undefined ? {} : { ca: options.originCa }),
        },
      ),
    );
  }
  const health = new PassiveHealth(order, {
    failures: edge.failures,
    cooldownMs: edge.cooldown,
    ...(options.healthView === undefined ? {} : { watcher: options.healthView }),
  });
  const cache = new BlobCache({
    dir: edge.cache.dir,
    maxBytes: edge.cache.maxMegabytes * 1024 * 1024,
    memoryBytes: edge.cache.memoryMegabytes * 1024 * 1024,
    logger,
  });
  await cache.open();
  const stats = new EdgeStats(order, () => cache.stats());
  const fetcher = new Fetcher({
    origins,
    health,
    cache,
    failureStatuses: new Set(edge.retryStatuses),
    logger,
    onAttempt: (attempt, bytes) => stats.attempt(attempt, bytes),
  });
  const warmer = new Warmer(fetcher, cache, edge.requestTimeout, logger);
  let adopted: string | undefined;
  const adopt = (release: EdgeRelease) => {
    if (release.id === adopted) return;
    adopted = release.id;
    cache.pin(new Set([...release.files.values()].map((entry) => entry.sha256)));
    if (edge.cache.warm) warmer.start(release);
  };
  const view = new ReleaseView({
    origins,
    order,
    health,
    cache,
    pollMs: edge.releasePoll,
    timeoutMs: edge.firstByteTimeout + edge.idleTimeout,
    logger,
    onChange: adopt,
  });
  const startedAt = new Date().toISOString();
  let listeners: Listeners | undefined;
  const status = (): EdgeStatus => {
    const release = view.current();
    const beacons = view.beacons();
    const held = cache.stats();
    return {
      urls: listeners?.urls ?? [],
      startedAt,
      ...(release === undefined
        ? {}
        : {
            release: {
              id: release.id,
              deployedAt: release.deployedAt,
              since: release.since,
              files: release.files.size,
              bytes: release.bytes,
            },
          }),
      cacheOnly: health.noneUsable(),
      origins: order.map((id) => {
        const seen = beacons.get(id);
        const described = health.describe(id);
        const counts = stats.origin(id);
        return {
          id,
          url: origins.get(id)!.url,
          state: health.state(id),
          consecutiveFailures: described.consecutiveFailures,
          ...(described.retryAt === undefined ? {} : { retryAt: described.retryAt }),
          ...(seen?.beacon === undefined ? {} : { release: seen.beacon.release }),
          ...(seen?.error !== undefined
            ? { lastError: seen.error }
            : described.lastError === undefined
              ? {}
              : { lastError: described.lastError }),
          served: counts.served,
          bytes: counts.bytes,
          failed: counts.failed,
        };
      }),
      cache: {
        files: held.files,
        bytes: held.bytes,
        maxBytes: held.maxBytes,
        hits: stats.hits,
        misses: stats.misses,
        warm: warmer.status(),
      },
      requests: {
        total: stats.total,
        failedOver: stats.failedOver,
        cacheOnly: stats.cacheOnly,
        errors: stats.errors,
      },
      ...(listeners?.tlsStatus === undefined ? {} : { tls: listeners.tlsStatus() }),
    };
  };
  await view.start();
  const restored = view.current();
  if (restored !== undefined) adopt(restored);
  let certificates: TlsManager | undefined;
  try {
    if (edge.tls !== undefined) {
      const { createTlsManager } = await import('./tls.ts');
      certificates = createTlsManager(edge.tls, { names: [config.site.hostname], logger });
    }
    listeners = await startListeners({
      ...(certificates === undefined ? {} : { certificates }),
      edge,
      respond: { view, fetcher, cache, health, requestTimeoutMs: edge.requestTimeout, extraHeaders: {} },
      stats,
      accessLog: edge.accessLog ? new AccessLog(options.accessLogWrite) : undefined,
      status,
      logger,
    });
  } catch (error) {
    warmer.stop();
    await certificates?.stop();
    await view.stop();
    await Promise.all([...origins.values()].map((client) => client.close()));
    throw error;
  }
  let closing: Promise<void> | undefined;
  const running = listeners;
  return {
    urls: running.urls,
    adminUrl: running.adminUrl,
    status,
    release: () => view.current(),
    metrics: () => stats.registry.metrics(),
    registry: stats.registry,
    close: () => {
      closing ??= (async () => {
        warmer.stop();
        await running.close();
        await certificates?.stop();
        await view.stop();
        await Promise.all([...origins.values()].map((client) => client.close()));
      })();
      return closing;
    },
  };
}

/** The origins requests try, in order: `edge.origins`, else `failover.order`, else `origins`. */
export function edgeOrder(config: Config): string[] {
  const ids = config.origins.map((origin) => origin.id);
  const order = config.edge?.origins ?? config.failover.order ?? ids;
  for (const id of order) {
    const origin = config.origins.find((candidate) => candidate.id === id);
    if (origin === undefined) {
      throw new OutlastError('invalid_argument', `edge: unknown origin "${id}" (origins: ${ids.join(', ')})`);
    }
    if (origin.url === undefined) {
      throw new OutlastError(
        'invalid_argument',
        `edge: origin "${id}" has no url: the edge reads the site through it (origins[${ids.indexOf(id)}].url)`,
      );
    }
  }
  return [...order];
}
