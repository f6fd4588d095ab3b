/**
 * Prometheus metrics of the watcher (`/metrics`), on prom-client with a registry of its own so
 * several watchers in one process (tests) do not collide. In a cluster, the `outlast_cluster_*`
 * gauges are read from the member's status at each scrape (collect), so nothing has to push them.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { ClusterStatus } from '../cluster/member.ts';
import type { ProbeResult } from '../health/probe.ts';

export class WatchMetrics {
  readonly registry = new Registry();
  private readonly up = new Gauge({
    name: 'outlast_origin_up',
    help: 'Whether the origin is up (1), down (0) or not yet known (-1), by the rise/fall rule',
    labelNames: ['origin'],
    registers: [this.registry],
  });
  private readonly probes = new Counter({
    name: 'outlast_probes_total',
    help: 'Health probes, by origin and result (ok, or the kind of failure)',
    labelNames: ['origin', 'result'],
    registers: [this.registry],
  });
  private readonly latency = new Histogram({
    name: 'outlast_probe_duration_seconds',
    help: 'Time of a health probe, connect to body',
    labelNames: ['origin'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5],
    registers: [this.registry],
  });
  private readonly active = new Gauge({
    name: 'outlast_origin_active',
    help: 'Whether DNS points to the origin (as last decided)',
    labelNames: ['origin'],
    registers: [this.registry],
  });
  private readonly routes = new Counter({
    name: 'outlast_route_changes_total',
    help: 'Decisions that changed where DNS points',
    registers: [this.registry],
  });
  private known = new Set<string>();

  probe(result: ProbeResult): void {
    this.probes.inc({ origin: result.originId, result: result.ok ? 'ok' : (result.errorKind ?? 'error') });
    this.latency.observe({ origin: result.originId }, result.latencyMs / 1000);
    if (!this.known.has(result.originId)) {
      this.known.add(result.originId);
      this.up.set({ origin: result.originId }, -1);
    }
  }

  transition(originId: string, to: string): void {
    this.up.set({ origin: originId }, to === 'up' ? 1 : to === 'down' ? 0 : -1);
  }

  route(originIds: string[]): void {
    this.routes.inc();
    this.active.reset();
    for (const id of originIds) this.active.set({ origin: id }, 1);
  }

  /**
   * With `watch.cluster`: the cluster gauges, read from `read()` at each scrape (0, and no
   * per-origin samples, while it returns undefined). Called once; the gauges exist only in a cluster.
   */
  setCluster(read: () => ClusterStatus | undefined): void {
    const gauge = (name: string, help: string, value: (status: ClusterStatus) => number): Gauge<string> =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const status = read();
          this.reset();
          if (status) this.set(value(status));
        },
      });
    gauge('outlast_cluster_leader', 'Whether this watcher leads the cluster (1) or not (0)', (status) =>
      status.leading ? 1 : 0,
    );
    gauge(
      'outlast_cluster_watchers',
      'Live watchers in the cluster (their views hold in etcd)',
      (status) => status.watchers.length,
    );
    gauge(
      'outlast_cluster_counted_watchers',
      'Live watchers whose views count (not one that sees every origin down)',
      (status) => status.watchers.filter((watcher) => watcher.counted).length,
    );
    gauge(
      'outlast_cluster_quorum',
      'Counted watchers that must agree before an origin is down or up',
      (status) => status.quorum,
    );
    gauge('outlast_cluster_etcd_reachable', 'Whether etcd answers this watcher (1) or not (0)', (status) =>
      status.etcdReachable ? 1 : 0,
    );
    new Gauge({
      name: 'outlast_cluster_origin_watchers',
      help: 'Counted watchers that see the origin up, and down',
      labelNames: ['origin', 'state'],
      registers: [this.registry],
      collect() {
        const status = read();
        this.reset();
        for (const [origin, counts] of Object.entries(status?.origins ?? {})) {
          this.set({ origin, state: 'up' }, counts.up);
          this.set({ origin, state: 'down' }, counts.down);
        }
      },
    });
  }

  private readonly included = new Set<Registry>();

  /** Serves another registry's metrics with these (an edge in this process). Returns a detach. */
  include(registry: Registry): () => void {
    this.included.add(registry);
    return () => this.included.delete(registry);
  }

  async text(): Promise<string> {
    const parts = await Promise.all([this.registry, ...this.included].map((registry) => registry.metrics()));
    return parts.join('\n');
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
