/**
 * The shape of `outlast.yaml`, as a zod schema. Every object is strict, so a misspelt key is an
 * error (with a suggestion, see errors.ts), never silently ignored. Relative paths are resolved
 * against the config file's folder by load.ts, after validation.
 */
import { z } from 'zod';
import { clusterSchema } from '../cluster/options.ts';
import { notifySchema } from '../daemon/notify/options.ts';
import { DNS_PROVIDERS } from '../dns/registry.ts';
import { edgeSchema } from '../edge/options.ts';
import { pluginUnion } from '../plugins.ts';
import { STORAGE_DRIVERS } from '../storage/registry.ts';
import { dnsTtl, duration, hostPort, tsigSchema } from './fields.ts';

const idPattern = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/** The headers a rule may set, by their config name. */
export const HEADER_FIELDS = [
  'cacheControl',
  'contentType',
  'contentEncoding',
  'contentDisposition',
  'contentLanguage',
] as const;

const headerRule = z.strictObject({
  /** A glob over site keys (picomatch syntax, `dot: true`), e.g. `assets/**` or `**\/*.html`. */
  match: z.string().min(1),
  cacheControl: z.string().min(1).optional(),
  contentType: z.string().min(1).optional(),
  contentEncoding: z.string().min(1).optional(),
  contentDisposition: z.string().min(1).optional(),
  contentLanguage: z.string().min(1).optional(),
});

const siteSchema = z.strictObject({
  /** The built site to publish. */
  dir: z.string().min(1),
  /** The name users type, e.g. `www.example.com`. */
  hostname: z
    .string()
    .regex(
      /^(?=.{1,253}$)([a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?\.)*[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/i,
      {
        message: 'expected a host name such as www.example.com',
      },
    ),
  /** Globs of files to leave out (picomatch syntax, matched against site keys). */
  exclude: z.array(z.string().min(1)).default([]),
  /** Served for `/` and for every directory. */
  indexDocument: z.string().min(1).default('index.html'),
  /** Served with status 404 for a missing key, when the file exists in the site. */
  errorDocument: z.string().min(1).optional(),
  /** How many releases each origin keeps (their files are never deleted), the live one included. */
  keepReleases: z.number().int().min(1).max(50).default(3),
  /** CORS for the site's origins, set by `outlast setup` where the store supports it. */
  cors: z
    .strictObject({
      /** e.g. `["https://www.example.com"]` or `["*"]`. */
      allowedOrigins: z.array(z.string().min(1)).min(1),
      allowedMethods: z.array(z.enum(['GET', 'HEAD'])).default(['GET', 'HEAD']),
      allowedHeaders: z.array(z.string().min(1)).default([]),
      maxAgeSeconds: z.number().int().min(0).default(3600),
    })
    .optional(),
  /** Header rules; for each header, the first rule that matches and sets it wins. */
  headers: z.array(headerRule).default([]),
});

/** An origin's `storage` section: one of the drivers' options (src/storage/registry.ts), by `type`. */
export const storageSchema = pluginUnion(STORAGE_DRIVERS);

/**
 * `{ cname }` or `{ a, aaaa }`. One object refined, not a union of two: with a union, a `cname` of
 * the wrong type was reported as "cannot be used together with the others" by the a/aaaa form.
 */
const dnsTarget = z
  .strictObject({
    cname: z.string().min(1).optional(),
    a: z.array(z.ipv4()).optional(),
    aaaa: z.array(z.ipv6()).optional(),
  })
  .superRefine((value, ctx) => {
    const addresses = (value.a?.length ?? 0) + (value.aaaa?.length ?? 0);
    if (value.cname !== undefined && (value.a !== undefined || value.aaaa !== undefined)) {
      ctx.addIssue({ code: 'custom', message: 'expected either cname or a/aaaa, not both' });
    } else if (value.cname === undefined && addresses === 0) {
      ctx.addIssue({
        code: 'custom',
        message:
          'expected { cname: name } or { a: [addresses], aaaa: [addresses] } with at least one address',
      });
    }
  })
  .transform((value): { cname: string } | { a?: string[]; aaaa?: string[] } =>
    value.cname !== undefined
      ? { cname: value.cname }
      : {
          ...(value.a === undefined ? {} : { a: value.a }),
          ...(value.aaaa === undefined ? {} : { aaaa: value.aaaa }),
        },
  );

const originSchema = z.strictObject({
  /** A short name: lowercase letters, digits, `-` and `_`. */
  id: z.string().regex(idPattern, {
    message:
      'expected an id of lowercase letters, digits, "-" and "_" (at most 63), starting with a letter or digit',
  }),
  storage: storageSchema,
  /** The origin's public URL (probed by health checks). */
  url: z.url({ protocol: /^https?$/ }).optional(),
  /** Host header for probes, when the URL's host is not the one the origin expects. */
  hostHeader: z.string().min(1).optional(),
  /** What the DNS name points to while this origin is chosen. */
  dns: dnsTarget.optional(),
});

const deploySchema = z.strictObject({
  /** Storage requests in flight per origin. */
  concurrency: z.number().int().min(1).max(256).default(16),
  /** Attempts for a request that failed with a retryable error (the first included). */
  attempts: z.number().int().min(1).max(20).default(5),
  /** A plan that deletes more than this many objects of an origin is refused unless --force. */
  maxDeletes: z.number().int().min(0).default(1000),
  /** A plan that deletes more than this share (0–100) of an origin's objects is refused unless --force. */
  maxDeletePercent: z.number().min(0).max(100).default(50),
  /**
   * After a deploy (or rollback), purge the objects it changed or deleted from the CDN of every
   * origin whose storage has one outlast can purge (today Rackspace Cloud Files, within its 25
   * purges a day), so visitors get the new bytes before the CDN's TTL ends. Other origins ignore
   * it (`outlast check` names them). What cannot be purged is a warning, never a failed deploy.
   * Default off.
   */
  purge: z.boolean().optional(),
});

/** The id of an origin-like value, read defensively: the duplicate check also runs on invalid input. */
function idOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || !('id' in value)) return undefined;
  return typeof value.id === 'string' ? value.id : undefined;
}

