// pebble, Let's Encrypt's test ACME server, with pebble-challtestsrv as its DNS server (every A
// query answers 127.0.0.1), for tests of HTTP-01 (see shared notes/pebble.md). Debian's package
// `pebble` is installed if /usr/bin/pebble is missing; pebble's own TLS certificate is made here
// with openssl (the package does not ship the test one). All on 127.0.0.1, free ports.
//
// `startPebble({ httpPort })`: pebble validates HTTP-01 by connecting to each name's address on
// `httpPort`, so the test picks its HTTP listener's port first. PEBBLE_VA_NOSLEEP=1 (no random
// pauses before validating); never PEBBLE_VA_ALWAYS_VALID, which would skip the validation a test
// means to check; PEBBLE_AUTHZREUSE=0 so every order asks its challenges again. Every process
// started here is stopped (by its PID) when the test process exits, and by `stop()` before that.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../helpers/eventually.ts';
import { saysPortTaken, startOnFreePorts } from '../helpers/ports.ts';

const PEBBLE = '/usr/bin/pebble';
const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';
const READY_TIMEOUT_MS = 30_000;

export interface PebbleOptions {
  /** The port on 127.0.0.1 where the test answers `/.well-known/acme-challenge/<token>`. */
  httpPort: number;
  /** How long issued certificates are valid, in seconds (pebble's default: 5 years). */
  certificateValidityPeriod?: number;
}

export interface Pebble {
  /** `https://127.0.0.1:PORT/dir`. */
  directory: string;
  /** pebble's own TLS certificate (PEM): trust it for the directory and the management API. */
  caPem: string;
  /** The same, as a file (for `edge.tls.acme.ca`). */
  caFile: string;
  /** The management API's current issuing root: `https://127.0.0.1:PORT/roots/0`. */
  rootsUrl: string;
  pids: number[];
  /** Stops pebble and challtestsrv (SIGTERM, then SIGKILL after 5 s), waits, removes the temp dir. */
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
let hooked = false;

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of children) {
      try {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

/** Installs Debian's pebble package when the binaries are missing. */
function ensureInstalled(): void {
  if (existsSync(PEBBLE) && existsSync(CHALLTESTSRV)) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo', '-n'];
  for (const args of [
    ['apt-get', 'update', '-qq'],
    [
      'env',
      'DEBIAN_FRONTEND=noninteractive',
      'apt-get',
      'install',
      '-y',
      '-qq',
      '--no-install-recommends',
      'pebble',
    ],
  ]) {
    const [command, ...rest] = [...sudo, ...args];
    const result = spawnSync(command!, rest, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`${args.join(' ')} failed:\n${result.stderr}`);
  }
}

/** GET over HTTPS trusting `caPem` only; resolves with the status and the body. */
export function httpsGetText(url: string, caPem: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: caPem, timeout: 5_000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        body += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`${url}: no answer in 5 s`)));
    req.on('error', reject);
    req.end();
  });
}

interface Child {
  child: ChildProcess;
  output: () => string;
  gone: () => boolean;
  stop: () => Promise<void>;
}

function launch(command: string, args: string[], env: NodeJS.ProcessEnv): Child {
  installExitHook();
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  children.add(child);
  // Must not keep a test process alive: the exit hook stops it.
  child.unref();
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
    stream?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
  }
  let gone = false;
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  exited.then(() => {
    gone = true;
    children.delete(child);
  });
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      child.ref();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    })();
    return stopped;
  };
  return { child, output: () => output, gone: () => gone, stop };
}

type Started = { pebble: Pebble } | { taken: true };

async function startOn(
  dir: string,
  caPem: string,
  options: PebbleOptions,
  ports: number[],
): Promise<Started> {
  const [listen, management, dns, dnsManagement] = ports as [number, number, number, number];
  const config = {
    pebble: {
      listenAddress: `127.0.0.1:${listen}`,
      managementListenAddress: `127.0.0.1:${management}`,
      certificate: join(dir, 'cert.pem'),
      privateKey: join(dir, 'key.pem'),
      httpPort: options.httpPort,
      tlsPort: options.httpPort,
      ocspResponderURL: '',
      externalAccountBindingRequired: false,
      ...(options.certificateValidityPeriod !== undefined
        ? { certificateValidityPeriod: options.certificateValidityPeriod }
        : {}),
    },
  };
  const configFile = join(dir, `pebble-${listen}.json`);
  await writeFile(configFile, JSON.stringify(config));
  const dnsServer = launch(
    CHALLTESTSRV,
    [
      ...['-defaultIPv4', '127.0.0.1', '-defaultIPv6', ''],
      ...['-dns01', `127.0.0.1:${dns}`, '-http01', '', '-https01', '', '-tlsalpn01', ''],
      ...['-management', `127.0.0.1:${dnsManagement}`],
    ],
    {},
  );
  const pebble = launch(PEBBLE, ['-config', configFile, '-dnsserver', `127.0.0.1:${dns}`], {
    PEBBLE_VA_NOSLEEP: '1',
    PEBBLE_AUTHZREUSE: '0',
  });
  const both = [dnsServer, pebble];
  const stopBoth = () => Promise.all(both.map((one) => one.stop())).then(() => undefined);
  const directory = `https://127.0.0.1:${listen}/dir`;
  const answers = async () => {
    const dir = await httpsGetText(directory, caPem);
    const dnsUp = await fetch(`http://127.0.0.1:${dnsManagement}/`, {
      signal: AbortSignal.timeout(2_000),
    }).then((response) => response.body?.cancel().then(() => true) ?? true);
    return dir.status === 200 && dnsUp;
  };
  try {
    await eventually(
      `pebble answers on ${directory}`,
      async () => both.some((one) => one.gone()) || (await answers()),
      READY_TIMEOUT_MS,
    );
  } catch (error) {
    await stopBoth();
    throw new Error(`${(error as Error).message}:\n${both.map((one) => one.output()).join('\n')}`);
  }
  if (both.some((one) => one.gone())) {
    await stopBoth();
    const output = both.map((one) => one.output()).join('\n');
    if (saysPortTaken(output)) return { taken: true };
    throw new Error(`pebble or pebble-challtestsrv exited before answering:\n${output}`);
  }
  return {
    pebble: {
      directory,
      caPem,
      caFile: join(dir, 'cert.pem'),
      rootsUrl: `https://127.0.0.1:${management}/roots/0`,
      pids: both.map((one) => one.child.pid!),
      stop: async () => {
        await stopBoth();
        await rm(dir, { recursive: true, force: true });
      },
    },
  };
}

/** A fresh pebble and its DNS server on free ports; ready when this resolves. */
export async function startPebble(options: PebbleOptions): Promise<Pebble> {
  ensureInstalled();
  const dir = await mkdtemp(join(tmpdir(), 'outlast-pebble-'));
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '2'],
      ...['-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1'],
    ],
    { stdio: 'pipe' },
  );
  const caPem = await readFile(join(dir, 'cert.pem'), 'utf8');
  const started = await startOnFreePorts(
    ['127.0.0.1', '127.0.0.1', '127.0.0.1', '127.0.0.1'],
    (ports) => startOn(dir, caPem, options, ports),
    (result) => 'taken' in result,
  );
  if ('taken' in started) {
    await rm(dir, { recursive: true, force: true });
    throw new Error('pebble: every port tried was taken');
  }
  return started.pebble;
}
