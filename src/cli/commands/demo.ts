/**
 * `outlast demo` (what `npm start` runs): the whole system on one machine, no cloud account.
 * It deploys examples/site to two directory origins, serves each over HTTP on its own 127.0.0.x
 * address, and runs the watcher with outlast's own authoritative DNS server and its dashboard.
 * Stop an origin (a key, or a dashboard button) and watch the name move. Ctrl-C stops everything
 * it started.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { type DemoControls, startStatusServer } from '../../daemon/http.ts';
import { Watcher } from '../../daemon/watcher.ts';
import { runDeploy } from '../../deploy/engine.ts';
import { type RunningEdge, startEdge } from '../../edge/edge.ts';
import { OutlastError } from '../../errors.ts';
import { type RunningServer, startServer } from '../../serve/server.ts';
import { parseListen } from '../../util/listen.ts';
import { componentLogger } from '../../util/log.ts';
import { EXIT } from '../exit.ts';
import { formatBytes, formatCount } from '../format.ts';
import type { GlobalOptions } from '../options.ts';
import { runDrill } from './drill.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
const EXAMPLE_SITE = fileURLToPath(new URL('../../../examples/site', import.meta.url));
const ORIGIN_HOSTS = ['127.0.0.2', '127.0.0.3'];
const NAME = 'www.demo.test';

export interface DemoOptions extends GlobalOptions {
  dir: string;
  dns: string;
  status: string;
  /** Where the demo's edge serves the site (`outlast edge`). */
  edge: string;
  port: string;
  keys?: boolean;
  /** Run the outage by itself, print a report and exit. */
  drill?: boolean;
}

/** The demo's config, as a user would write it (`--verbose` prints it). */
export function demoConfigText(options: {
  dir: string;
  dns: string;
  status: string;
  port: number;
  edge: string;
}): string {
  const base = resolve(options.dir);
  return stringify({
    site: {
      dir: EXAMPLE_SITE,
      hostname: NAME,
      errorDocument: '404.html',
      headers: [
        { match: 'assets/**', cacheControl: 'public, max-age=31536000, immutable' },
        { match: '**/*.html', cacheControl: 'public, max-age=60' },
      ],
    },
    origins: ['a', 'b'].map((letter, index) => ({
      id: `local-${letter}`,
      storage: { type: 'fs', path: resolve(base, 'origins', letter) },
      url: `http://${ORIGIN_HOSTS[index]}:${options.port}`,
      dns: { a: [ORIGIN_HOSTS[index]] },
    })),
    health: { interval: '1s', timeout: '1s', retryInterval: '250ms', fall: 2, rise: 2 },
    failover: { policy: 'priority', failback: 'auto', holdDown: '10s' },
    dns: {
      name: NAME,
      ttl: 5,
      providers: [
        {
          type: 'embedded',
          listen: [options.dns],
          zone: 'demo.test',
          nameservers: ['ns1.demo.test.'],
          records: [{ name: 'ns1', type: 'A', value: '127.0.0.1' }],
        },
      ],
    },
    watch: { listen: options.status, stateDir: resolve(base, 'state') },
    // The edge: the site on one address that keeps answering while an origin stops (no DNS wait).
    edge: {
      listen: options.edge,
      admin: '127.0.0.1:0',
      firstByteTimeout: '1s',
      accessLog: false,
      cache: { dir: resolve(base, 'edge-cache') },
    },
  });
}

/** Starts and stops the demo's origin servers (for the keys and the dashboard's buttons). */
class LocalOrigins implements DemoControls {
  private readonly servers = new Map<string, RunningServer | undefined>();

  constructor(
    private readonly config: Config,
    private readonly port: number,
  ) {}

  list() {
    return this.config.origins.map((origin) => ({
      id: origin.id,
      running: this.servers.get(origin.id) !== undefined,
    }));
  }

  async start(id: string): Promise<void> {
    if (this.servers.get(id)) return;
    const index = this.config.origins.findIndex((origin) => origin.id === id);
    const origin = this.config.origins[index];
    if (!origin || origin.storage.type !== 'fs')
      throw new OutlastError('invalid_argument', `no local origin ${id}`);
    this.servers.set(
      id,
      await startServer({ dir: origin.storage.path, host: ORIGIN_HOSTS[index]!, port: this.port }),
    );
  }

