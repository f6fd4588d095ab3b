/**
 * What the `swift` driver (swift.ts) declares: its options in the config (the container and one
 * of three logins), its capabilities and its README notes. Imports no driver code, so the config
 * schema and the docs can read it.
 */
import { z } from 'zod';
import { httpUrl } from '../../config/fields.ts';
import type { DriverCapabilities, StorageDriverDocs } from '../driver.ts';

export const SWIFT_TYPE = 'swift';
/** Swift's default `max_deletes_per_request`, assumed until `/info` says otherwise (swift-bulk.ts). */
export const DEFAULT_BULK_DELETES = 10_000;

const swiftAuth = z.discriminatedUnion('type', [
  /** Rackspace Cloud Files: identity v2.0 with a user name and an API key. */
  z.strictObject({
    type: z.literal('rackspace'),
    url: httpUrl.default('https://identity.api.rackspacecloud.com/v2.0'),
    username: z.string().min(1),
    apiKey: z.string().min(1),
  }),
  /** OpenStack Keystone v3: a password, or an application credential. */
  z
    .strictObject({
      type: z.literal('keystone'),
      url: httpUrl,
      username: z.string().min(1).optional(),
      password: z.string().min(1).optional(),
      /** Project (tenant) name. */
      project: z.string().min(1).optional(),
      /** Domain of the user and project (default `Default`). */
      domain: z.string().min(1).optional(),
      applicationCredentialId: z.string().min(1).optional(),
      applicationCredentialSecret: z.string().min(1).optional(),
    })
    .refine(
      (auth) =>
        (auth.applicationCredentialId !== undefined && auth.applicationCredentialSecret !== undefined) ||
        (auth.username !== undefined && auth.password !== undefined && auth.project !== undefined),
      {
        message:
          'expected username, password and project, or applicationCredentialId and applicationCredentialSecret',
      },
    ),
  /** Swift's own tempauth (v1.0), as in development clusters and some providers. */
  z.strictObject({
    type: z.literal('tempauth'),
    url: httpUrl,
    user: z.string().min(1),
    key: z.string().min(1),
  }),
]);

/** Rackspace's CDN TTL bounds (Cloud Files CDN API): 15 minutes to one year since August 2012
 * (longer values are accepted by the API but expire at one year); its default is 72 hours. */
export const CDN_TTL_MIN = 900;
export const CDN_TTL_MAX = 31_536_000;
export const CDN_TTL_DEFAULT = 259_200;

/** Rackspace Cloud Files' CDN for the container (swift-cdn.ts); only with `auth.type: rackspace`. */
const swiftCdn = z.union([
  /** Leave the container's CDN alone: setup then makes it readable through an ACL instead. */
  z.literal(false),
  z.strictObject({
    /** Seconds the CDN edge keeps an object (X-Ttl): 900 (15 min) to 31536000 (one year). */
    ttl: z.number().int().min(CDN_TTL_MIN).max(CDN_TTL_MAX).default(CDN_TTL_DEFAULT),
    /** With `deploy.purge: true`: Rackspace mails this address (or these) when each purge is
     * done (X-Purge-Email, one mail per purged object). Default: no mail. */
    purgeEmail: z.union([z.email(), z.array(z.email()).min(1)]).optional(),
  }),
]);

export const swiftStorageSchema = z.strictObject({
  type: z.literal(SWIFT_TYPE),
  container: z.string().min(1).max(256),
  /** The region in the service catalog, e.g. `DFW` (default: the first that offers object-store). */
  region: z.string().min(1).optional(),
  /** The catalog endpoint to use (default `public`). */
  interface: z.enum(['public', 'internal', 'admin']).default('public'),
  /** Key prefix inside the container, e.g. `site/`. */
  prefix: z.string().optional(),
  auth: swiftAuth,
  /** Rackspace Cloud Files: CDN-enable the container in `outlast setup` (default: on, TTL 72 h,
   * when `auth.type` is rackspace, since only the CDN makes a Cloud Files container public);
   * `false` to leave the CDN alone. Refused by setup with any other login. */
  cdn: swiftCdn.optional(),
});

/** The `swift` storage config. */
export type SwiftStorageConfig = z.output<typeof swiftStorageSchema>;

/** As declared; an instance turns `deleteMany` off when `/info` shows no bulk middleware, and
 * takes the cluster's own batch limit from it. */
export const SWIFT_CAPABILITIES: DriverCapabilities = {
  copy: true,
  deleteMany: true,
  listHasMetadata: false,
  fileAndDirectorySameName: true,
  maxDeleteBatch: DEFAULT_BULK_DELETES,
};

export const SWIFT_DOCS: StorageDriverDocs = {
  summary: "OpenStack Swift's native API: Rackspace Cloud Files, OVHcloud, any Swift cluster",
  notes:
    'logins: tempauth, Keystone v3 (password or application credential), Rackspace identity v2.0; batch deletes through the bulk middleware when `/info` lists it, else one by one; objects up to 5 GiB; setup: public read ACL (on Rackspace: CDN-enabling instead, TTL `cdn.ttl`), staticweb index and error pages, CORS',
};

export const SWIFT_DRIVER = {
  type: SWIFT_TYPE,
  schema: swiftStorageSchema,
  capabilities: SWIFT_CAPABILITIES,
  docs: SWIFT_DOCS,
} as const;
