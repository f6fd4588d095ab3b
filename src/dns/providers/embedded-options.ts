/**
 * What the `embedded` DNS provider (embedded.ts) declares: its options in the config, its capabilities and
 * its README row. Imports no provider code and no SDK, so the config schema and the docs read it.
 */
import { z } from 'zod';
import { dnsTtl, hostPort, tsigSchema } from '../../config/fields.ts';
import { parseZoneConfig, STATIC_TYPES } from '../embedded/records.ts';
import type { DnsProviderCapabilities, DnsProviderDocs } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';

export const EMBEDDED_TYPE = 'embedded';

/** outlast's own authoritative server (src/dns/providers/embedded.ts). */
export const embeddedDnsOptionsSchema = z
  .strictObject({
    type: z.literal(EMBEDDED_TYPE),
    /** Where to answer, UDP and TCP: `["127.0.0.1:5353", "[::1]:5353"]`; port 53 needs privileges. */
    listen: z.array(hostPort).min(1),
    /** The zone served, e.g. `example.com`; `dns.name` must be inside it. */
    zone: z.string().min(1),
    /** The apex NS records (absolute names); the first is the SOA's primary name server. */
    nameservers: z.array(z.string().min(1)).min(1),
    /** TTL of the SOA, the NS and the static records that set none. */
    ttl: dnsTtl.default(300),
    soa: z
      .strictObject({
        /** The zone's contact, `hostmaster@example.com` or `hostmaster.example.com` (default hostmaster.<zone>). */
        email: z.string().min(1).optional(),
        refresh: dnsTtl.default(3600),
        retry: dnsTtl.default(600),
        expire: dnsTtl.default(604800),
        /** The TTL of negative answers (RFC 2308). */
        minimum: dnsTtl.default(60),
      })
      .prefault({}),
    /** Static records beside the managed name. Names: `@`, relative (`ns1`), or absolute with a trailing dot. */
    records: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          type: z.enum(STATIC_TYPES),
          ttl: dnsTtl.optional(),
          /** Presentation form: `192.0.2.1`, `10 mail.example.com.`, `"v=spf1 -all"`, `0 issue "letsencrypt.org"`. */
          value: z.string(),
        }),
      )
      .default([]),
    secondaries: z
      .strictObject({
        /** HOST:PORT of each secondary that gets a NOTIFY after every change. */
        notify: z.array(hostPort).default([]),
        /** Addresses or CIDR prefixes allowed to transfer the zone (AXFR); default: the notify hosts. */
        allowTransfer: z.array(z.string().min(1)).optional(),
        /** Transfers must be signed with this key; NOTIFYs are signed with it. */
        tsig: tsigSchema.optional(),
      })
      .optional(),
  })
  .superRefine((provider, ctx) => {
    for (const problem of parseZoneConfig(provider).problems) {
      ctx.addIssue({ code: 'custom', path: problem.path, message: problem.message });
    }
  });

/** The `embedded` provider's config. */
export type EmbeddedDnsConfig = z.output<typeof embeddedDnsOptionsSchema>;

export const EMBEDDED_CAPABILITIES: DnsProviderCapabilities = {
  compareAndSet: true,
  atomic: true,
  minTtl: 1,
  types: MANAGED_TYPES,
};

export const EMBEDDED_DOCS: DnsProviderDocs = {
  summary:
    "outlast's own authoritative server (UDP and TCP, EDNS, NOTIFY and AXFR to BIND or Knot secondaries), run by `outlast watch`",
  compareAndSet: 'in-process, one zone swap',
  atomic: 'the zone is rebuilt whole in one step, with a new serial',
  aliases: 'none; the zone holds only what the config lists and the managed name',
  permissions: 'none; the listen addresses (port 53 needs root or CAP_NET_BIND_SERVICE)',
};

export const EMBEDDED_PROVIDER = {
  type: EMBEDDED_TYPE,
  schema: embeddedDnsOptionsSchema,
  capabilities: EMBEDDED_CAPABILITIES,
  docs: EMBEDDED_DOCS,
} as const;