  async stop(id: string): Promise<void> {
    const server = this.servers.get(id);
    this.servers.set(id, undefined);
    await server?.close();
  }

  async toggle(id: string): Promise<boolean> {
    if (this.servers.get(id)) await this.stop(id);
    else await this.start(id);
    return this.servers.get(id) !== undefined;
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.servers.keys()].map((id) => this.stop(id)));
  }
}

export async function demoCommand(options: DemoOptions): Promise<number> {
  const port = Number(options.port);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new OutlastError('invalid_argument', `--port ${options.port}: expected a port number`);
  }
  parseListen(options.dns);
  parseListen(options.edge);
  const status = parseListen(options.status);
  const text = demoConfigText({
    dir: options.dir,
    dns: options.dns,
    status: options.status,
    port,
    edge: options.edge,
  });
  if (options.verbose) out(`# the demo's config\n${text}`);
  const { config } = parseConfig(text, '<demo config>');

  out(`outlast demo: publishing ${EXAMPLE_SITE} to two local origins`);
  const deployed = await runDeploy({ config });
  for (const origin of deployed.origins) {
    if (origin.error) throw origin.error;
    out(
      `  ${origin.originId}  release ${origin.release}: uploaded ${origin.result?.uploaded ?? 0}, unchanged ${origin.plan?.unchanged ?? 0}`,
    );
  }
  out(`  ${formatCount(deployed.scan.files.length, 'file')}, ${formatBytes(deployed.scan.totalBytes)}\n`);

  const origins = new LocalOrigins(config, port);
  const logger = componentLogger('demo');
  let watcher: Watcher | undefined;
  let server: Awaited<ReturnType<typeof startStatusServer>> | undefined;
  let edge: RunningEdge | undefined;
  try {
    for (const origin of config.origins) await origins.start(origin.id);
    watcher = new Watcher({ config, logger });
    watcher.subscribe((event) => out(`${event.at.slice(11, 19)}  ${event.kind.padEnd(9)} ${event.message}`));
    await watcher.start();
    const token = await watcher.store.token();
    server = await startStatusServer(watcher, {
      host: status.host,
      port: status.port,
      token,
      logger,
      demo: origins,
    });
    edge = await startEdge({ config, healthView: watcher.healthView(), logger });
    watcher.attachEdge(edge);
    const [dnsHost, dnsPort] = [parseListen(options.dns).host, parseListen(options.dns).port];
    out('');
    out('outlast demo is running. Ctrl-C stops everything it started.');
    out(`  the site, on two origins:  ${config.origins.map((origin) => `${origin.url}/`).join('   ')}`);
    out(`  the site, through the edge: ${edge.urls[0]}/   (keeps loading while you stop an origin)`);
    out(`  the name that moves:       dig @${dnsHost} -p ${dnsPort} ${NAME} +short`);
    // The token in the fragment, which a browser never sends: the page takes it and unlocks.
    out(`  the dashboard:             ${dashboardLink(server.url, token)}   (the link unlocks its buttons)`);
    const ids = config.origins.map((origin) => origin.id);
    out(
      `  cause an outage:           ${outageHint(ids, process.stdin.isTTY === true && options.keys !== false)}`,
    );
    out(
      `  expected failover time:    ~${watcher.status().expectedFailoverSeconds} s for a browser (here DNS itself moves in ~2 s)`,
    );
    out('');
    if (options.drill) return await drill(config, origins, { host: dnsHost, port: dnsPort }, edge.urls[0]!);
    await waitForQuit(origins, options.keys !== false);
    out('\nstopping…');
    return EXIT.ok;
  } finally {
    await edge?.close();
    await server?.close();
    await watcher?.stop();
    await origins.stopAll();
  }
}

/**
 * The dashboard's address with the token in the fragment (`/#token=…`): the page keeps it in the
 * tab and takes it out of the address bar; a fragment is never sent to a server nor in its logs.
 * Only the demo prints it: `outlast watch` prints no token, its user types it.
 */
