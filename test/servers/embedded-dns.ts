// Helpers for the embedded DNS server's tests: raw exchanges over UDP and TCP (the tests need the
// whole reply, flags and OPT included, and several replies on one connection), queries built with
// dns-packet, a seeded PRNG, and a Knot DNS started for one test file (knotd from Debian in a temp
// dir, its PID recorded, stopped by that PID after the file, or at exit however the file ends).
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { type Answer, type DecodedPacket, decode, encode } from 'dns-packet';
import { installDnsServers } from './dns.ts';

export interface QuerySpec {
  name: string;
  /** A dns-packet type name (`A`, `TXT`, `AXFR`…). */
  type: string;
  id?: number;
  rd?: boolean;
  cd?: boolean;
  /** Default 0 (QUERY). */
  opcode?: number;
  /** An OPT record (default: none). */
  edns?: { size: number; version?: number; do?: boolean };
}

/** A query on the wire. */
export function makeQuery(spec: QuerySpec): Buffer {
  let flags = (spec.opcode ?? 0) << 11;
  if (spec.rd) flags |= 0x100;
  if (spec.cd) flags |= 0x10;
  return encode({
    type: 'query',
    id: spec.id ?? Math.floor(Math.random() * 65536),
    flags,
    questions: [{ name: spec.name, type: spec.type as 'A', class: 'IN' }],
    additionals: spec.edns
      ? [
          {
            type: 'OPT',
            name: '.',
            udpPayloadSize: spec.edns.size,
            extendedRcode: 0,
            ednsVersion: spec.edns.version ?? 0,
            flags: spec.edns.do ? 0x8000 : 0,
            flag_do: spec.edns.do ?? false,
            options: [],
          },
        ]
      : [],
  });
}

/**
 * The reply with the query's ID, or undefined after `timeoutMs`. The default is roomy, for replies
 * that must come (a loaded machine is slow, and a wait ends at the reply); a test that expects no
 * reply passes its own short window.
 */
export function udpExchange(
  host: string,
  port: number,
  message: Buffer,
  timeoutMs = 5000,
): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const id = message.length >= 2 ? message.readUInt16BE(0) : -1;
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    function finish(reply: Buffer | undefined, error?: Error): void {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(reply);
    }
    socket.on('error', (error) => finish(undefined, error));
    socket.on('message', (reply) => {
      if (reply.length >= 2 && reply.readUInt16BE(0) === id) finish(reply);
    });
    socket.send(message, port, host);
  });
}

/**
 * Sends `messages` on one TCP connection (each with its length prefix, all at once) and collects
 * replies until `done(replies)` says so, the server closes, or `timeoutMs` passes.
 */
export function tcpExchange(
  host: string,
  port: number,
  messages: Buffer[],
  done: (replies: Buffer[]) => boolean = (replies) => replies.length >= messages.length,
  timeoutMs = 5000,
): Promise<{ replies: Buffer[]; closed: boolean }> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const replies: Buffer[] = [];
    let pending = Buffer.alloc(0);
    let settled = false;
    const finish = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ replies, closed });
    };
    const timer = setTimeout(() => finish(false), timeoutMs);
    socket.on('connect', () => {
      socket.write(Buffer.concat(messages.map((message) => framed(message))));
    });
    socket.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        replies.push(Buffer.from(pending.subarray(2, 2 + pending.readUInt16BE(0))));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (done(replies)) finish(false);
    });
    socket.on('error', () => finish(true));
    socket.on('close', () => finish(true));
  });
}

/** `message` with its two-byte TCP length prefix. */
export function framed(message: Buffer): Buffer {
  const prefix = Buffer.alloc(2);
  prefix.writeUInt16BE(message.length);
  return Buffer.concat([prefix, message]);
}

/** The rcode, extended by the OPT's upper bits (BADVERS is 16). */
export function fullRcode(packet: DecodedPacket): number {
  const opt = (packet.additionals ?? []).find((record) => record.type === 'OPT') as
    | { extendedRcode?: number }
    | undefined;
  return ((opt?.extendedRcode ?? 0) << 4) | ((packet.flags ?? 0) & 0xf);
}

