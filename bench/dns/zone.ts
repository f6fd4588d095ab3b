/**
 * The zone both servers serve in the DNS bench, as the embedded provider's config writes it and
 * as Knot's zone file writes it (the same records as test/e2e/dns-embedded-diff.test.ts, minus the
 * oversized TXT), and the dnsperf query file.
 */

import type { DnsChange } from '../../src/dns/provider.ts';
import type { EmbeddedDnsOptions } from '../../src/dns/providers/embedded.ts';

export const ZONE = 'example.test';
export const at = (label: string): string => `${label}.${ZONE}`;

/** The embedded provider's options (listen filled in by the caller). */
export function embeddedOptions(listen: string): EmbeddedDnsOptions {
  return {
    listen: [listen],
    zone: ZONE,
    nameservers: [`ns1.${ZONE}.`, `ns2.${ZONE}.`],
    ttl: 300,
    soa: { email: `hostmaster.${ZONE}`, refresh: 3600, retry: 600, expire: 604800, minimum: 60 },
    records: [
      { name: 'ns1', type: 'A', ttl: 3600, value: '127.0.0.1' },
      { name: 'ns2', type: 'AAAA', value: '::1' },
      { name: '@', type: 'MX', value: '10 mail' },
      { name: 'mail', type: 'A', value: '192.0.2.25' },
      { name: '@', type: 'TXT', value: '"v=spf1 -all"' },
      { name: 'ext', type: 'CNAME', value: 'target.example.net.' },
    ],
  };
}

/** The managed records: `www` A (what failover moves) and `site` CNAME → www. */
export function managedChanges(addresses: string[] = ['192.0.2.1', '192.0.2.2']): DnsChange[] {
  return [
    {
      name: at('www'),
      type: 'A',
      before: undefined,
      after: { name: at('www'), type: 'A', ttl: 60, values: addresses },
    },
    {
      name: at('site'),
      type: 'CNAME',
      before: undefined,
      after: { name: at('site'), type: 'CNAME', ttl: 60, values: [at('www')] },
    },
  ];
}

/** The same zone for Knot, with the embedded server's serial so the SOA answers match too. */
export function knotZoneFile(serial: number): string {
  return `$ORIGIN ${ZONE}.
$TTL 300
@ 300 IN SOA ns1.${ZONE}. hostmaster.${ZONE}. ${serial} 3600 600 604800 60
@ IN NS ns1
@ IN NS ns2
ns1 3600 IN A 127.0.0.1
ns2 IN AAAA ::1
@ IN MX 10 mail
mail IN A 192.0.2.25
@ IN TXT "v=spf1 -all"
ext IN CNAME target.example.net.
www 60 IN A 192.0.2.1
www 60 IN A 192.0.2.2
site 60 IN CNAME www
`;
}

/**
 * The query mix (dnsperf's `name type` lines), with what each one exercises. dnsperf walks the
 * file in order and wraps around, so the mix is exactly these proportions.
 */
export const QUERY_MIX: Array<{ name: string; type: string; kind: string }> = [
  { name: at('www'), type: 'A', kind: 'existing A (managed)' },
  { name: at('www'), type: 'A', kind: 'existing A (managed)' },
  { name: at('www'), type: 'A', kind: 'existing A (managed)' },
  { name: 'WwW.ExAmPlE.tEsT', type: 'A', kind: 'mixed case' },
  { name: 'SITE.Example.Test', type: 'A', kind: 'mixed case, CNAME chain' },
  { name: at('site'), type: 'A', kind: 'CNAME → A in zone' },
  { name: at('site'), type: 'CNAME', kind: 'CNAME' },
  { name: at('ext'), type: 'A', kind: 'CNAME out of zone' },
  { name: at('mail'), type: 'A', kind: 'existing A (static)' },
  { name: at('nope'), type: 'A', kind: 'NXDOMAIN' },
  { name: at('deep.nope'), type: 'AAAA', kind: 'NXDOMAIN' },
  { name: ZONE, type: 'SOA', kind: 'SOA' },
  { name: ZONE, type: 'NS', kind: 'NS (with glue)' },
  { name: ZONE, type: 'MX', kind: 'MX' },
  { name: at('www'), type: 'AAAA', kind: 'AAAA NODATA' },
  { name: at('mail'), type: 'AAAA', kind: 'AAAA NODATA' },
];

export function queryFile(): string {
  return `${QUERY_MIX.map((query) => `${query.name} ${query.type}`).join('\n')}\n`;
}
