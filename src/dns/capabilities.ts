/**
 * What each DNS provider can do, as data for the docs: the README's table is printed from it
 * (`node --import tsx scripts/provider-table.ts`), so it cannot drift from the code. Types, minimum
 * TTL, compare-and-set and atomicity come from each provider's declared `capabilities` (the same
 * flags the conformance suite reads to skip what a provider lacks); the config fields come from the
 * config schema; only the prose (how, aliases, permissions) is written here.
 *
 * Providers are created with placeholder settings to read their capabilities; creating one makes
 * no request (each provider's contract), and each is closed at once.
 */
import { dnsProviderSchema } from '../config/schema.ts';
import type { DnsProvider, DnsProviderCapabilities } from './provider.ts';

/** The prose of one provider's row. */
export interface ProviderDescription {
  /** What it talks to. */
  summary: string;
  /** How compare-and-set is done (or emulated). */
  compareAndSet: string;
  /** Why an apply is (or is not) all or nothing. */
  atomic: string;
  /** What happens to aliases and records the host manages itself. */
  aliases: string;
  /** What the credentials must be allowed to do. */
  permissions: string;
}

/** One row of the table. */
export interface ProviderRow extends ProviderDescription {
  type: string;
  capabilities: DnsProviderCapabilities;
  /** Config keys besides `type`; optional ones (or with a default) end with `?`. */
  configFields: string[];
}

/**
 * The providers in the table, in its order: each with a factory that makes no request, or (for one
 * whose creation starts something, like the embedded server) its declared capabilities.
 */
const PROVIDERS: Array<{
  type: string;
  create?: () => Promise<DnsProvider>;
  capabilities?: () => Promise<DnsProviderCapabilities>;
  description: ProviderDescription;
}> = [
  {
    type: 'route53',
    create: async () =>
      (await import('./providers/route53.ts')).createRoute53Provider({ hostedZoneId: 'Z0' }),
    description: {
      summary: 'Amazon Route 53 (AWS SDK)',
      compareAndSet: 'one batch DELETEs the exact set read',
      atomic: 'one ChangeResourceRecordSets batch',
      aliases:
        'alias sets read as `alias:<target>`, routing-policy sets as `policy:<id>`; neither is written',
      permissions:
        'route53:ListResourceRecordSets, route53:ChangeResourceRecordSets, route53:GetHostedZone (with hostedZoneId) or route53:ListHostedZonesByName (with zone), route53:GetChange (waitForSync)',
    },
  },
  {
    type: 'cloudflare',
    create: async () =>
      (await import('./providers/cloudflare.ts')).createCloudflareProvider({
        zone: 'example.com',
        apiToken: 'x',
      }),
    description: {
      summary: 'Cloudflare DNS (official SDK)',
      compareAndSet: 'emulated: re-read right before the batch',
      atomic: 'one batch in one transaction; edge propagation is per record',
      aliases: "proxied flags and comments kept; a proxied record's TTL is Cloudflare's (1, automatic)",
      permissions: 'API token with Zone › DNS › Edit on the zone (and Zone › Zone › Read to find it by name)',
    },
  },
  {
    type: 'dnsmadeeasy',
    create: async () =>
      (await import('./providers/dnsmadeeasy.ts')).createDnsMadeEasyProvider({
        domain: 'example.com',
        apiKey: 'x',
        secretKey: 'x',
      }),
    description: {
      summary: 'DNS Made Easy (REST API v2.0)',
      compareAndSet: 'emulated: re-read right before writing',
      atomic: 'up to three requests: delete, update, create',
      aliases: 'ANAME not managed; records under DNS Made Easy failover or GTD read, never written',
      permissions: 'API key and secret key of a user who may edit the domain; 150 requests per 5 minutes',
    },
  },
  {
    type: 'powerdns',
    create: async () =>
      (await import('./providers/powerdns.ts')).createPowerDnsProvider({
        url: 'http://127.0.0.1:8081',
        serverId: 'localhost',
        zone: 'example.com',
        apiKey: 'x',
      }),
    description: {
      summary: 'PowerDNS Authoritative (HTTP API)',
      compareAndSet: 'emulated: re-read right before the PATCH',
      atomic: 'one PATCH, one backend transaction',
      aliases: 'none',
      permissions: 'the API key (`api-key` in pdns.conf)',
    },
  },
  {
    type: 'rfc2136',
    create: async () =>
      (await import('./providers/rfc2136.ts')).createRfc2136Provider({
        server: '127.0.0.1:53',
        zone: 'example.com',
      }),
    description: {
      summary: 'any server taking dynamic updates (RFC 2136) with TSIG: BIND, Knot, PowerDNS, Windows DNS',
      compareAndSet: 'update prerequisites',
      atomic: 'one UPDATE message',
      aliases: 'none',
      permissions: 'a TSIG key the server lets update the zone (BIND update-policy, Knot acl)',
    },
  },
  {
    type: 'embedded',
    capabilities: async () => (await import('./providers/embedded.ts')).EMBEDDED_CAPABILITIES,
    description: {
      summary:
        "outlast's own authoritative server (UDP and TCP, EDNS, NOTIFY and AXFR to BIND or Knot secondaries), run by `outlast watch`",
      compareAndSet: 'in-process, one zone swap',
      atomic: 'the zone is rebuilt whole in one step, with a new serial',
      aliases: 'none; the zone holds only what the config lists and the managed name',
      permissions: 'none; the listen addresses (port 53 needs root or CAP_NET_BIND_SERVICE)',
    },
  },
  {
    type: 'memory',
    create: async () =>
      (await import('./providers/memory.ts')).createMemoryDnsProvider({ name: 'capabilities' }),
    description: {
      summary: 'in-process records, for tests and `outlast demo`',
      compareAndSet: 'in-process',
      atomic: 'in-process',
      aliases: 'none',
      permissions: 'none',
    },
  },
];

