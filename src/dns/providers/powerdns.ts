/**
 * `powerdns`: PowerDNS Authoritative through its HTTP API (v1, tested on 4.7 with gsqlite3).
 *
 * read  = GET  /api/v1/servers/{serverId}/zones/{zone}.?rrset_name={name}.  (older servers ignore the
 *         filter and send the whole zone; the sets are picked by name and type here either way)
 * apply = one PATCH /api/v1/servers/{serverId}/zones/{zone}. with every change as an rrset
 *         (`changetype` REPLACE or DELETE). PowerDNS applies one PATCH in one backend transaction,
 *         so an apply is atomic, bumps the SOA serial once (soa_edit_api) and purges the packet
 *         cache: the next query answers the new data.
 *
 * The API has no precondition on a PATCH, so compare-and-set is emulated (src/dns/checked.ts): the
 * sets are read right before the PATCH, and one neither `before` nor `after` is a `conflict`. That
 * catches a watcher acting on a stale read, but another writer can still slip in between that read
 * and the PATCH (a window of one round trip), so the capability is declared false.
 *
 * The API client itself (requests, errors, the key) is powerdns-api.ts, shared with native failover.
 */
import { componentLogger } from '../../util/log.ts';
import { checkedDnsProvider } from '../checked.ts';
import { canonicalValues } from '../plan.ts';
import type { DnsCallOptions, DnsChange, DnsProvider, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';
import { createPowerDnsApi, type PowerDnsOptions } from './powerdns-api.ts';
import { POWERDNS_CAPABILITIES } from './powerdns-options.ts';

export type { PowerDnsOptions } from './powerdns-api.ts';

const PROVIDER_NAME = 'powerdns';

const capabilities = POWERDNS_CAPABILITIES;

/** A provider for one zone of one PowerDNS server. Makes no request until used. */
export function createPowerDnsProvider(options: PowerDnsOptions): DnsProvider {
  const api = createPowerDnsApi(options);
  const { zone, zoneUrl, shownUrl } = api;
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone });

  async function readSets(host: string, options: DnsCallOptions): Promise<RecordSet[]> {
    const rrsets = await api.rrsetsAt(host, options);
    const sets: RecordSet[] = [];
    for (const type of MANAGED_TYPES) {
      const rrset = rrsets.find((item) => item.type === type);
      // Disabled records are not served, so for failover they are not there.
      const values =
        rrset?.records.filter((record) => !record.disabled).map((record) => record.content) ?? [];
      if (!rrset || values.length === 0) continue;
      sets.push({
        name: host,
        type,
        ttl: rrset.ttl,
        values: canonicalValues({ name: host, type, ttl: 0, values }),
      });
    }
    return sets;
  }

  return checkedDnsProvider({
    name: PROVIDER_NAME,
    capabilities,

    describe() {
      return `powerdns ${zone} @ ${shownUrl}`;
    },

    zone: () => zone,

    fetch: readSets,

    async write(changes, _held, options) {
      // Deletes first: PowerDNS checks a CNAME against the other sets in the order of the PATCH.
      const ordered = [...changes].sort(
        (x, y) => Number(x.after !== undefined) - Number(y.after !== undefined),
      );
      const names = [...new Set(ordered.map((change) => change.name))];
      log.debug({ changes: ordered.map((change) => `${change.name} ${change.type}`) }, 'dns patch');
      await api.call('PATCH', zoneUrl, `apply ${names.join(', ')}`, options, {
        rrsets: ordered.map(toRrset),
      });
    },

    async close() {
      await api.close();
    },
  });
}

interface RrsetChange {
  name: string;
  type: ManagedType;
  changetype: 'REPLACE' | 'DELETE';
  ttl?: number;
  records?: Array<{ content: string; disabled: boolean }>;
}

function toRrset(change: DnsChange): RrsetChange {
  const name = `${change.name}.`;
  if (!change.after) return { name, type: change.type, changetype: 'DELETE' };
  // The API wants absolute names; without the dot a CNAME target would be refused.
  const content = (value: string) => (change.type === 'CNAME' ? `${value}.` : value);
  return {
    name,
    type: change.type,
    changetype: 'REPLACE',
    ttl: change.after.ttl,
    records: change.after.values.map((value) => ({ content: content(value), disabled: false })),
  };
}
