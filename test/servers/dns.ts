// Real authoritative DNS servers for tests, run by scripts/servers/dns.sh (Debian bookworm's
// PowerDNS 4.7 with gsqlite3 + HTTP API + LUA records, Knot 3.2, BIND 9.18; see shared
// notes/dns-servers.md). Each serves example.test (SOA, NS ns1.example.test., ns1 A 127.0.0.1, no
// `www`) and other.test on 127.0.0.1, takes RFC 2136 UPDATEs for example.test signed with TSIG key
// outlast-key (hmac-sha256) or outlast-key512 (hmac-sha512), and refuses unsigned ones.
//
// `npm test` (scripts/test.mjs) starts one server of each kind for the whole run and hands them to
// every test process as JSON (DnsServerInfo) in OUTLAST_TEST_DNS_PDNS / _KNOT / _BIND;
// dnsServersForTests() uses those, and only starts servers of its own when they are absent (a test
// file run directly, or OUTLAST_TEST_NO_SERVERS=1). Servers started here are stopped when the
// process exits, however the tests ended.
//
// The servers are shared by every test file of a run (and test files run two at a time): a test
// file that changes example.test holds lockZone() while it does (other files wait), and calls
// resetZone() before each test.
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { type Answer, decode, encode } from 'dns-packet';
import { z } from 'zod';
import { fromEnv, processAlive, ServerScript, startOnFreePort } from './process.ts';

export const DNS_SH = fileURLToPath(new URL('../../scripts/servers/dns.sh', import.meta.url));

export type DnsServerKind = 'pdns' | 'knot' | 'bind';
export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

export interface TsigKeyInfo {
  name: string;
  algorithm: TsigAlgorithm;
  /** base64 */
  secret: string;
}

/** The fixed test keys that dns.sh configures on every server (also in server.json's `tsig`). */
export const DNS_TSIG_KEY: TsigKeyInfo = {
  name: 'outlast-key',
  algorithm: 'hmac-sha256',
  secret: 'ZYuwmHCZe8EPlhMZhoaZ/C5y7GdX9+cBkOdzHBk1TD4=',
};
export const DNS_TSIG_KEY512: TsigKeyInfo = {
  name: 'outlast-key512',
  algorithm: 'hmac-sha512',
  secret: '8anHkT0/vSZyeF78amgsMScqigMU4I6fx8bNozBrGMVkjKADxpcIZ0veZY5649wMEky4SPasM1GqMnCbLlDBqQ==',
};
/** PowerDNS's X-API-Key. */
export const PDNS_API_KEY = 'outlast-api-key';
export const DNS_ZONE = 'example.test';
/** A second zone on every server that takes no updates, for "wrong zone" tests. */
export const DNS_OTHER_ZONE = 'other.test';

/** example.test right after a start (and after resetZone), besides its SOA. */
export const DNS_INITIAL_RECORDS = [
  { name: 'example.test.', type: 'NS', ttl: 3600, data: 'ns1.example.test.' },
  { name: 'ns1.example.test.', type: 'A', ttl: 3600, data: '127.0.0.1' },
] as const;

export const DNS_ENV: Record<DnsServerKind, string> = {
  pdns: 'OUTLAST_TEST_DNS_PDNS',
  knot: 'OUTLAST_TEST_DNS_KNOT',
  bind: 'OUTLAST_TEST_DNS_BIND',
};

/** First ports tried by startDnsServer (then +10, +20, …); PowerDNS's API is on port + 1. */
const FIRST_PORT: Record<DnsServerKind, number> = { pdns: 20053, knot: 21053, bind: 22053 };

/** What dns.sh writes to DATADIR/server.json and what the env variables carry. */
const serverInfoSchema = z.object({
  kind: z.enum(['pdns', 'knot', 'bind']),
  host: z.string(),
  port: z.number().int(),
  apiPort: z.number().int().optional(),
  /** PowerDNS only: base URL, e.g. http://127.0.0.1:20054 (the API is under /api/v1). */
  apiUrl: z.string().optional(),
  apiKey: z.string().optional(),
  zone: z.string(),
  otherZone: z.string().optional(),
  tsig: z.array(
    z.object({ name: z.string(), algorithm: z.enum(['hmac-sha256', 'hmac-sha512']), secret: z.string() }),
  ),
  pid: z.number().int().optional(),
  dataDir: z.string(),
});

