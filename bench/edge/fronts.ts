/**
 * The fronts under test, started for a phase of bench/edge and stopped after it: nginx (one
 * process, a cached and an uncached server block) and `outlast edge` (one process per variant:
 * the default cache, warmed; the same with its access log on; a 1 MB cache with no memory part and
 * no warming). Both fronts run during a phase, idle while the other is measured, so that their
 * runs can alternate and a change in the machine's other load hits both alike.
 */
import { join } from 'node:path';
import { findFreePort } from '../failover/origins.ts';
import { Edge } from './edge.ts';
import { Nginx } from './nginx.ts';
import * as origin from './origins.ts';
import { EDGE, NGINX } from './report.ts';
import { type Front, fetchAll } from './runs.ts';

export interface FrontSettings {
  bin: string;
  scratch: string;
  site: ReturnType<typeof origin.writeBenchSite>;
  origins: origin.Origins;
  firstByteSeconds: number;
  cooldownSeconds: number;
  log: (line: string) => void;
}

export interface Started<T> {
  fronts: T;
  stop(): Promise<void>;
}

/** nginx with its proxy_cache filled by one GET of every path in `fill`. */
export async function startNginx(
  s: FrontSettings,
  workers: number,
  fill: string[],
): Promise<Started<{ cached: Front; uncached: Front }>> {
  const { a, b } = s.origins;
  const cachedPort = await findFreePort(['127.0.0.1'], 18300);
  const nginx = new Nginx({
    dir: join(s.scratch, 'nginx'),
    workers,
    upstreams: [`${a.ip}:${a.port}`, `${b.ip}:${b.port}`],
    basePath: new URL(origin.publicUrl(a)).pathname,
    cachedPort,
    uncachedPort: await findFreePort(['127.0.0.1'], cachedPort + 1),
    timeoutSeconds: s.firstByteSeconds,
    cooldownSeconds: s.cooldownSeconds,
  });
  s.log(`starting nginx (${workers} worker${workers > 1 ? 's' : ''})`);
  await nginx.start();
  try {
    s.log(`filling nginx’s proxy_cache (${fill.length} GETs)`);
    const failed = await fetchAll(nginx.cachedUrl, fill);
    if (failed > 0) throw new Error(`${failed} GETs through nginx failed while filling its cache`);
  } catch (error) {
    await nginx.stop();
    throw error;
  }
  const pids = () => nginx.pids();
  return {
    fronts: {
      cached: { name: NGINX, url: nginx.cachedUrl, pids },
      uncached: { name: NGINX, url: nginx.uncachedUrl, pids },
    },
    stop: () => nginx.stop(),
  };
}

export type EdgeVariant = 'cached' | 'cached-log' | 'uncached';

/** One `outlast edge`; resolves once it is ready (its cache warmed, for the cached variants). */
export async function startEdge(
  s: FrontSettings,
  variant: EdgeVariant,
): Promise<Started<Front> & { readySeconds: number }> {
  const listen = `127.0.0.1:${await findFreePort(['127.0.0.1'], 18400)}`;
  const admin = `127.0.0.1:${await findFreePort(['127.0.0.1'], 18600)}`;
  const dir = join(s.scratch, `edge-${variant}`);
  const cache = variant === 'uncached' ? { maxMegabytes: 1, memoryMegabytes: 0, warm: false } : {};
  const configFile = await origin.writeConfig(
    join(dir, 'outlast.yaml'),
    origin.outlastConfig(s.site, s.origins, {
      listen,
      admin,
      firstByteTimeout: `${s.firstByteSeconds}s`,
      cooldown: `${s.cooldownSeconds}s`,
      cache: { dir: join(dir, 'cache'), ...cache },
      accessLog: variant === 'cached-log',
    }),
  );
  const edge = new Edge({
    bin: s.bin,
    configFile,
    listen,
    admin,
    logFile: join(dir, 'edge.log'),
    env: { ...process.env, [origin.KEY_VAR]: s.origins.a.key, OUTLAST_LOG_LEVEL: 'warn' },
    warm: variant !== 'uncached',
    timeoutSeconds: 180,
  });
  s.log(`starting outlast edge (${variant})`);
  const readySeconds = await edge.start();
  s.log(`outlast edge (${variant}) ready in ${readySeconds.toFixed(1)} s`);
  const front: Front = {
    name: variant === 'cached-log' ? `${EDGE} (access log on)` : EDGE,
    url: edge.url,
    pids: () => edge.pids(),
    cacheCounters: async () => {
      const status = await edge.status();
      return { hits: status.cache.hits, misses: status.cache.misses };
    },
    describe: async () => {
      const st = await edge.status();
      const served = st.origins
        .map((o) => `${o.id} served ${o.served} (failed ${o.failed}, ${o.state})`)
        .join(', ');
      return [
        `edge /status since its start: ${st.requests.total} requests, ${st.requests.failedOver} failed over, ` +
          `${st.requests.errors} errors, ${st.requests.cacheOnly} cache-only; ${served}`,
      ];
    },
  };
  return { fronts: front, readySeconds, stop: () => edge.stop() };
}
