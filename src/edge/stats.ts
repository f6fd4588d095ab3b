/**
 * The edge's counters, kept once and read two ways: `/status` (plain numbers, `EdgeStatus`) and
 * `/metrics` (Prometheus, prom-client with a registry of its own per edge).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Attempt } from './fetcher.ts';
import type { Served } from './respond.ts';

interface OriginCounts {
  served: number;
  bytes: number;
  failed: number;
}

export class EdgeStats {
  readonly registry = new Registry();
  total = 0;
  failedOver = 0;
  cacheOnly = 0;
  errors = 0;
  hits = 0;
  misses = 0;
  private readonly origins = new Map<string, OriginCounts>();
  private readonly children = new Map<
    string,
    { requests: { inc(): void }; bytes: { inc(value: number): void } }
  >();

  private readonly requests = new Counter({
    name: 'outlast_edge_requests_total',
    help: 'Visitor requests, by the source of the bytes (an origin id, cache, or none) and the status class',
    labelNames: ['source', 'status'],
    registers: [this.registry],
  });
  private readonly failovers = new Histogram({
    name: 'outlast_edge_failovers_per_request',
    help: 'Origins that failed before the one that answered, per request that needed an origin',
    buckets: [0, 1, 2, 3, 5],
    registers: [this.registry],
  });
  private readonly attempts = new Counter({
    name: 'outlast_edge_origin_attempts_total',
    help: 'Fetches from origins, by origin and outcome (ok, connect, timeout, status, mismatch, error)',
    labelNames: ['origin', 'outcome'],
    registers: [this.registry],
  });
  private readonly bytes = new Counter({
    name: 'outlast_edge_bytes_total',
    help: 'Body bytes sent to visitors, by the source of the bytes',
    labelNames: ['source'],
    registers: [this.registry],
  });

  constructor(originIds: readonly string[], cacheStats: () => { files: number; bytes: number }) {
    for (const id of originIds) this.origins.set(id, { served: 0, bytes: 0, failed: 0 });
    const stats = this;
    new Gauge({
      name: 'outlast_edge_cache_hit_ratio',
      help: 'Requests answered from the cache / requests that needed bytes, since start',
      registers: [this.registry],
      collect() {
        const needed = stats.hits + stats.misses;
        this.set(needed === 0 ? 0 : stats.hits / needed);
      },
    });
    new Gauge({
      name: 'outlast_edge_cache_bytes',
      help: 'Bytes held in the cache on disk',
      registers: [this.registry],
      collect() {
        this.set(cacheStats().bytes);
      },
    });
  }

  attempt(attempt: Attempt, bytes: number): void {
    this.attempts.inc({ origin: attempt.origin, outcome: attempt.outcome });
    const counts = this.origins.get(attempt.origin);
    if (counts === undefined) return;
    if (attempt.outcome === 'ok') {
      counts.served += 1;
      counts.bytes += bytes;
    } else if (attempt.outcome !== 'mismatch') {
      counts.failed += 1;
    }
  }

  request(served: Served): void {
    this.total += 1;
    const source = served.source ?? 'none';
    const key = `${source} ${served.status}`;
    let children = this.children.get(key);
    if (children === undefined) {
      // prom-client hashes the labels at every inc: done once per source and status instead.
      children = {
        requests: this.requests.labels({ source, status: `${Math.floor(served.status / 100)}xx` }),
        bytes: this.bytes.labels({ source }),
      };
      this.children.set(key, children);
    }
    children.requests.inc();
    if (served.bytes > 0) children.bytes.inc(served.bytes);
    if (served.status >= 500) this.errors += 1;
    if (served.source === undefined && served.status < 500) return;
    if (served.cacheHit) this.hits += 1;
    else this.misses += 1;
    if (served.cacheOnly) this.cacheOnly += 1;
    if (!served.cacheHit) this.failovers.observe(served.failovers);
    if (served.failovers > 0) this.failedOver += 1;
  }

  origin(id: string): OriginCounts {
    return this.origins.get(id) ?? { served: 0, bytes: 0, failed: 0 };
  }
}