export interface DnsServerInfo {
  kind: DnsServerKind;
  host: string;
  port: number;
  /** PowerDNS only: base URL of the HTTP API (http://127.0.0.1:PORT, the API is under /api/v1). */
  apiUrl?: string;
  /** PowerDNS only: the X-API-Key. */
  apiKey?: string;
  apiPort?: number;
  /** 'example.test' */
  zone: string;
  /** 'other.test': served, takes no updates. */
  otherZone?: string;
  /** outlast-key (hmac-sha256) first, then outlast-key512 (hmac-sha512). */
  tsig: TsigKeyInfo[];
  /** The server's PID (dns.sh stop kills exactly this). */
  pid?: number;
  dataDir: string;
}

export interface DnsServer extends DnsServerInfo {
  /** Stops the server and deletes its data dir; a no-op for servers owned by the test runner. */
  stop(): Promise<void>;
}

const dnsSh = new ServerScript(DNS_SH);

/** `dns.sh install`, once per process (a no-op taking ~0.1 s when the packages are there). */
export function installDnsServers(): Promise<void> {
  return dnsSh.install();
}

function startOnce(
  kind: DnsServerKind,
  port: number,
  pdnsOptions: readonly string[] = [],
): Promise<DnsServer> {
  return dnsSh.start({
    baseDir: tmpdir(),
    prefix: `outlast-dns-${kind}-`,
    args: (dataDir) =>
      kind === 'pdns'
        ? ['start-pdns', dataDir, String(port), String(port + 1), ...pdnsOptions]
        : [`start-${kind}`, dataDir, String(port)],
    factsFile: 'server.json',
    schema: serverInfoSchema,
  });
}

/**
 * Installs the packages when missing (once per process) and starts a server of `kind` in a fresh
 * temp dir on 127.0.0.1. With `options.port` exactly that port (PowerDNS's API on port + 1), else
 * the first free one of 20053/21053/22053 (pdns/knot/bind), +10, +20, …; `pdnsOptions` are
 * PowerDNS settings that override the script's (`--enable-lua-records=no`).
 */
export async function startDnsServer(
  kind: DnsServerKind,
  options: { port?: number; pdnsOptions?: readonly string[] } = {},
): Promise<DnsServer> {
  await installDnsServers();
  if (options.port !== undefined) return startOnce(kind, options.port, options.pdnsOptions);
  return startOnFreePort(FIRST_PORT[kind], (port) => startOnce(kind, port, options.pdnsOptions));
}

/** The runner's server of `kind`, from OUTLAST_TEST_DNS_*, when it handed one over. */
function fromRunner(kind: DnsServerKind): DnsServer | undefined {
  const name = DNS_ENV[kind];
  const server = fromEnv(name, serverInfoSchema, 'a DNS server');
  if (server && server.kind !== kind) throw new Error(`${name} holds a ${server.kind} server, not ${kind}`);
  return server;
}

let forTests: Promise<{ pdns: DnsServer; knot: DnsServer; bind: DnsServer }> | undefined;

/**
 * One server of each kind: the runner's when OUTLAST_TEST_DNS_PDNS / _KNOT / _BIND are set, else
 * this process's own (started in parallel, stopped at exit). The same servers are returned to
 * every caller in the process.
 */
export function dnsServersForTests(): Promise<{ pdns: DnsServer; knot: DnsServer; bind: DnsServer }> {
  forTests ??= (async () => {
    const kinds = ['pdns', 'knot', 'bind'] as const;
    const results = await Promise.allSettled(
      kinds.map((kind) => {
        const external = fromRunner(kind);
        return external ? Promise.resolve(external) : startDnsServer(kind);
      }),
    );
    const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (rejected) {
      for (const result of results) if (result.status === 'fulfilled') await result.value.stop();
      throw rejected.reason;
    }
    const [pdns, knot, bind] = results.map((r) => (r as PromiseFulfilledResult<DnsServer>).value) as [
      DnsServer,
      DnsServer,
      DnsServer,
    ];
    return { pdns, knot, bind };
  })();
  return forTests;
}

// --- query ---------------------------------------------------------------------------------

export type QueryType = 'A' | 'AAAA' | 'CNAME' | 'SOA' | 'NS' | 'TXT';

