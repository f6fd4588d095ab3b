/**
 * The third contestant: outlast's own native failover (`failover: native` on the bench's PowerDNS,
 * src/dns/providers/powerdns-native.ts). outlast writes a LUA record at its own name once, with
 * `outlast dns apply`; from then on PowerDNS checks the origins and moves the answer itself, with
 * no watcher involved. The record's code asks `ifurlextup` in two release tiers (origins on the
 * live release first, then any release), one group per origin in `failover.order`.
 *
 * `outlast dns apply` runs as the user runs it, a child process `node bin/outlast.js dns apply
 * --config … --json`, with the provider's `url` pointing at a counting forwarder (127.0.0.1, an
 * ephemeral port) in front of the PowerDNS API: every request it makes is recorded (method, path
 * and query, status; never a header, so never the API key). A second apply with nothing changed
 * is the measurement: its target is reads only.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const OUTLAST = join(REPO, 'bin', 'outlast.js');
const APPLY_TIMEOUT_MS = 60_000;

export interface ForwardedRequest {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  /** The PowerDNS API's status (502 when the forwarder could not reach it). */
  status: number;
}

export interface CountingForwarder {
  /** `http://127.0.0.1:PORT`: give this to the provider as its `url`. */
  url: string;
  /** The requests since the last `take()`, oldest first; clears the list. */
  take(): ForwardedRequest[];
  close(): Promise<void>;
}

/**
 * An HTTP forwarder on 127.0.0.1 to `targetUrl` (the PowerDNS API) that records every request.
 * `keepHost`: pass the client's Host header unchanged (a request signed over it, SigV4, stays valid).
 */
export async function startCountingForwarder(
  targetUrl: string,
  options: { keepHost?: boolean } = {},
): Promise<CountingForwarder> {
  const target = new URL(targetUrl);
  let seen: ForwardedRequest[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const record: ForwardedRequest = { method: incoming.method ?? '?', path: incoming.url ?? '', status: 0 };
    seen.push(record);
    const upstream = httpRequest(
      {
        host: target.hostname,
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: options.keepHost ? incoming.headers : { ...incoming.headers, host: target.host },
      },
      (answer: IncomingMessage) => {
        record.status = answer.statusCode ?? 0;
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    upstream.on('error', (error) => {
      record.status = 502;
      if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
      outgoing.end(`forwarder: ${error.message}`);
    });
    incoming.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    take() {
      const out = seen;
      seen = [];
      return out;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface NativeConfigOptions {
  file: string;
  name: string;
  siteDir: string;
  originDirs: [string, string];
  originUrls: [string, string];
  addresses: [string, string];
  ttl: number;
  health: { intervalMs: number; timeoutMs: number; fall: number; rise: number };
  /** The PowerDNS API as the provider sees it (the forwarder). */
  apiUrl: string;
  zone: string;
  apiKey: string;
  stateDir: string;
}

/** Writes the `failover: native` config of the contestant: same origins, same health settings. */
export function writeNativeConfig(options: NativeConfigOptions): void {
  const ids = ['a', 'b'] as const;
  writeFileSync(
    options.file,
    stringify({
      site: { dir: options.siteDir, hostname: options.name },
      origins: ids.map((id, index) => ({
        id,
        storage: { type: 'fs', path: options.originDirs[index] },
        url: options.originUrls[index],
        dns: { a: [options.addresses[index]] },
      })),
      health: {
        interval: `${options.health.intervalMs}ms`,
        timeout: `${options.health.timeoutMs}ms`,
        fall: options.health.fall,
        rise: options.health.rise,
      },
      failover: { policy: 'priority', failback: 'auto' },
      dns: {
        name: options.name,
        ttl: options.ttl,
        providers: [
          {
            type: 'powerdns',
            url: options.apiUrl,
            zone: options.zone,
            apiKey: options.apiKey,
            failover: 'native',
          },
        ],
      },
      watch: { listen: '127.0.0.1:0', stateDir: options.stateDir },
    }),
  );
}

/** One run of `outlast dns apply`, with the requests it made to the PowerDNS API. */
export interface NativeApplyRun {
  /** Why it ran: `first` (provisions) or `again` (nothing changed since). */
  label: string;
  exitCode: number | null;
  ms: number;
  release: string | null;
  /** The changes it reported (`create LUA A native.example.test`, …). */
  changes: string[];
  notes: string[];
  requests: ForwardedRequest[];
  /** Requests other than GET: the target for `again` is none. */
  writes: number;
  /** stderr, and stdout when it was not JSON (only kept when something went wrong). */
  output?: string;
}

/**
 * Runs `node bin/outlast.js dns apply --config FILE --json` and collects what the forwarder saw.
 * `env`: variables added to (or, undefined, removed from) the child's environment.
 */
export async function runDnsApply(
  label: string,
  configFile: string,
  forwarder: CountingForwarder,
  env: Record<string, string | undefined> = {},
): Promise<NativeApplyRun> {
  forwarder.take();
  const started = performance.now();
  const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(process.execPath, [OUTLAST, 'dns', 'apply', '--config', configFile, '--json'], {
        cwd: REPO,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: Object.fromEntries(
          Object.entries({ ...process.env, OUTLAST_LOG_LEVEL: 'warn', ...env }).filter(
            ([, value]) => value !== undefined,
          ),
        ),
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        stdout += chunk.toString('utf8');
      });
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString('utf8');
      });
      const timer = setTimeout(() => {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      }, APPLY_TIMEOUT_MS);
      child.once('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
      child.once('close', (exitCode) => {
        clearTimeout(timer);
        resolve({ code: exitCode, stdout, stderr });
      });
    },
  );
  const ms = Math.round(performance.now() - started);
  const requests = forwarder.take();
  let parsed:
    | {
        release?: string | null;
        hosts?: Array<{ changes?: Array<{ action: string; what: string }>; notes?: string[] }>;
      }
    | undefined;
  try {
    parsed = JSON.parse(stdout);
  } catch {
    parsed = undefined;
  }
  const hosts = parsed?.hosts ?? [];
  const run: NativeApplyRun = {
    label,
    exitCode: code,
    ms,
    release: parsed?.release ?? null,
    changes: hosts.flatMap((host) => (host.changes ?? []).map((change) => `${change.action} ${change.what}`)),
    notes: hosts.flatMap((host) => host.notes ?? []),
    requests,
    writes: requests.filter((item) => item.method !== 'GET' && item.method !== 'HEAD').length,
  };
  if (code !== 0 || parsed === undefined) run.output = `${stderr}${parsed === undefined ? stdout : ''}`;
  return run;
}