/** Every provider's row, capabilities read from a provider instance. */
export async function providerTable(): Promise<ProviderRow[]> {
  const rows: ProviderRow[] = [];
  for (const { type, create, capabilities, description } of PROVIDERS) {
    const row = (declared: DnsProviderCapabilities): ProviderRow => ({
      type,
      capabilities: declared,
      configFields: configFields(type),
      ...description,
    });
    if (capabilities) {
      rows.push(row(await capabilities()));
      continue;
    }
    const provider = await create!();
    try {
      rows.push(row(provider.capabilities));
    } finally {
      await provider.close?.();
    }
  }
  return rows;
}

/** The table as Markdown, one row per provider. */
export function markdownTable(rows: ProviderRow[]): string {
  const yesNo = (flag: boolean, how: string) => `${flag ? 'yes' : 'no'} (${how})`;
  const lines = [
    '| Provider | Types | Min TTL | Compare-and-set | Atomic apply | Aliases and host-managed records | Config | Permissions |',
    '|---|---|---|---|---|---|---|---|',
    ...rows.map((row) =>
      [
        `**${row.type}**<br>${row.summary}`,
        row.capabilities.types.join(', '),
        String(row.capabilities.minTtl),
        yesNo(row.capabilities.compareAndSet, row.compareAndSet),
        yesNo(row.capabilities.atomic, row.atomic),
        row.aliases,
        row.configFields.map((field) => `\`${field}\``).join(', '),
        row.permissions,
      ]
        .map(cell)
        .join(' | '),
    ),
  ];
  return lines.map((line, index) => (index < 2 ? line : `| ${line} |`)).join('\n');
}

/** The config keys of one provider type, from the schema. */
function configFields(type: string): string[] {
  const variant = dnsProviderSchema.options.find((option) => option.shape.type.value === type);
  if (!variant) return [];
  return Object.entries(variant.shape as Record<string, { safeParse(value: unknown): { success: boolean } }>)
    .filter(([key]) => key !== 'type')
    .map(([key, field]) => (field.safeParse(undefined).success ? `${key}?` : key));
}

/** A Markdown table cell: no pipe or line break may end it early. */
function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}
