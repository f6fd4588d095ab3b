/**
 * The origins of bench/edge: two Swift clusters (test/servers/swift.ts: A on 127.0.0.2, B on
 * 127.0.0.3), the site (bench/deploy/site.ts, plus eight 1 MiB files) deployed to both with one
 * config through `outlast setup --create` (public read) and `outlast deploy`, and what a failover
 * run does to A's proxy: SIGKILL and a restart, SIGSTOP and SIGCONT, all by the PID swift.sh
 * recorded in DATA/run/pids.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { type SwiftCluster, startSwiftClusterOnFreePort } from '../../test/servers/swift.ts';
import { contentOf, type GeneratedSite, writeSite } from '../deploy/site.ts';
import { serverPids } from '../deploy/swift-api.ts';
import { startTracked } from './processes.ts';

/** The same container on both clusters, so that nginx maps every path under one upstream path. */
export const CONTAINER = 'edge-bench';
/** The 1 MiB files: the first is "the 1 MB file" of the cached runs; the uncached runs walk all of
 * them, since one file of 1 MiB would fit the uncached edge's 1 MB cache. */
export const BIG_KEYS = Array.from({ length: 8 }, (_, i) => `assets/big/one-megabyte-${i}.bin`);
const BIG_SIZE = 1024 * 1024;
/** "Small": the site's files up to this size. */
export const SMALL_MAX_BYTES = 16 * 1024;
export const KEY_VAR = 'BENCH_SWIFT_KEY';

export interface Origins {
  a: SwiftCluster;
  b: SwiftCluster;
}

export async function startOrigins(): Promise<Origins> {
  const [a, b] = await Promise.allSettled([
    startSwiftClusterOnFreePort('127.0.0.2', 8680),
    startSwiftClusterOnFreePort('127.0.0.3', 8680),
  ]);
  if (a.status === 'fulfilled' && b.status === 'fulfilled') return { a: a.value, b: b.value };
  for (const result of [a, b]) if (result.status === 'fulfilled') await result.value.stop();
  throw [a, b].find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason;
}

/** The site, plus the 1 MiB files of noise (png-like files of site.ts, so they are deterministic). */
export function writeBenchSite(dir: string, files: number): GeneratedSite {
  const site = writeSite(dir, files);
  mkdirSync(join(dir, 'assets', 'big'), { recursive: true });
  BIG_KEYS.forEach((key, i) => {
    const big = { key, size: BIG_SIZE, kind: 'png' as const };
    writeFileSync(join(dir, ...key.split('/')), contentOf(big, files + i, site.seed, 0));
    site.files.push(big);
    site.totalBytes += BIG_SIZE;
  });
  return site;
}

/** `/` + key, for the paths lists (the keys are plain ASCII). */
export const pathOf = (key: string) => `/${key}`;

export function publicUrl(cluster: SwiftCluster): string {
  return `${cluster.storageUrl}/${CONTAINER}`;
}

/** The config shared by the deploy and both edges (`edge` is the section of the one edge). */
export function outlastConfig(
  site: GeneratedSite,
  origins: Origins,
  edge: Record<string, unknown> | undefined,
): Record<string, unknown> {
  const origin = (id: string, cluster: SwiftCluster) => ({
    id,
    url: publicUrl(cluster),
    storage: {
      type: 'swift',
      container: CONTAINER,
      auth: { type: 'tempauth', url: cluster.authUrl, user: cluster.user, key: `\${${KEY_VAR}}` },
    },
  });
  return {
    site: { dir: site.dir, hostname: 'bench.example.com' },
    origins: [origin('a', origins.a), origin('b', origins.b)],
    failover: { order: ['a', 'b'] },
    ...(edge ? { edge } : {}),
  };
}

export async function writeConfig(file: string, config: Record<string, unknown>): Promise<string> {
  await mkdir(join(file, '..'), { recursive: true });
  writeFileSync(file, stringify(config));
  return file;
}

/** `outlast setup --create` then `outlast deploy`, untimed; throws with their output on failure. */
export function deploy(bin: string, configFile: string, key: string): void {
  const env = { ...process.env, [KEY_VAR]: key, OUTLAST_LOG_LEVEL: 'warn' };
  for (const args of [
    ['setup', '--config', configFile, '--create'],
    ['deploy', '--config', configFile],
  ]) {
    const result = spawnSync(process.execPath, [bin, ...args], {
      env,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
    });
    if (result.status !== 0) {
      throw new Error(
        `outlast ${args[0]} failed (exit ${result.status}):\n${result.stdout}\n${result.stderr}`,
      );
    }
  }
}

/** Every server of both clusters (memcached included), for the origins' CPU per request. */
export function originPids(origins: Origins): number[] {
  return [...serverPids(origins.a), ...serverPids(origins.b)];
}

/** The PID of the cluster's proxy: the last `PID proxy` line of DATA/run/pids. */
export function proxyPid(cluster: SwiftCluster): number {
  const lines = readFileSync(join(cluster.dataDir, 'run', 'pids'), 'utf8').split('\n');
  const proxy = lines.filter((line) => line.endsWith(' proxy')).pop();
  if (!proxy) throw new Error(`no proxy in ${cluster.dataDir}/run/pids`);
  return Number(proxy.split(' ')[0]);
}

/**
 * Starts the cluster's proxy again after a kill, as swift.sh launched it (same config, its own
 * session, its log appended), and records its PID in DATA/run/pids so that the cluster's stop
 * (`swift.sh stop`) ends it too. Resolves once /healthcheck answers OK.
 */
export async function restartProxy(cluster: SwiftCluster): Promise<number> {
  const log = openSync(join(cluster.dataDir, 'log', 'proxy.log'), 'a');
  const conf = join(cluster.dataDir, 'etc', 'proxy-server.conf');
  const started = startTracked('swift-proxy', '/usr/bin/swift-proxy-server', [conf, '-v'], {
    detached: true,
    stdio: ['ignore', log, log],
  });
  appendFileSync(join(cluster.dataDir, 'run', 'pids'), `${started.pid} proxy\n`);
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const ok = await fetch(`http://${cluster.ip}:${cluster.port}/healthcheck`, {
      signal: AbortSignal.timeout(1000),
    })
      .then(async (response) => (await response.text()) === 'OK')
      .catch(() => false);
    if (ok) return started.pid;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the proxy of ${cluster.ip}:${cluster.port} did not come back in 30 s`);
}

/** Waits until PID has exited (or is a zombie that PID 1 has yet to reap). */
export async function waitGone(pid: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    let state: string | undefined;
    try {
      state = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ').pop()?.[0];
    } catch {
      return;
    }
    if (state === 'Z' || state === 'X') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`pid ${pid} did not exit`);
}
