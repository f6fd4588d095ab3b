/**
 * What the `s3` driver (s3.ts) declares: its options in the config, its capabilities and its
 * README notes. Imports no SDK, so the config schema and the docs can read it.
 */
import { z } from 'zod';
import { httpUrl } from '../../config/fields.ts';
import type { DriverCapabilities, StorageDriverDocs } from '../driver.ts';

export const S3_TYPE = 's3';
/** DeleteObjects' most keys per request. */
export const S3_MAX_DELETE_BATCH = 1000;

/** Static credentials; only for stores outside AWS. Write them as `${VAR}` so they come from the
 * environment. Without them the AWS SDK's standard chain is used (env, profile, SSO, role). */
const s3Credentials = z.strictObject({
  accessKeyId: z.string().min(1),
  secretAccessKey: z.string().min(1),
  sessionToken: z.string().min(1).optional(),
});

export const s3StorageSchema = z.strictObject({
  type: z.literal(S3_TYPE),
  /** The bucket (for S3 website hosting, named like the site's host name). */
  bucket: z.string().min(3).max(255),
  /** The bucket's region, e.g. `us-east-1`. */
  region: z.string().min(1).default('us-east-1'),
  /** An S3-compatible endpoint (R2, B2, Wasabi, MinIO, Ceph, Swift's S3 API), e.g. `https://s3.example.net`. */
  endpoint: httpUrl.optional(),
  /** Path-style URLs (`endpoint/bucket/key`); most S3-compatible stores need it. */
  forcePathStyle: z.boolean().optional(),
  /** Key prefix inside the bucket, e.g. `site/`. */
  prefix: z.string().optional(),
  /** The AWS shared-config profile to use instead of the default chain. */
  profile: z.string().min(1).optional(),
  credentials: s3Credentials.optional(),
});

/**
 * The `s3` storage config: `bucket`, `region`, and optionally `endpoint` (an S3-compatible
 * store), `forcePathStyle`, `profile` (an AWS shared-config profile) or static `credentials`.
 * `prefix` is applied by Store for objects; the driver uses it only in `setup`, to make public
 * only what is under it.
 */
export type S3StorageConfig = z.output<typeof s3StorageSchema>;

export const S3_CAPABILITIES: DriverCapabilities = {
  copy: true,
  deleteMany: true,
  // ListObjectsV2 gives key, size and ETag only: sha256 and headers need a HEAD per object.
  listHasMetadata: false,
  fileAndDirectorySameName: true,
  maxDeleteBatch: S3_MAX_DELETE_BATCH,
};

export const S3_DOCS: StorageDriverDocs = {
  summary: "Amazon S3 and S3-compatible stores: R2, B2, Wasabi, MinIO, Ceph, Swift's S3 API (AWS SDK)",
  notes:
    'sha256 stored as `x-amz-meta-outlast-sha256`; below 16 MiB also sent as `x-amz-content-sha256`, so the store refuses other bytes, larger files go up in parts, each with its Content-MD5; setup: public-read policy (or ACL), website hosting, CORS',
};

export const S3_DRIVER = {
  type: S3_TYPE,
  schema: s3StorageSchema,
  capabilities: S3_CAPABILITIES,
  docs: S3_DOCS,
} as const;