const RCODE_NAMES = [
  'NOERROR',
  'FORMERR',
  'SERVFAIL',
  'NXDOMAIN',
  'NOTIMP',
  'REFUSED',
  'YXDOMAIN',
  'YXRRSET',
  'NXRRSET',
  'NOTAUTH',
  'NOTZONE',
];

/** The header's rcode by name (dns-packet decodes it, its types do not say so). */
export function rcodeName(packet: DecodedPacket): string {
  const code = (packet.flags ?? 0) & 0xf;
  return RCODE_NAMES[code] ?? `RCODE${code}`;
}

/** The header's opcode number. */
export function opcodeOf(packet: DecodedPacket): number {
  return ((packet.flags ?? 0) >> 11) & 0xf;
}

/** The data of a decoded record (undefined for OPT), typed loosely for comparisons. */
export function dataOf(record: Answer): unknown {
  return 'data' in record ? record.data : undefined;
}

export { prng } from '../helpers/prng.ts';
export { decode };

/**
 * A port free right now for both UDP and TCP on 127.0.0.1, for a server the caller starts soon
 * after. Something else can still take it in between: startKnot retries on another port when knotd
 * cannot bind (KnotPortTakenError when the caller chose the port). Picked below Linux's ephemeral
 * range (32768-60999), where every outgoing connection and every unbound UDP socket that sends (the
 * tests' DNS queries) gets its port, and away from the ports other test servers use (Swift from
 * 8080, DNS servers from 20053, rfc2136's own from 24000).
 */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = 12000 + Math.floor(Math.random() * 8000);
    const ok = await new Promise<boolean>((resolve) => {
      const udp = createSocket('udp4');
      udp.once('error', () => resolve(false));
      udp.bind(port, '127.0.0.1', () => {
        const tcp = createServer();
        tcp.once('error', () => udp.close(() => resolve(false)));
        tcp.listen(port, '127.0.0.1', () => tcp.close(() => udp.close(() => resolve(true))));
      });
    });
    if (ok) return port;
  }
}

export interface KnotServer {
  host: string;
  port: number;
  pid: number;
  dir: string;
  /** Everything knotd wrote so far. */
  log(): string;
  stop(): Promise<void>;
}

const knots = new Set<ChildProcess>();
let exitHook = false;

/** knotd could not bind its port (taken between freePort and the start): try another one. */
export class KnotPortTakenError extends Error {
  constructor(
    message: string,
    readonly port: number,
  ) {
    super(message);
    this.name = 'KnotPortTakenError';
  }
}

const ADDRESS_IN_USE = /address already in use/i;

interface KnotOptions {
  yaml: (dir: string) => string;
  files?: (dir: string) => Record<string, string>;
  ready: (server: { host: string; port: number }) => Promise<boolean>;
  /**
   * Default: a free port (freePort), and another one when knotd finds it taken. A port given
   * here is tried once: a taken one is a KnotPortTakenError, for the caller to start over.
   */
  port?: number;
  /** How long knotd may take to become ready (default 30 s: a deadline, not an expectation). */
  timeoutMs?: number;
}

/**
 * Starts knotd (foreground) in a fresh temp dir on 127.0.0.1:PORT with `zones` (the YAML after the
 * `server`, `log`, `database` and `template` sections: keys, remotes, acls, the zone list) and
 * `files` (written into the dir first, e.g. zone files). Resolves once `ready` holds.
 */
export async function startKnot(options: KnotOptions): Promise<KnotServer> {
  // Debian's knot package, installed by dns.sh when missing (a no-op when it is there).
  await installDnsServers();
  if (options.port !== undefined) return startKnotOnce(options, options.port);
  for (let attempt = 0; ; attempt++) {
    try {
      return await startKnotOnce(options, await freePort());
    } catch (error) {
      if (!(error instanceof KnotPortTakenError) || attempt >= 20) throw error;
    }
  }
}

