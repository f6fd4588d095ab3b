/**
 * `watch.cluster`: several watchers that decide together on etcd (src/cluster/). Imports only zod
 * and the shared fields, so the config schema reads it without loading the etcd client.
 */
import { hostname } from 'node:os';
import { z } from 'zod';
import { duration } from '../config/fields.ts';

const file = z.string().min(1);

export const clusterSchema = z.strictObject({
  /** This watcher's name among the others (default: the host name). */
  id: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, {
      message: 'expected letters, digits, dots, dashes or underscores (at most 63), e.g. eu-1',
    })
    .default(
      () =>
        hostname()
          .replace(/[^A-Za-z0-9._-]/g, '-')
          .slice(0, 63) || 'watcher',
    ),
  etcd: z.strictObject({
    endpoints: z
      .array(z.url({ protocol: /^https?$/, message: 'expected an http(s) URL, e.g. https://etcd-1:2379' }))
      .min(1, { message: 'expected at least one etcd endpoint' }),
    /** Where this site's keys live; default `/outlast/<dns.name>/`. */
    prefix: z
      .string()
      .regex(/^\/.*\/$/, { message: 'expected a key prefix that starts and ends with /, e.g. /outlast/www/' })
      .optional(),
    tls: z.strictObject({ ca: file.optional(), cert: file.optional(), key: file.optional() }).optional(),
    auth: z.strictObject({ user: z.string().min(1), password: z.string().min(1) }).optional(),
  }),
  /** Watchers that must agree an origin is down (or up again); default a majority of live watchers. */
  quorum: z.number().int().min(1).optional(),
  /** How long a watcher's view and leadership outlive it; the leader renews a third of it. */
  leaseTtl: duration('5s').refine((ms) => ms >= 2000 && ms % 1000 === 0, {
    message: 'expected whole seconds, at least 2s (etcd leases count seconds)',
  }),
});

export type ClusterConfig = z.output<typeof clusterSchema>;
