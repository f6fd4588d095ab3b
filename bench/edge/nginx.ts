/**
 * Debian's nginx as the peer: one master and `workers` worker processes (1 by default, as the
 * edge is one Node process), run in the foreground as a child of the bench with everything it
 * writes (pid, logs, temp files, proxy_cache) in its own temp dir.
 *
 * Two server blocks on one upstream of origin A then origin B (`backup`, so that A is the origin
 * in use, like the edge's `failover.order: [a, b]`), keepalive to the upstream, and
 * `proxy_next_upstream error timeout http_502 http_503 http_504` with connect and read timeouts
 * equal to the edge's firstByteTimeout (2 s): the cached one with `proxy_cache` (every 200 kept
 * for an hour, whatever its Cache-Control says, as the edge keeps every file of the release), the
 * uncached one without.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Started, startTracked, stopTracked } from './processes.ts';

export const NGINX = '/usr/sbin/nginx';

export interface NginxOptions {
  dir: string;
  workers: number;
  /** host:port of origin A's and origin B's Swift proxies. */
  upstreams: [string, string];
  /** The path every request is mapped under: /v1/AUTH_test/<container>. */
  basePath: string;
  cachedPort: number;
  uncachedPort: number;
  /** The edge's firstByteTimeout, in seconds. */
  timeoutSeconds: number;
  /** Edge's passive health: skipped for `cooldownSeconds` after failing. nginx: max_fails=1. */
  cooldownSeconds: number;
}

export function nginxConfig(o: NginxOptions): string {
  const d = o.dir;
  const location = (cache: boolean) =>
    [
      '    location / {',
      `      proxy_pass http://origins${o.basePath}/;`,
      ...(cache
        ? [
            '      proxy_cache edge;',
            '      proxy_cache_valid 200 1h;',
            '      proxy_ignore_headers Cache-Control Expires Set-Cookie;',
            '      proxy_cache_lock on;',
          ]
        : []),
      '    }',
    ].join('\n');
  return `# Written by bench/edge/nginx.ts.
${process.getuid?.() === 0 ? 'user root;\n' : ''}worker_processes ${o.workers};
pid ${d}/nginx.pid;
error_log ${d}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nodelay on;
  keepalive_timeout 65s;
  # As many requests on a connection as the edge takes (Node has no limit), not Debian's 1000.
  keepalive_requests 1000000;
  client_body_temp_path ${d}/client-body;
  proxy_temp_path ${d}/proxy-temp;
  fastcgi_temp_path ${d}/fastcgi-temp;
  uwsgi_temp_path ${d}/uwsgi-temp;
  scgi_temp_path ${d}/scgi-temp;
  proxy_cache_path ${d}/cache levels=1:2 keys_zone=edge:32m max_size=2g inactive=1h use_temp_path=off;

  upstream origins {
    server ${o.upstreams[0]} max_fails=1 fail_timeout=${o.cooldownSeconds}s;
    server ${o.upstreams[1]} backup;
    keepalive 64;
    keepalive_requests 1000000;
  }
  proxy_http_version 1.1;
  proxy_set_header Connection "";
  proxy_next_upstream error timeout http_502 http_503 http_504;
  proxy_connect_timeout ${o.timeoutSeconds}s;
  proxy_read_timeout ${o.timeoutSeconds}s;

  server {
    listen 127.0.0.1:${o.cachedPort};
${location(true)}
  }
  server {
    listen 127.0.0.1:${o.uncachedPort};
${location(false)}
  }
}
`;
}

/** `nginx -v`'s line, e.g. "nginx version: nginx/1.22.1". */
export function nginxVersion(): string {
  const result = spawnSync(NGINX, ['-v'], { encoding: 'utf8' });
  return (result.stderr || result.stdout || 'absent').trim();
}

export class Nginx {
  private started: Started | undefined;

  constructor(readonly options: NginxOptions) {}

  get cachedUrl(): string {
    return `http://127.0.0.1:${this.options.cachedPort}`;
  }
  get uncachedUrl(): string {
    return `http://127.0.0.1:${this.options.uncachedPort}`;
  }

  /** The master and its workers (CPU per request counts them all). */
  pids(): number[] {
    return this.started ? [this.started.pid] : [];
  }

  /** Writes the config, checks it (`nginx -t`), starts nginx and waits until both ports answer. */
  async start(): Promise<void> {
    const { dir } = this.options;
    mkdirSync(join(dir, 'cache'), { recursive: true });
    const conf = join(dir, 'nginx.conf');
    writeFileSync(conf, nginxConfig(this.options));
    const test = spawnSync(NGINX, ['-t', '-c', conf, '-g', 'daemon off;'], { encoding: 'utf8' });
    if (test.status !== 0) throw new Error(`nginx -t failed:\n${test.stderr}`);
    this.started = startTracked('nginx', NGINX, ['-c', conf, '-g', 'daemon off;'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const deadline = Date.now() + 10_000;
    for (;;) {
      const ok = await Promise.all(
        [this.cachedUrl, this.uncachedUrl].map((url) =>
          fetch(`${url}/`, { signal: AbortSignal.timeout(2000) })
            .then(async (response) => {
              await response.arrayBuffer();
              return true;
            })
            .catch(() => false),
        ),
      );
      if (ok.every(Boolean)) return;
      if (Date.now() > deadline) throw new Error(`nginx did not answer:\n${this.errorLog()}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  errorLog(): string {
    try {
      return readFileSync(join(this.options.dir, 'error.log'), 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no error.log)';
    }
  }

  async stop(): Promise<void> {
    if (this.started) await stopTracked(this.started);
    this.started = undefined;
  }
}