async function startKnotOnce(options: KnotOptions, port: number): Promise<KnotServer> {
  const dir = await mkdtemp(join(tmpdir(), 'outlast-knot-'));
  for (const [name, text] of Object.entries(options.files?.(dir) ?? {}))
    await writeFile(join(dir, name), text);
  await writeFile(
    join(dir, 'knot.conf'),
    `server:
    rundir: "${dir}"
    pidfile: "${dir}/knot.pid"
    listen: 127.0.0.1@${port}
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1

log:
  - target: stderr
    any: info

database:
    storage: "${dir}"

control:
    listen: "${dir}/knot.sock"

template:
  - id: default
    storage: "${dir}"
    zonefile-sync: -1
    journal-content: none

${options.yaml(dir)}
`,
  );
  const child = spawn('/usr/sbin/knotd', ['-c', join(dir, 'knot.conf')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  knots.add(child);
  if (!exitHook) {
    exitHook = true;
    // However the test file ends, no knotd outlives it (by PID, never by name).
    process.on('exit', () => {
      for (const knot of knots) knot.kill('SIGKILL');
    });
  }
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  // 'close': the exit and the end of its output (what it said before exiting is all there).
  const closed = new Promise<void>((resolve) => child.once('close', () => resolve()));
  let stopped: Promise<void> | undefined;
  const server: KnotServer = {
    host: '127.0.0.1',
    port,
    pid: child.pid ?? -1,
    dir,
    log: () => output,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode === null && child.signalCode === null) {
          child.kill('SIGTERM');
          const killed = await Promise.race([exited.then(() => true), sleep(5000).then(() => false)]);
          if (!killed) {
            child.kill('SIGKILL');
            await exited;
          }
        }
        knots.delete(child);
        await rm(dir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
  const deadline = Date.now() + (options.timeoutMs ?? 30_000);
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await closed;
      await server.stop();
      // knotd exits when it cannot bind its UDP or TCP socket ("cannot bind address … (address
      // already in use)"), also when another knotd holds the port (it binds TCP without reuseport).
      if (ADDRESS_IN_USE.test(output)) {
        throw new KnotPortTakenError(`knotd could not bind 127.0.0.1@${port}:\n${output}`, port);
      }
      throw new Error(`knotd exited during start-up:\n${output}`);
    }
    if (await options.ready(server).catch(() => false)) {
      // The answer must have come from this knotd: another server on the port (binding with
      // SO_REUSEPORT, as knotd itself does for UDP) would share or steal its queries.
      const owner = await portOwner(child.pid ?? -1, port);
      if (owner === 'this') return server;
      if (owner === 'shared') {
        await server.stop();
        throw new KnotPortTakenError(`another process has a socket on 127.0.0.1@${port} too`, port);
      }
      // 'incomplete': knotd has not bound both sockets yet; ask again.
    }
    if (Date.now() > deadline) {
      await server.stop();
      throw new Error(`knotd not ready on port ${port}:\n${output}`);
    }
    await sleep(50);
  }
}

/**
 * Who has sockets on 127.0.0.1:`port` (as dns.sh's owns_port and sole_owner): 'this' when `pid`
 * holds both the UDP and the listening TCP socket and no other process any socket there, 'shared'
 * when some other process has one, else 'incomplete'. `ss` lists the sockets with their inodes,
 * /proc/PID/fd names the ones the process holds.
 */
async function portOwner(pid: number, port: number): Promise<'this' | 'shared' | 'incomplete'> {
  const listing = await new Promise<string>((resolve, reject) =>
    execFile('ss', ['-H', '-tulne', `sport = :${port}`], (error, stdout) =>
      error ? reject(error) : resolve(stdout),
    ),
  );
  const held = new Set<string>();
  for (const fd of await readdir(`/proc/${pid}/fd`).catch(() => [])) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode) held.add(inode);
  }
  const owned = new Set<string>();
  for (const line of listing.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 5) continue;
    const [proto, , , , local] = fields;
    const inode = fields.find((field) => field.startsWith('ino:'))?.slice(4);
    if (!local?.endsWith(`:${port}`)) continue;
    if (!inode || !held.has(inode)) return 'shared';
    if (local === `127.0.0.1:${port}` && (proto === 'udp' || proto === 'tcp')) owned.add(proto);
  }
  return owned.has('udp') && owned.has('tcp') ? 'this' : 'incomplete';
}
