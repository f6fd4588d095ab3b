/**
 * The peer: PowerDNS Authoritative's own health-checked records (LUA records, `ifurlextup`), on the
 * same PowerDNS and the same two origin processes that outlast watches.
 *
 * Why `ifurlextup` and not `ifurlup`: `ifurlup(url, {{ip1},{ip2}})` checks every candidate by
 * connecting to *that candidate's address* (the URL only gives the port, path and Host header), so
 * the address it returns is the address it checked. Here the origins listen on 127.0.0.2/.3 while
 * the answers are 192.0.2.10/.20 (as for outlast), so `ifurlextup` is used: each returned address
 * maps to its own check URL, and each ordered set is `{ [address] = url }`. The first set with a
 * healthy address wins, as with `ifurlup`; options (`stringmatch`, `timeout` in whole seconds) are
 * the same. PowerDNS runs every check once per `lua-health-checks-interval` (1 s in
 * scripts/servers/dns.sh), all checks of a cycle in parallel, and waits for all of them before it
 * sleeps until `cycleStart + interval`.
 */
import type { DnsServer } from '../../test/servers/dns.ts';

export async function pdnsApi(
  server: DnsServer,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = { 'X-API-Key': server.apiKey! };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(`${server.apiUrl}/api/v1/servers/localhost${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, text: await response.text() };
}

export interface LuaTarget {
  /** The address answered while this target is chosen. */
  address: string;
  /** The URL PowerDNS checks for it. */
  checkUrl: string;
}

/**
 * The LUA record's content: `A "ifurlextup({{['192.0.2.10']='http://…'}, {['192.0.2.20']='http://…'}},
 * {stringmatch='release', timeout='1'})"` (one set per target, most preferred first).
 */
export function luaContent(
  targets: LuaTarget[],
  options: { stringmatch: string; timeoutSeconds: number },
): string {
  const sets = targets.map((target) => `{['${target.address}']='${target.checkUrl}'}`).join(', ');
  return `A "ifurlextup({${sets}}, {stringmatch='${options.stringmatch}', timeout='${options.timeoutSeconds}'})"`;
}

/** Creates or replaces `name` as a LUA record through the API (which also purges the caches). */
export async function putLuaRecord(
  server: DnsServer,
  name: string,
  ttl: number,
  content: string,
): Promise<void> {
  const zone = `${server.zone}.`;
  const result = await pdnsApi(server, 'PATCH', `/zones/${zone}`, {
    rrsets: [
      {
        name: `${name}.`,
        type: 'LUA',
        ttl,
        changetype: 'REPLACE',
        records: [{ content, disabled: false }],
      },
    ],
  });
  if (result.status !== 204)
    throw new Error(`PowerDNS: PATCH LUA ${name}: HTTP ${result.status} ${result.text}`);
}

/** Deletes the record sets (cleanup before a run, when a zone was reused). */
export async function deleteRecords(
  server: DnsServer,
  sets: { name: string; type: string }[],
): Promise<void> {
  const zone = `${server.zone}.`;
  const result = await pdnsApi(server, 'PATCH', `/zones/${zone}`, {
    rrsets: sets.map((set) => ({ name: `${set.name}.`, type: set.type, changetype: 'DELETE' })),
  });
  if (result.status !== 204) throw new Error(`PowerDNS: PATCH delete: HTTP ${result.status} ${result.text}`);
}

/** The contents of the LUA records at `name` (read directly, not through the bench's forwarder). */
export async function luaRecordsAt(server: DnsServer, name: string): Promise<string[]> {
  const zone = `${server.zone}.`;
  const query = new URLSearchParams({ rrsets: 'true', rrset_name: `${name}.` });
  const result = await pdnsApi(server, 'GET', `/zones/${zone}?${query}`);
  if (result.status !== 200) throw new Error(`PowerDNS: GET ${name}: HTTP ${result.status} ${result.text}`);
  const body = JSON.parse(result.text) as {
    rrsets: Array<{ name: string; type: string; records: Array<{ content: string }> }>;
  };
  return body.rrsets
    .filter((rrset) => rrset.name === `${name}.` && rrset.type === 'LUA')
    .flatMap((rrset) => rrset.records.map((record) => record.content));
}