const originsSchema = z
  .array(originSchema)
  .min(1, { message: 'expected at least one origin' })
  .superRefine(
    (origins, ctx) => {
      const seen = new Map<string, number>();
      origins.forEach((origin: unknown, index) => {
        const id = idOf(origin);
        if (id === undefined) return;
        const first = seen.get(id);
        if (first !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: [index, 'id'],
            message: `duplicate origin id "${id}" (also origins[${first}].id)`,
          });
        } else {
          seen.set(id, index);
        }
      });
    },
    // By default zod skips refinements once anything else failed; running this one anyway lets a
    // single pass report every problem in the file.
    { when: (payload) => Array.isArray(payload.value) },
  );

const healthSchema = z.strictObject({
  /** What is fetched from each origin's `url`: the beacon, so a probe also tells the release. */
  path: z.string().startsWith('/').default('/.well-known/outlast/release.json'),
  /** Time between probes of one origin while it passes. */
  interval: duration('5s'),
  /** A probe that has not answered in this time fails. */
  timeout: duration('2s'),
  /** After a failed probe, the next one comes this soon, so that `fall` is reached fast. */
  retryInterval: duration('500ms'),
  /** Consecutive failed probes that make an up origin down. */
  fall: z.number().int().min(1).max(20).default(3),
  /** Consecutive passing probes that make a down origin up. */
  rise: z.number().int().min(1).max(20).default(3),
  /** A probe passes only when the origin serves the release of the latest deploy. */
  requireCurrentRelease: z.boolean().default(true),
  /** HTTP statuses that pass (default 200). */
  expectStatus: z.array(z.number().int().min(100).max(599)).default([200]),
});

const failoverSchema = z.strictObject({
  /** `priority`: the first eligible origin in `order`; `all-healthy`: every eligible one (A/AAAA). */
  policy: z.enum(['priority', 'all-healthy']).default('priority'),
  /** Origin ids, most preferred first (default: the order of `origins`). */
  order: z.array(z.string().min(1)).optional(),
  /** `auto`: return to a preferred origin once it is back (after holdDown); `manual`: only on `outlast failback`. */
  failback: z.enum(['auto', 'manual']).default('auto'),
  /** After a change, no move to a *better* origin for this long (moving away from a down one is never delayed). */
  holdDown: duration('60s'),
});

/** Every DNS provider's options, from the registry (src/dns/registry.ts). */
export const dnsProviderSchema = pluginUnion(DNS_PROVIDERS);

const dnsSchema = z.strictObject({
  /** The name that moves between origins, e.g. `www.example.com`. */
  name: z.string().min(1),
  /** TTL of the records outlast writes (seconds). */
  ttl: z.number().int().min(1).max(86400).default(60),
  providers: z.array(dnsProviderSchema).min(1, { message: 'expected at least one DNS provider' }),
});

const watchSchema = z.strictObject({
  /** Where the status server listens (loopback unless you say otherwise). */
  listen: hostPort.default('127.0.0.1:8787'),
  /** State and event log (relative to the config file). */
  stateDir: z.string().min(1).default('.outlast/state'),
  /** Who is told of failovers and the like (webhooks, e-mail); see README "Notifications". */
  notify: notifySchema.optional(),
  /** Several watchers deciding together on etcd (src/cluster/); absent: this watcher alone. */
  cluster: clusterSchema.optional(),
});