export interface QueryAnswer {
  /** Lower case, without the trailing dot (as dns-packet gives names). */
  name: string;
  type: string;
  ttl: number;
  /**
   * A/AAAA: the address; CNAME/NS: the target without trailing dot; SOA: "mname rname serial
   * refresh retry expire minimum" (names without trailing dot); TXT: the strings concatenated.
   */
  data: string;
}

const RCODES = [
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

function formatData(answer: Answer): string {
  const data = (answer as { data?: unknown }).data;
  switch (answer.type) {
    case 'SOA': {
      const soa = answer.data;
      return [soa.mname, soa.rname, soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum].join(' ');
    }
    case 'TXT': {
      const parts = Array.isArray(data) ? data : [data];
      return parts.map((part) => (Buffer.isBuffer(part) ? part.toString('utf8') : String(part))).join('');
    }
    default:
      if (typeof data === 'string') return data;
      if (Buffer.isBuffer(data)) return data.toString('hex');
      return JSON.stringify(data);
  }
}

function exchangeUdp(
  host: string,
  port: number,
  message: Buffer,
  id: number,
  timeoutMs: number,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const timer = setTimeout(
      () => finish(new Error(`no answer from ${host}:${port} within ${timeoutMs} ms`)),
      timeoutMs,
    );
    function finish(error: Error | undefined, reply?: Buffer): void {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(reply as Buffer);
    }
    socket.on('error', (error) => finish(error));
    socket.on('message', (reply) => {
      // Only the reply to this query (a late one to an earlier try is dropped).
      if (reply.length >= 2 && reply.readUInt16BE(0) === id) finish(undefined, reply);
    });
    socket.send(message, port, host, (error) => {
      if (error) finish(error);
    });
  });
}

function exchangeTcp(host: string, port: number, message: Buffer, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let received = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no TCP answer from ${host}:${port} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk) => {
      received = Buffer.concat([received, chunk]);
      if (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        clearTimeout(timer);
        socket.destroy();
        resolve(received.subarray(2, 2 + received.readUInt16BE(0)));
      }
    });
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
  });
}

/**
 * Asks the server like a resolver would (dns-packet over UDP to host:port, no recursion wanted;
 * TCP when the reply is truncated), returns the rcode and the answer section: the records for
 * name/type, plus the CNAME leading there when the name is an alias.
 */
export async function query(
  server: { host: string; port: number },
  name: string,
  type: QueryType,
): Promise<{ rcode: string; answers: QueryAnswer[] }> {
  const id = Math.floor(Math.random() * 65536);
  const message = encode({
    type: 'query',
    id,
    flags: 0, // no RD: an authoritative question
    questions: [{ type, name: name.replace(/\.$/, ''), class: 'IN' }],
  });
  let reply: Buffer | undefined;
  let lastError: unknown;
  // UDP may drop a datagram on a busy machine: three tries of 1 s.
  for (let attempt = 0; attempt < 3 && !reply; attempt++) {
    try {
      reply = await exchangeUdp(server.host, server.port, message, id, 1000);
    } catch (error) {
      lastError = error;
    }
  }
  if (!reply) throw lastError;
  let packet = decode(reply);
  if (packet.flag_tc) packet = decode(await exchangeTcp(server.host, server.port, message, 3000));
  const rcodeNumber = (packet.flags ?? 0) & 0xf;
  return {
    rcode: RCODES[rcodeNumber] ?? `RCODE${rcodeNumber}`,
    answers: (packet.answers ?? []).map((answer) => ({
      name: answer.name.toLowerCase(),
      type: answer.type,
      ttl: 'ttl' in answer ? (answer.ttl ?? 0) : 0,
      data: formatData(answer),
    })),
  };
}

// --- resetZone -----------------------------------------------------------------------------

