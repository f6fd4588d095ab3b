/**
 * The fence of the watcher cluster (src/cluster/etcd.ts) on a real three-member etcd: two
 * coordinators campaign; the leader reaches etcd through a TCP proxy that the test cuts. The leader
 * must give leadership up (its `deposed` event) before the other one is elected, refuse every
 * fenced write from the cut on, and the new leader's fenced writes must pass. Both coordinators
 * run in this process, so their events are ordered on one clock.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { type CoordinatorEvents, EtcdCoordinator } from '../../src/cluster/etcd.ts';
import { clusterSchema } from '../../src/cluster/options.ts';
import { CutProxy } from '../helpers/cut-proxy.ts';
import { eventually } from '../helpers/eventually.ts';
import { type EtcdCluster, startEtcdCluster } from '../servers/etcd.ts';

const silent = pino({ level: 'silent' });
const PREFIX = `/outlast-fence-${process.pid}/`;

/** A coordinator and what it said, in order, with the time (this process's monotonic clock). */
function member(id: string, endpoints: string[]) {
  const said: Array<{ what: string; at: number }> = [];
  const note = (what: string) => said.push({ what, at: performance.now() });
  const events: CoordinatorEvents = {
    views: () => undefined,
    leader: () => undefined,
    elected: () => note('elected'),
    deposed: (reason) => note(`deposed: ${reason}`),
    etcd: (reachable) => note(reachable ? 'etcd up' : 'etcd down'),
    state: () => undefined,
    action: () => undefined,
  };
  const config = clusterSchema.parse({ id, etcd: { endpoints }, leaseTtl: '2s' });
  const coordinator = new EtcdCoordinator(config, PREFIX, events, silent);
  return { coordinator, said, first: (what: string) => said.find((item) => item.what.startsWith(what)) };
}

describe('the cluster fence on a real etcd', { timeout: 120_000 }, () => {
  let etcd: EtcdCluster;
  let proxies: CutProxy[] = [];

  before(async () => {
    etcd = await startEtcdCluster();
    proxies = etcd.endpoints.map((endpoint) => {
      const url = new URL(endpoint);
      return new CutProxy({ host: url.hostname, port: Number(url.port) });
    });
    for (const proxy of proxies) await proxy.start();
  });

  after(async () => {
    for (const proxy of proxies) await proxy.stop();
    await etcd?.stop();
  });

  it('a leader cut off from etcd is deposed before the next one is elected, and writes nothing', async () => {
    const view = (id: string) => ({ id, at: new Date().toISOString(), origins: {} });
    const a = member(
      'a',
      proxies.map((proxy) => `http://127.0.0.1:${proxy.port}`),
    );
    await a.coordinator.start(view('a'));
    await eventually('a is elected', async () => a.first('elected') !== undefined, 30_000);
    const b = member('b', etcd.endpoints);
    await b.coordinator.start(view('b'));
    try {
      assert.ok(a.coordinator.isLeader());
      await a.coordinator.saveFenced({ state: { by: 'a' } }, 'save the failover state');
      assert.ok(await a.coordinator.fenced('write DNS'), 'the leader may write');
      await assert.rejects(b.coordinator.fenced('write DNS'), /not the cluster's leader/);

      for (const proxy of proxies) proxy.setCut(true);
      const cutAt = performance.now();
      await assert.rejects(a.coordinator.fenced('write DNS'), 'no write once cut off');
      await eventually('b is elected', async () => b.first('elected') !== undefined, 30_000);
      const deposed = a.first('deposed');
      const elected = b.first('elected')!;
      assert.ok(deposed, `a was deposed (${a.said.map((item) => item.what).join('; ')})`);
      assert.ok(deposed.at > cutAt);
      assert.ok(
        deposed.at < elected.at,
        `a gave up at +${Math.round(deposed.at - cutAt)} ms, before b was elected at +${Math.round(elected.at - cutAt)} ms`,
      );
      assert.equal(a.coordinator.isLeader(), false);
      await assert.rejects(a.coordinator.fenced('write DNS'), /not the cluster's leader/);
      await assert.rejects(
        a.coordinator.saveFenced({ state: { by: 'a' } }, 'save'),
        /not the cluster's leader/,
      );
      await b.coordinator.saveFenced({ state: { by: 'b' }, outbox: [] }, 'save the failover state');
      assert.deepEqual(await b.coordinator.loadState(), { by: 'b' });
      assert.ok(await b.coordinator.fenced('write DNS'));
    } finally {
      for (const proxy of proxies) proxy.setCut(false);
      await a.coordinator.stop();
      await b.coordinator.stop();
    }
  });
});