export const configSchema = z
  .strictObject({
    site: siteSchema,
    // prefault parses `{}` through the section's schema, so its defaults are written once, above.
    deploy: deploySchema.prefault({}),
    origins: originsSchema,
    health: healthSchema.prefault({}),
    failover: failoverSchema.prefault({}),
    /** Needed by `watch` and `check`; a config without it only deploys. */
    dns: dnsSchema.optional(),
    watch: watchSchema.prefault({}),
    /** `outlast edge`: a front serving the current release from every origin (src/edge/). */
    edge: edgeSchema.optional(),
  })
  .superRefine(
    (config, ctx) => {
      const origins: unknown[] = Array.isArray(config.origins) ? config.origins : [];
      const ids = origins
        .map((origin) => (origin as { id?: unknown })?.id)
        .filter((id) => typeof id === 'string');
      // Runs on invalid input too: an order that is not a list is already reported by its schema.
      const order: unknown = config.failover?.order;
      (Array.isArray(order) ? order : []).forEach((id: unknown, index) => {
        if (typeof id !== 'string') return;
        if (!ids.includes(id)) {
          ctx.addIssue({
            code: 'custom',
            path: ['failover', 'order', index],
            message: `unknown origin "${id}" (origins: ${ids.join(', ')})`,
          });
        }
      });
      checkEdgeOrigins(config.edge, origins, ids, ctx);
      if (typeof config.dns !== 'object' || config.dns === null) return;
      const dns: { ttl?: unknown; providers?: unknown } = config.dns;
      if (typeof dns.ttl === 'number' && Array.isArray(dns.providers)) {
        const ttl = dns.ttl;
        dns.providers.forEach((provider: unknown, index) => {
          const type = (provider as { type?: unknown } | null)?.type;
          const minTtl = DNS_PROVIDERS.find((plugin) => plugin.type === type)?.capabilities.minTtl ?? 0;
          if (ttl < minTtl) {
            ctx.addIssue({
              code: 'custom',
              path: ['dns', 'ttl'],
              message: `${ttl} is below the lowest TTL ${String(type)} takes (dns.providers[${index}]): expected at least ${minTtl}`,
            });
          }
        });
      }
      origins.forEach((raw, index) => {
        const origin = raw as { url?: unknown; dns?: { cname?: unknown } | null } | null | undefined;
        if (origin?.url === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['origins', index, 'url'],
            message: 'is required with a dns section: it is what the health checks probe',
          });
        }
        if (origin?.dns === undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['origins', index, 'dns'],
            message: 'is required with a dns section: { cname: name } or { a: [...], aaaa: [...] }',
          });
        } else if (config.failover?.policy === 'all-healthy' && origin.dns?.cname !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['origins', index, 'dns', 'cname'],
            message: 'cannot be used with failover.policy all-healthy (a name has one CNAME): use a/aaaa',
          });
        }
      });
    },
    { when: (payload) => typeof payload.value === 'object' && payload.value !== null },
  );

/** `edge.origins` names known origins, and every origin the edge reads has a `url`. */
function checkEdgeOrigins(edge: unknown, origins: unknown[], ids: unknown[], ctx: z.RefinementCtx): void {
  if (typeof edge !== 'object' || edge === null) return;
  const listed: unknown = (edge as { origins?: unknown }).origins;
  (Array.isArray(listed) ? listed : []).forEach((id: unknown, index) => {
    if (typeof id === 'string' && !ids.includes(id)) {
      ctx.addIssue({
        code: 'custom',
        path: ['edge', 'origins', index],
        message: `unknown origin "${id}" (origins: ${ids.join(', ')})`,
      });
    }
  });
  origins.forEach((raw, index) => {
    const origin = raw as { id?: unknown; url?: unknown } | null | undefined;
    const used = Array.isArray(listed) ? listed.includes(origin?.id) : true;
    if (used && origin?.url === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['origins', index, 'url'],
        message: 'is required with an edge section: the edge reads the site through it',
      });
    }
  });
}

export type Config = z.output<typeof configSchema>;
export type SiteConfig = Config['site'];
export type OriginConfig = Config['origins'][number];
export type StorageConfig = OriginConfig['storage'];
export type HeaderRule = SiteConfig['headers'][number];
export type DeployConfig = Config['deploy'];
export type HealthConfig = Config['health'];
export type FailoverConfig = Config['failover'];
export type DnsConfig = NonNullable<Config['dns']>;
export type DnsProviderConfig = DnsConfig['providers'][number];
export type WatchConfig = Config['watch'];
export type { EdgeConfig } from '../edge/options.ts';