export function dashboardLink(serverUrl: string, token: string): string {
  return `${serverUrl}/#token=${encodeURIComponent(token)}`;
}

/** How to stop an origin: with the keys when there are some (a terminal, no --no-keys), else the dashboard. */
export function outageHint(originIds: string[], keys: boolean): string {
  const [first = 'local-a', second = 'local-b'] = originIds;
  return keys
    ? `press 1 or 2 to stop or start ${first} or ${second}, or use the dashboard's Stop and Start buttons`
    : `use the dashboard's Stop and Start buttons (under "Demo origins")`;
}

/** Resolves on Ctrl-C, SIGTERM or `q`; keys 1 and 2 toggle the origins (on a terminal). */
function waitForQuit(origins: LocalOrigins, keys: boolean): Promise<void> {
  return new Promise((resolveQuit) => {
    const stdin = process.stdin;
    const raw = keys && stdin.isTTY;
    const onKey = (chunk: Buffer) => {
      const key = chunk.toString();
      if (key === '\u0003' || key === 'q') return finish();
      const index = ['1', '2'].indexOf(key);
      const id = origins.list()[index]?.id;
      if (id) {
        void origins.toggle(id).then((running) => out(`(you ${running ? 'started' : 'stopped'} ${id})`));
      }
    };
    const finish = () => {
      process.off('SIGINT', finish);
      process.off('SIGTERM', finish);
      if (raw) {
        stdin.off('data', onKey);
        stdin.setRawMode(false);
        stdin.pause();
      }
      resolveQuit();
    };
    process.on('SIGINT', finish);
    process.on('SIGTERM', finish);
    if (raw) {
      stdin.setRawMode(true);
      stdin.resume();
      stdin.on('data', onKey);
    }
  });
}

async function drill(
  config: Config,
  origins: LocalOrigins,
  dns: { host: string; port: number },
  edgeUrl: string,
): Promise<number> {
  const [primary, secondary] = config.origins as [Config['origins'][number], Config['origins'][number]];
  out(
    `drill: stopping ${primary.id}, then starting it again, timed with real DNS queries to ${dns.host}:${dns.port}`,
  );
  // A visitor of the edge all along: a page every 50 ms while the origin stops and comes back.
  const visitor = visitEdge(`${edgeUrl}/`);
  const report = await runDrill(
    { ...dns, name: NAME },
    {
      primary: primary.id,
      secondary: secondary.id,
      primaryAddress: ORIGIN_HOSTS[0]!,
      secondaryAddress: ORIGIN_HOSTS[1]!,
    },
    origins,
  );
  const visits = await visitor.stop();
  const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
  const health = config.health;
  out('');
  out('drill report');
  out(
    `  failover: ${NAME} answered ${secondary.id} ${seconds(report.failoverMs)} after ${primary.id} stopped ` +
      `(probes every ${health.interval / 1000} s, retried after ${health.retryInterval} ms, down after ${health.fall} failures)`,
  );
  out(
    `  failback: ${NAME} answered ${primary.id} again ${seconds(report.failbackMs)} after it came back ` +
      `(up after ${health.rise} passes, then the ${config.failover.holdDown / 1000} s hold-down since the failover)`,
  );
  out(`  DNS:      ${report.queries} queries, ${report.unanswered} unanswered`);
  out(`  edge:     ${visits.total} page loads through ${edgeUrl}/ meanwhile, ${visits.failed} failed`);
  out(
    `  a browser would follow after about ${seconds(report.failoverMs + config.dns!.ttl * 1000 + 60_000)} (this + the TTL + its 60 s DNS cache)`,
  );
  return report.unanswered === 0 && visits.failed === 0 ? EXIT.ok : EXIT.failed;
}

/** Loads `url` every 50 ms until stopped, counting the loads and the ones that failed. */
function visitEdge(url: string): { stop(): Promise<{ total: number; failed: number }> } {
  const counts = { total: 0, failed: 0 };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      counts.total += 1;
      try {
        const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
        await response.arrayBuffer();
        if (response.status !== 200) counts.failed += 1;
      } catch {
        counts.failed += 1;
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return counts;
    },
  };
}