function execWithInput(command: string, args: string[], input?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      args,
      { timeout: 20_000, maxBuffer: 16 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} failed: ${error.message}\n${stderr}${stdout}`));
        else resolve(stdout);
      },
    );
    child.stdin?.end(input ?? '');
  });
}

function absolute(name: string): string {
  return name.endsWith('.') ? name.toLowerCase() : `${name.toLowerCase()}.`;
}

interface ZoneRecord {
  name: string;
  ttl: number;
  type: string;
  data: string;
}

/** The zone's records by AXFR, signed with the server's first TSIG key (dig from bind9-dnsutils). */
async function transferZone(server: DnsServerInfo, key: TsigKeyInfo): Promise<ZoneRecord[]> {
  const out = await execWithInput('dig', [
    '-p',
    String(server.port),
    `@${server.host}`,
    '-y',
    `${key.algorithm}:${key.name}:${key.secret}`,
    server.zone,
    'AXFR',
    '+noall',
    '+answer',
    '+onesoa',
    '+time=3',
    '+tries=1',
  ]);
  const records: ZoneRecord[] = [];
  for (const line of out.split('\n')) {
    if (line.trim() === '' || line.startsWith(';')) continue;
    const match = /^(\S+)\s+(\d+)\s+IN\s+(\S+)\s+(.*)$/.exec(line.trim());
    if (!match) continue;
    records.push({
      name: absolute(match[1]!),
      ttl: Number(match[2]),
      type: match[3]!,
      data: match[4]!.trim(),
    });
  }
  if (!records.some((r) => r.type === 'SOA')) {
    throw new Error(`AXFR of ${server.zone} from ${server.host}:${server.port} failed:\n${out}`);
  }
  return records;
}

async function resetByUpdate(server: DnsServerInfo): Promise<void> {
  const key = server.tsig[0];
  if (!key) throw new Error(`no TSIG key for the ${server.kind} server`);
  const apex = absolute(server.zone);
  const ns1 = `ns1.${apex}`;
  const records = await transferZone(server, key);
  const adds: string[] = [];
  const deletes: string[] = [];
  const apexNs = records.filter((r) => r.name === apex && r.type === 'NS');
  if (!apexNs.some((r) => absolute(r.data) === ns1 && r.ttl === 3600))
    adds.push(`update add ${apex} 3600 NS ${ns1}`);
  for (const r of apexNs) if (absolute(r.data) !== ns1) deletes.push(`update delete ${apex} NS ${r.data}`);
  const ns1A = records.filter((r) => r.name === ns1 && r.type === 'A');
  if (ns1A.length !== 1 || ns1A[0]?.data !== '127.0.0.1' || ns1A[0]?.ttl !== 3600) {
    deletes.push(`update delete ${ns1} A`, `update add ${ns1} 3600 A 127.0.0.1`);
  }
  const done = new Set<string>();
  for (const r of records) {
    const keep =
      (r.name === apex && (r.type === 'SOA' || r.type === 'NS')) || (r.name === ns1 && r.type === 'A');
    const set = `${r.name} ${r.type}`;
    if (keep || done.has(set)) continue;
    done.add(set);
    deletes.push(`update delete ${set}`);
  }
  if (adds.length === 0 && deletes.length === 0) return;
  // Adds first: the zone never lacks an NS (servers ignore deleting the apex's last NS).
  const script = [
    `server ${server.host} ${server.port}`,
    `zone ${apex}`,
    ...adds,
    ...deletes,
    'send',
    '',
  ].join('\n');
  await execWithInput('nsupdate', ['-y', `${key.algorithm}:${key.name}:${key.secret}`, '-t', '10'], script);
}

interface PdnsRrset {
  name: string;
  type: string;
  ttl?: number;
  records: { content: string; disabled?: boolean }[];
}

async function pdnsFetch(
  server: DnsServerInfo,
  method: string,
  path: string,
  body?: unknown,
): Promise<Response> {
  if (!server.apiUrl || !server.apiKey) throw new Error('the PowerDNS server has no apiUrl/apiKey');
  const headers: Record<string, string> = { 'X-API-Key': server.apiKey };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  return fetch(`${server.apiUrl}/api/v1/servers/localhost${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

async function pdnsExpect(response: Response, what: string, ...ok: number[]): Promise<void> {
  const text = await response.text();
  if (!ok.includes(response.status)) throw new Error(`PowerDNS ${what}: HTTP ${response.status} ${text}`);
}

/** Recreates example.test (with its TSIG metadata) when a test deleted it. */
async function pdnsCreateZone(server: DnsServerInfo, apex: string): Promise<void> {
  await pdnsExpect(
    await pdnsFetch(server, 'POST', '/zones', {
      name: apex,
      kind: 'Native',
      nameservers: [`ns1.${apex}`],
      // TSIG-ALLOW-AXFR, which the metadata endpoint refuses to set.
      master_tsig_key_ids: server.tsig.map((k) => k.name),
      rrsets: [
        {
          name: `ns1.${apex}`,
          type: 'A',
          ttl: 3600,
          records: [{ content: '127.0.0.1', disabled: false }],
        },
      ],
    }),
    'create zone',
    201,
  );
  const metadata: Record<string, string[]> = {
    'TSIG-ALLOW-DNSUPDATE': server.tsig.map((k) => k.name),
    'ALLOW-DNSUPDATE-FROM': ['127.0.0.0/8'],
  };
  for (const [kind, values] of Object.entries(metadata)) {
    await pdnsExpect(
      await pdnsFetch(server, 'PUT', `/zones/${apex}/metadata/${kind}`, { kind, metadata: values }),
      `metadata ${kind}`,
      200,
    );
  }
  // Creating a zone does not purge the REFUSED answers cached while it was missing.
  await pdnsExpect(await pdnsFetch(server, 'PUT', `/cache/flush?domain=${apex}`), 'cache flush', 200);
}

async function resetByApi(server: DnsServerInfo): Promise<void> {
  const apex = absolute(server.zone);
  const ns1 = `ns1.${apex}`;
  const response = await pdnsFetch(server, 'GET', `/zones/${apex}`);
  if (response.status === 404) {
    await response.arrayBuffer();
    await pdnsCreateZone(server, apex);
    return;
  }
  if (response.status !== 200) await pdnsExpect(response, `GET zone ${apex}`, 200);
  const zone = (await response.json()) as { rrsets: PdnsRrset[] };
  const rrsets: unknown[] = [];
  const only = (set: PdnsRrset | undefined, content: string) =>
    set?.ttl === 3600 &&
    set.records.length === 1 &&
    set.records[0]?.content === content &&
    !set.records[0]?.disabled;
  const find = (name: string, type: string) => zone.rrsets.find((s) => s.name === name && s.type === type);
  if (!only(find(apex, 'NS'), ns1)) {
    rrsets.push({
      name: apex,
      type: 'NS',
      ttl: 3600,
      changetype: 'REPLACE',
      records: [{ content: ns1, disabled: false }],
    });
  }
  if (!only(find(ns1, 'A'), '127.0.0.1')) {
    rrsets.push({
      name: ns1,
      type: 'A',
      ttl: 3600,
      changetype: 'REPLACE',
      records: [{ content: '127.0.0.1', disabled: false }],
    });
  }
  for (const set of zone.rrsets) {
    const keep =
      (set.name === apex && (set.type === 'SOA' || set.type === 'NS')) ||
      (set.name === ns1 && set.type === 'A');
    if (!keep) rrsets.push({ name: set.name, type: set.type, changetype: 'DELETE' });
  }
  if (rrsets.length === 0) return;
  await pdnsExpect(await pdnsFetch(server, 'PATCH', `/zones/${apex}`, { rrsets }), `PATCH ${apex}`, 204);
}

/**
 * Resets example.test to its initial content (SOA kept, serial only ever grows; NS
 * ns1.example.test.; ns1 A 127.0.0.1; nothing else): through the HTTP API on PowerDNS (which also
 * purges its caches, and recreates the zone if a test deleted it), through AXFR + nsupdate signed
 * with outlast-key on Knot and BIND.
 */
export async function resetZone(server: DnsServerInfo): Promise<void> {
  if (server.kind === 'pdns') await resetByApi(server);
  else await resetByUpdate(server);
}

// --- lockZone ------------------------------------------------------------------------------

/**
 * Takes the server's zone for this test process alone, across processes (a lock file holding the
 * PID in the server's data dir; a dead holder's lock is taken over). Resolves with the release
 * function. Test files that change example.test take it in `before` and release it in `after`, so
 * that two files run in parallel do not reset or change the zone under each other. Files that lock
 * several servers lock them in the order pdns, knot, bind (no deadlock).
 */
export async function lockZone(server: DnsServerInfo, timeoutMs = 300_000): Promise<() => Promise<void>> {
  const path = join(server.dataDir, 'zone.lock');
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await writeFile(path, String(process.pid), { flag: 'wx' });
      let released = false;
      return async () => {
        if (released) return;
        released = true;
        await rm(path, { force: true });
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const holder = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
    if (holder > 0 && holder !== process.pid && !processAlive(holder)) {
      await rm(path, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(
        `the ${server.kind} server's zone is still locked by pid ${holder} after ${timeoutMs} ms`,
      );
    }
    await sleep(50);
  }
}
