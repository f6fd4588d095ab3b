/**
 * The cluster gauges of /metrics (src/daemon/metrics.ts): read from the member's status at each
 * scrape; absent without a cluster.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ClusterStatus } from '../../src/cluster/member.ts';
import { WatchMetrics } from '../../src/daemon/metrics.ts';

/** The samples of `text` whose name starts with outlast_cluster_, as `name{labels} value` lines. */
function clusterSamples(text: string): string[] {
  return text
    .split('\n')
    .filter((line) => line.startsWith('outlast_cluster_'))
    .sort();
}

function status(overrides: Partial<ClusterStatus> = {}): ClusterStatus {
  return {
    id: 'w1',
    leader: 'w1',
    leading: true,
    leadingSince: '2026-01-01T00:00:00.000Z',
    etcdReachable: true,
    quorum: 2,
    quorumLost: false,
    watchers: [
      { id: 'w1', at: '2026-01-01T00:00:00.000Z', origins: {}, counted: true },
      { id: 'w2', at: '2026-01-01T00:00:00.000Z', origins: {}, counted: true },
      {
        id: 'w3',
        at: '2026-01-01T00:00:00.000Z',
        origins: {},
        counted: false,
        ignoredBecause: 'it sees every origin down (its own network, most likely)',
      },
    ],
    origins: { o0: { health: 'up', up: 2, down: 0 }, o1: { health: 'down', up: 0, down: 2 } },
    ...overrides,
  };
}

describe('WatchMetrics.setCluster', () => {
  it('without a cluster there is no outlast_cluster_ metric', async () => {
    assert.deepEqual(clusterSamples(await new WatchMetrics().text()), []);
  });

  it('the gauges follow the status at each scrape', async () => {
    const metrics = new WatchMetrics();
    let current: ClusterStatus | undefined = status();
    metrics.setCluster(() => current);
    assert.deepEqual(clusterSamples(await metrics.text()), [
      'outlast_cluster_counted_watchers 2',
      'outlast_cluster_etcd_reachable 1',
      'outlast_cluster_leader 1',
      'outlast_cluster_origin_watchers{origin="o0",state="down"} 0',
      'outlast_cluster_origin_watchers{origin="o0",state="up"} 2',
      'outlast_cluster_origin_watchers{origin="o1",state="down"} 2',
      'outlast_cluster_origin_watchers{origin="o1",state="up"} 0',
      'outlast_cluster_quorum 2',
      'outlast_cluster_watchers 3',
    ]);

    current = status({
      leader: 'w2',
      leading: false,
      etcdReachable: false,
      quorum: 1,
      watchers: [{ id: 'w1', at: '2026-01-01T00:00:00.000Z', origins: {}, counted: true }],
      origins: { o0: { health: 'up', up: 1, down: 0 } },
    });
    assert.deepEqual(clusterSamples(await metrics.text()), [
      'outlast_cluster_counted_watchers 1',
      'outlast_cluster_etcd_reachable 0',
      'outlast_cluster_leader 0',
      'outlast_cluster_origin_watchers{origin="o0",state="down"} 0',
      'outlast_cluster_origin_watchers{origin="o0",state="up"} 1',
      'outlast_cluster_quorum 1',
      'outlast_cluster_watchers 1',
    ]);

    // Before the member exists: zeros, and no origin is counted.
    current = undefined;
    assert.deepEqual(clusterSamples(await metrics.text()), [
      'outlast_cluster_counted_watchers 0',
      'outlast_cluster_etcd_reachable 0',
      'outlast_cluster_leader 0',
      'outlast_cluster_quorum 0',
      'outlast_cluster_watchers 0',
    ]);
  });

  it('each gauge says what it counts (HELP and TYPE gauge)', async () => {
    const metrics = new WatchMetrics();
    metrics.setCluster(() => status());
    const text = await metrics.text();
    for (const name of [
      'outlast_cluster_leader',
      'outlast_cluster_watchers',
      'outlast_cluster_counted_watchers',
      'outlast_cluster_quorum',
      'outlast_cluster_origin_watchers',
      'outlast_cluster_etcd_reachable',
    ]) {
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
      assert.match(text, new RegExp(`^# TYPE ${name} gauge$`, 'm'));
    }
  });
});
