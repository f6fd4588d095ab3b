/**
 * Three `outlast watch` processes as one cluster on a real three-member etcd (Debian's etcd-server,
 * test/servers/etcd.ts), writing a real PowerDNS, with two origins served by `outlast serve`. The
 * third watcher reaches origin o0 through a TCP proxy of the test's, which the test can cut: that
 * watcher alone then sees o0 down. The watchers' clocks differ (libfaketime: w1 an hour behind,
 * w3 an hour ahead). Every wait polls a condition with a deadline; no timing is asserted.
 *
 *   - one leader, on which every watcher agrees; DNS answers o0;
 *   - one watcher cut off from o0: no failover (o0 up for two, down for one);
 *   - o0 dead for everyone: DNS moves to o1, and back when o0 returns;
 *   - the leader SIGKILLed: another one leads, and the handover writes nothing to DNS;
 *   - etcd without its quorum: nobody writes while o0 dies, every watcher says so; with etcd back,
 *     a leader moves DNS to o1.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { stringify } from 'yaml';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { CutProxy } from '../helpers/cut-proxy.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/ports.ts';
import { setupFsDeploy } from '../helpers/site.ts';
import { type DnsServer, query, startDnsServer } from '../servers/dns.ts';
import { type EtcdCluster, startEtcdCluster } from '../servers/etcd.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
// A PowerDNS of this file's, which logs every API request with the address it came from: each
// watcher reaches the API through a proxy of its own that connects from its own address
// (WATCHER_ADDRESS), so the server's log says which watcher wrote.
const pdns: DnsServer = await startDnsServer('pdns', {
  pdnsOptions: ['--webserver-loglevel=normal', '--loglevel=6'],
});
const API = pdns.apiUrl!;
const ZONE = `cluster-${process.pid}.test`;
const NAME = `www.${ZONE}`;
const ZONE_URL = `${API}/api/v1/servers/localhost/zones/${ZONE}.`;
const PDNS_LOG = join(pdns.dataDir, 'log', 'pdns.log');
const ADDRESS = { o0: '192.0.2.10', o1: '192.0.2.11' } as const;
const HOSTS = { o0: '127.0.0.2', o1: '127.0.0.3' } as const;
const WATCHERS = ['w1', 'w2', 'w3'] as const;
type WatcherId = (typeof WATCHERS)[number];
const WATCHER_ADDRESS: Record<WatcherId, string> = { w1: '127.0.0.21', w2: '127.0.0.22', w3: '127.0.0.23' };
/** libfaketime for multithreaded programs (Debian's faketime package, installed by etcd.sh). */
function faketimeLib(): string {
  const found = readdirSync('/usr/lib', { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join('/usr/lib', entry.name, 'faketime', 'libfaketimeMT.so.1'))
    .find((path) => existsSync(path));
  if (!found) throw new Error('libfaketimeMT.so.1 is missing: scripts/servers/etcd.sh install puts it there');
  return found;
}
/** Each watcher's wall clock, off by this much (libfaketime; the monotonic clock is left alone). */
const CLOCK: Record<WatcherId, string | undefined> = { w1: '-1h', w2: undefined, w3: '+1h' };

/** The zone's PATCHes in PowerDNS's own log, in order, by the watcher whose address sent them. */
function patchesLogged(): WatcherId[] {
  const byAddress = new Map(
    Object.entries(WATCHER_ADDRESS).map(([id, address]) => [address, id as WatcherId]),
  );
  return readFileSync(PDNS_LOG, 'utf8')
    .split('\n')
    .flatMap((line) => {
      const match =
        /\[webserver\] \S+ ([\d.]+):\d+ "PATCH \/api\/v1\/servers\/localhost\/zones\/cluster-/.exec(line);
      const id = match ? byAddress.get(match[1]!) : undefined;
      return id ? [id] : [];
    });
}
const silent = pino({ level: 'silent' });
const WAIT = 60_000;

interface ClusterStatusJson {
  id: string;
  leader?: string;
  leading: boolean;
  etcdReachable: boolean;
  quorumLost: boolean;
  origins: Record<string, { health: string; up: number; down: number }>;
  watchers: Array<{ id: string }>;
}
interface StatusJson {
  active: string[];
  cluster: ClusterStatusJson;
  origins: Array<{ originId: string; state: string; history: unknown[] }>;
  events: Array<{ kind: string; message: string }>;
}

async function api(method: string, url: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: { 'X-API-Key': pdns.apiKey!, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** What PowerDNS answers for NAME A. */
async function answer(): Promise<string> {
  const { answers } = await query(pdns, NAME, 'A');
  return answers
    .filter((item) => item.type === 'A')
    .map((item) => item.data)
    .join();
}

/** The zone's SOA serial: every write through the API moves it (SOA-EDIT-API). */
async function serial(): Promise<number> {
  const response = await api('GET', `${ZONE_URL}`);
  return ((await response.json()) as { serial: number }).serial;
}

describe('a cluster of three watchers on etcd', { timeout: 600_000 }, () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>one</h1>', '404.html': 'nope' } });
  let etcd: EtcdCluster;
  const origins: Partial<Record<'o0' | 'o1', RunningServer>> = {};
  const ports: Partial<Record<'o0' | 'o1', number>> = {};
  let proxy: CutProxy;
  /** Every notification the watchers sent to the webhook: event name and id. */
  const notified: Array<{ event: string; id: string }> = [];
  let hook: HttpServer | undefined;
  let hookUrl = '';
  const notices = (event: string) => notified.filter((item) => item.event === event);
  /** How many different events of `event` were notified since `from` (retries count once). */
  const distinct = (event: string, from = 0) =>
    new Set(
      notified
        .slice(from)
        .filter((item) => item.event === event)
        .map((item) => item.id),
    ).size;
  /** Per watcher: its way to each etcd member, and to the PowerDNS API. */
  const etcdProxies: Partial<Record<WatcherId, CutProxy[]>> = {};
  const apiProxies: Partial<Record<WatcherId, CutProxy>> = {};
  const watchers: Partial<Record<WatcherId, { child: ChildProcess; output: string; base: string }>> = {};
  const skewedPids: number[] = [];

  const serve = async (id: 'o0' | 'o1') => {
    origins[id] = await startServer({
      dir: setup.origins[id === 'o0' ? 0 : 1]!,
      host: HOSTS[id],
      port: ports[id]!,
      logger: silent,
    });
  };

  const configOf = (id: WatcherId) => {
    const file = join(setup.root, `${id}.yaml`);
    writeFileSync(
      file,
      stringify({
        site: { dir: setup.siteDir, hostname: NAME, errorDocument: '404.html' },
        origins: (['o0', 'o1'] as const).map((origin, index) => ({
          id: origin,
          storage: { type: 'fs', path: setup.origins[index] },
          url:
            origin === 'o0' && id === 'w3'
              ? `http://127.0.0.1:${proxy.port}`
              : `http://${HOSTS[origin]}:${ports[origin]}`,
          dns: { a: [ADDRESS[origin]] },
        })),
        health: { interval: '500ms', retryInterval: '200ms', timeout: '1s', fall: 2, rise: 2 },
        failover: { holdDown: '6s' },
        dns: {
          name: NAME,
          ttl: 5,
          providers: [
            {
              type: 'powerdns',
              url: `http://127.0.0.1:${apiProxies[id]!.port}`,
              zone: ZONE,
              apiKey: pdns.apiKey,
            },
          ],
        },
        watch: {
          listen: '127.0.0.1:0',
          stateDir: join(setup.root, `state-${id}`),
          notify: {
            events: ['failover', 'failback', 'origin-down', 'origin-up', 'quorum-lost'],
            webhooks: [{ url: hookUrl }],
          },
          cluster: {
            id,
            etcd: { endpoints: etcdProxies[id]!.map((item) => `http://127.0.0.1:${item.port}`) },
            quorum: 2,
            leaseTtl: '2s',
          },
        },
      }),
    );
    return file;
  };

  const startWatcher = async (id: WatcherId) => {
    const skew = CLOCK[id];
    // libfaketime preloaded into the watcher itself (the `faketime` wrapper would fork, and the
    // test's SIGKILL would hit the wrapper, not the watcher).
    const child = spawn(process.execPath, [BIN, 'watch', '--config', configOf(id)], {
      cwd: setup.root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: skew
        ? {
            ...process.env,
            LD_PRELOAD: faketimeLib(),
            FAKETIME: skew,
            FAKETIME_DONT_FAKE_MONOTONIC: '1',
          }
        : process.env,
    });
    // libfaketime keeps a semaphore and a shared-memory block per process, which a SIGKILL leaves
    // behind: removed for these PIDs in `after`.
    if (skew && child.pid !== undefined) skewedPids.push(child.pid);
    const entry = { child, output: '', base: '' };
    const keep = (chunk: Buffer) => {
      entry.output += chunk;
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    watchers[id] = entry;
    await eventually(
      `${id} says where its status is`,
      async () => /status: http:\S+\/status/.test(entry.output),
      WAIT,
    );
    entry.base = /status: (http:\S+)\/status/.exec(entry.output)![1]!;
  };

  const status = async (id: WatcherId): Promise<StatusJson | undefined> => {
    const entry = watchers[id];
    if (!entry?.base || entry.child.exitCode !== null || entry.child.signalCode !== null) return undefined;
    try {
      return (await (await fetch(`${entry.base}/status`)).json()) as StatusJson;
    } catch {
      return undefined;
    }
  };
  const alive = () =>
    WATCHERS.filter(
      (id) => watchers[id] && watchers[id].child.exitCode === null && !watchers[id].child.signalCode,
    );
  const leaders = async () => {
    const found: WatcherId[] = [];
    for (const id of alive()) if ((await status(id))?.cluster.leading) found.push(id);
    return found;
  };
  /** What every live watcher says of the cluster, for failure messages. */
  const describeCluster = async () => {
    const lines: string[] = [];
    for (const id of alive()) {
      const whole = await status(id);
      const view = whole?.cluster;
      const events = whole?.events.slice(-12).map((event) => `${event.kind}: ${event.message}`);
      const seen = Object.entries(view?.origins ?? {})
        .map(([origin, item]) => `${origin} ${item.health} (${item.up} up, ${item.down} down)`)
        .join(', ');
      const own = whole?.origins.map((origin) => `${origin.originId} ${origin.state}`).join(', ');
      lines.push(
        `${id}: leader ${view?.leader}, leading ${view?.leading}, etcd ${view?.etcdReachable}, active ${whole?.active}, quorum view ${seen}, its own view ${own}, watchers ${view?.watchers.map((item) => item.id)}; ${events?.join(' | ')}`,
      );
    }
    return lines.join('\n');
  };
  /** Waits until PowerDNS answers `origin`; says what each watcher says when it does not. */
  const dnsAnswers = async (origin: 'o0' | 'o1', what = `DNS answers ${origin}`) => {
    try {
      await eventually(what, async () => (await answer()) === ADDRESS[origin], WAIT);
    } catch (error) {
      const now = await answer().catch(String);
      throw new Error(`${(error as Error).message} (it answers ${now})\n${await describeCluster()}`);
    }
  };
  /** Waits for one leader that every live watcher names; says what each one says when there is none. */
  const awaitLeader = async (what: string, unlike?: WatcherId): Promise<WatcherId> => {
    let found: WatcherId | undefined;
    try {
      await eventually(
        what,
        async () => {
          found = await agreedLeader();
          return found !== undefined && found !== unlike;
        },
        WAIT,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\n${await describeCluster()}`);
    }
    return found!;
  };
  /** Every live watcher names `leader` as the leader, and only it leads. */
  const agreedLeader = async (): Promise<WatcherId | undefined> => {
    const leading = await leaders();
    if (leading.length !== 1) return undefined;
    for (const id of alive()) if ((await status(id))?.cluster.leader !== leading[0]) return undefined;
    return leading[0];
  };

  before(async () => {
    etcd = await startEtcdCluster();
    const created = await api('POST', `${API}/api/v1/servers/localhost/zones`, {
      name: `${ZONE}.`,
      kind: 'Native',
      nameservers: [`ns1.${ZONE}.`],
    });
    assert.equal(created.status, 201, await created.text());
    for (const id of ['o0', 'o1'] as const) {
      ports[id] = await freePort(HOSTS[id]);
      await serve(id);
    }
    proxy = new CutProxy({ host: HOSTS.o0, port: ports.o0! });
    await proxy.start();
    const apiPort = Number(new URL(API).port);
    for (const id of WATCHERS) {
      etcdProxies[id] = etcd.endpoints.map((endpoint) => {
        const url = new URL(endpoint);
        return new CutProxy({ host: url.hostname, port: Number(url.port) });
      });
      apiProxies[id] = new CutProxy({ host: pdns.host, port: apiPort, localAddress: WATCHER_ADDRESS[id] });
      for (const item of [...etcdProxies[id]!, apiProxies[id]!]) await item.start();
    }
    hook = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => {
        notified.push({
          event: String(req.headers['x-outlast-event']),
          id: String(req.headers['x-outlast-event-id']),
        });
        res.writeHead(200).end();
      });
    });
    await new Promise<void>((resolve) => hook!.listen(0, '127.0.0.1', resolve));
    hookUrl = `http://127.0.0.1:${(hook.address() as { port: number }).port}/hook`;
    const deployed = await runDeploy({ config: setup.config, cacheDir: null });
    assert.ok(deployed.origins.every((origin) => !origin.error));
    for (const id of WATCHERS) await startWatcher(id);
  });

  after(async () => {
    for (const entry of Object.values(watchers)) {
      if (entry && entry.child.exitCode === null && !entry.child.signalCode) entry.child.kill('SIGKILL');
    }
    await Promise.all(Object.values(origins).map((server) => server?.close()));
    await proxy?.stop();
    hook?.closeAllConnections();
    await new Promise((resolve) => hook?.close(resolve));
    for (const item of [...Object.values(etcdProxies).flat(), ...Object.values(apiProxies)])
      await item?.stop();
    await etcd?.stop();
    await pdns.stop();
    for (const pid of skewedPids) {
      for (const name of [`faketime_shm_${pid}`, `sem.faketime_sem_${pid}`])
        rmSync(join('/dev/shm', name), { force: true });
    }
    setup.cleanup();
  });

  it('elects one leader that every watcher names; DNS answers o0', async () => {
    await dnsAnswers('o0');
    const leader = await awaitLeader('one leader, named by all');
    const view = (await status(leader))!.cluster;
    assert.deepEqual(
      view.watchers.map((watcher) => watcher.id),
      [...WATCHERS],
    );
  });

  it('one watcher cut off from o0 moves nothing', async () => {
    proxy.setCut(true);
    await eventually(
      'w3 sees o0 down',
      async () => (await status('w3'))?.origins.find((origin) => origin.originId === 'o0')?.state === 'down',
      WAIT,
    );
    const before = await serial();
    await eventually(
      'the leader counts o0 up by two, down by one',
      async () => {
        const leader = await agreedLeader();
        const o0 = leader ? (await status(leader))!.cluster.origins.o0 : undefined;
        return o0?.health === 'up' && o0.up === 2 && o0.down === 1;
      },
      WAIT,
    );
    assert.equal(await answer(), ADDRESS.o0, 'DNS still answers o0');
    assert.equal(await serial(), before, 'nothing was written');
    proxy.setCut(false);
    await eventually(
      'w3 sees o0 up again',
      async () => (await status('w3'))?.origins.find((origin) => origin.originId === 'o0')?.state === 'up',
      WAIT,
    );
  });

  it('o0 dead for everyone: DNS moves to o1, and back when o0 returns; people are told once', async () => {
    const before = notified.length;
    await origins.o0!.close();
    await dnsAnswers('o1');
    await serve('o0');
    await dnsAnswers('o0', 'DNS answers o0 again');
    await eventually('the failback was notified', async () => notices('failback').length > 0, WAIT);
    const sent = notified.slice(before).map((item) => item.event);
    assert.deepEqual(
      ['origin-down', 'failover', 'origin-up', 'failback'].map(
        (event) => sent.filter((item) => item === event).length,
      ),
      [1, 1, 1, 1],
      `one notification of each, from the leader only: ${sent.join(', ')}`,
    );
  });

  it('the leader SIGKILLed: another leads, and the handover writes nothing', async () => {
    const old = await awaitLeader('a leader to kill');
    const before = await serial();
    watchers[old]!.child.kill('SIGKILL');
    await eventually(`${old} is gone`, async () => watchers[old]!.child.signalCode === 'SIGKILL', WAIT);
    const next = await awaitLeader('another watcher leads', old);
    // The new leader has probed and decided for a while: two more probes of each origin.
    const seen = (await status(next))!.origins.map((origin) => origin.history.length);
    await eventually(
      'the new leader probes on',
      async () =>
        (await status(next))!.origins.every((origin, index) => origin.history.length >= seen[index]! + 2),
      WAIT,
    );
    assert.equal(await serial(), before, 'the handover wrote nothing to DNS');
    assert.equal(await answer(), ADDRESS.o0);
    assert.equal(notices('failover').length, 1, 'the handover notified nothing again');
    await startWatcher(old);
    await eventually(
      'three watchers again',
      async () => (await status(next))?.cluster.watchers.length === 3,
      WAIT,
    );
  });

  /** SIGKILLs `id` and waits until another watcher leads, named by every live one. */
  const killLeader = async (id: WatcherId) => {
    watchers[id]!.child.kill('SIGKILL');
    await eventually(`${id} is gone`, async () => watchers[id]!.child.signalCode === 'SIGKILL', WAIT);
    await awaitLeader('another watcher leads', id);
  };
  const restartWatcher = async (id: WatcherId) => {
    await startWatcher(id);
    await eventually(
      'three watchers again',
      async () => {
        const leader = await agreedLeader();
        return leader !== undefined && (await status(leader))?.cluster.watchers.length === 3;
      },
      WAIT,
    );
  };

  it('a handover during a hold-down goes on with the time left, whatever the clocks say', async () => {
    // w3's clock is an hour ahead of the others: let it lead, so that the one taking over from it
    // would wait an hour if it compared w3's times with its own.
    for (
      let leader = await awaitLeader('a leader');
      leader !== 'w3';
      leader = await awaitLeader('a leader')
    ) {
      await killLeader(leader);
      await restartWatcher(leader);
    }
    await origins.o0!.close();
    await dnsAnswers('o1');
    await serve('o0');
    await eventually(
      'the cluster sees o0 up again',
      async () => (await status('w3'))?.cluster.origins.o0?.health === 'up',
      WAIT,
    );
    await killLeader('w3');
    await eventually('the new leader fails back to o0', async () => (await answer()) === ADDRESS.o0, WAIT);
    await restartWatcher('w3');
  });

  it('20 leader kills in a row, origins failing meanwhile: DNS only ever moves to an origin that is up', async () => {
    const up = { o0: true, o1: true };
    const moves: string[] = [];
    let last = await answer();
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await answer().catch(() => last);
        if (now !== last) {
          const id = now === ADDRESS.o0 ? 'o0' : now === ADDRESS.o1 ? 'o1' : undefined;
          moves.push(`${now} (${id && up[id] ? 'up' : 'DOWN'})`);
          last = now;
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const flips = { down: 0, up: 0 };
    const sentBefore = notified.length;
    const flip = async (id: 'o0' | 'o1') => {
      if (up[id]) {
        up[id] = false;
        flips.down++;
        await origins[id]!.close();
      } else {
        await serve(id);
        up[id] = true;
        flips.up++;
      }
    };
    try {
      for (let round = 0; round < 20; round++) {
        // A seeded walk: every third round one origin (never both) dies or comes back.
        if (round % 3 === 1) {
          const id = round % 2 === 0 ? 'o0' : 'o1';
          const other = id === 'o0' ? 'o1' : 'o0';
          if (up[other] || !up[id]) await flip(id);
        }
        const leader = await awaitLeader(`a leader to kill (round ${round + 1})`);
        await killLeader(leader);
        await restartWatcher(leader);
      }
      for (const id of ['o0', 'o1'] as const) if (!up[id]) await flip(id);
      await dnsAnswers('o0', 'DNS answers o0 at the end');
      await eventually(
        'every return was notified',
        async () => distinct('origin-up', sentBefore) >= flips.up,
        WAIT,
      );
    } finally {
      sampling = false;
      await sampler;
    }
    // Each origin's death and return was told once: no event lost, none raised again by a new
    // leader. (A leader killed after a send but before it could note it in etcd leaves the
    // next one to send it again, with the same X-Outlast-Event-Id, for the receiver to drop.)
    assert.deepEqual(
      [distinct('origin-down', sentBefore), distinct('origin-up', sentBefore)],
      [flips.down, flips.up],
      `distinct notifications for ${flips.down} deaths and ${flips.up} returns: ${notified
        .slice(sentBefore)
        .map((item) => `${item.event} ${item.id.slice(0, 12)}`)
        .join(', ')}`,
    );
    assert.deepEqual(
      moves.filter((move) => move.endsWith('(DOWN)')),
      [],
      `every move of the answer was to an origin that was up: ${moves.join(', ')}`,
    );
  });

  it('a leader cut off from etcd stops writing before another leads: never two writers', async () => {
    const old = await awaitLeader('a leader to cut off');
    const mark = patchesLogged().length;
    for (const item of etcdProxies[old]!) item.setCut(true);
    // The cut-off leader is asked to write at once (it may still think it leads for a moment)…
    const token = readFileSync(join(setup.root, `state-${old}`, 'token'), 'utf8').trim();
    const forced = await fetch(`${watchers[old]!.base}/actions/force`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ origins: ['o1'] }),
    });
    assert.ok(forced.status < 500, `force answered ${forced.status}`);
    // …and everyone (it too: it still reaches the origins and PowerDNS) sees o0 die.
    await origins.o0!.close();
    await eventually(
      'another watcher leads',
      async () => {
        const leading = await leaders();
        return leading.length === 1 && leading[0] !== old;
      },
      WAIT,
    );
    await dnsAnswers('o1');
    const next = (await leaders())[0]!;
    const view = (await status(old))!;
    assert.equal(view.cluster.leading, false, `${old} knows it does not lead`);
    assert.ok(
      view.events.some((event) => event.kind === 'deposed'),
      `${old} says it was deposed`,
    );
    const after = patchesLogged().slice(mark);
    assert.ok(after.length > 0, 'the failover was written');
    assert.deepEqual(
      after.filter((id) => id !== next),
      [],
      `every PATCH since the cut came from the new leader ${next} (PowerDNS's log: ${after.join(', ')})`,
    );
    for (const item of etcdProxies[old]!) item.setCut(false);
    await eventually(
      `${old} is back among the watchers`,
      async () => (await status(next))?.cluster.watchers.length === 3,
      WAIT,
    );
    await serve('o0');
    await dnsAnswers('o0', 'DNS answers o0 again');
    // Across the whole run, the log never interleaves two writers: one writer per stretch, each
    // stretch a leadership (kept for the record; the assertion above is the partition's).
    assert.ok(patchesLogged().length >= 2);
  });

  it('one etcd member dies: the watchers go on through the others', async () => {
    await etcd.kill(3);
    await origins.o0!.close();
    await dnsAnswers('o1');
    await awaitLeader('a leader all agree on');
    await serve('o0');
    await dnsAnswers('o0', 'DNS answers o0 again');
    await etcd.restart(3);
  });

  it('etcd without its quorum: nobody writes, everyone says so; etcd back, the leader moves DNS', async () => {
    await etcd.kill(1);
    await etcd.kill(2);
    await eventually(
      'no watcher leads, each one says etcd is unreachable',
      async () => {
        for (const id of alive()) {
          const view = await status(id);
          if (!view || view.cluster.leading || view.cluster.etcdReachable) return false;
        }
        return true;
      },
      WAIT,
    );
    const before = await serial();
    await origins.o0!.close();
    await eventually(
      'every watcher sees o0 down',
      async () => {
        for (const id of alive()) {
          const view = await status(id);
          if (view?.origins.find((origin) => origin.originId === 'o0')?.state !== 'down') return false;
        }
        return true;
      },
      WAIT,
    );
    assert.equal(await serial(), before, 'nothing written without etcd');
    assert.equal(await answer(), ADDRESS.o0);
    await etcd.restart(1);
    await etcd.restart(2);
    await awaitLeader('a leader again');
    await dnsAnswers('o1');
    await serve('o0');
    await dnsAnswers('o0', 'DNS answers o0 again');
  });
});
