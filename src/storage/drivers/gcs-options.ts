/**
 * What the `gcs` driver (gcs.ts) declares: its options in the config, its capabilities and its
 * README notes. Imports no SDK, so the config schema and the docs can read it.
 *
 * Auth: without `keyFilename` or `credentials`, the library's Application Default Credentials
 * (GOOGLE_APPLICATION_CREDENTIALS, gcloud's user credentials, the metadata server on GCP).
 */
import { z } from 'zod';
import { httpUrl } from '../../config/fields.ts';
import type { DriverCapabilities, StorageDriverDocs } from '../driver.ts';

export const GCS_TYPE = 'gcs';

/** A service account's key, the two fields of its JSON key file that sign requests. Write them
 * as `${VAR}` so they come from the environment, never from the config file itself. */
const gcsCredentials = z.strictObject({
  /** The service account's e-mail, e.g. `deployer@my-project.iam.gserviceaccount.com`. */
  client_email: z.string().min(1),
  /** The PEM private key (`-----BEGIN PRIVATE KEY-----…`), with its newlines. */
  private_key: z.string().min(1),
});

export const gcsStorageSchema = z.strictObject({
  type: z.literal(GCS_TYPE),
  /** The bucket (3–63 characters; up to 222 with dots, for a bucket named like a domain). */
  bucket: z.string().min(3).max(222),
  /** The project that bills the requests and owns a bucket `outlast setup` creates. */
  projectId: z.string().min(1).optional(),
  /** Key prefix inside the bucket, e.g. `site/`. */
  prefix: z.string().optional(),
  /** A service account's JSON key file, instead of Application Default Credentials. */
  keyFilename: z.string().min(1).optional(),
  /** A service account's key inline (as `${VAR}`s), instead of Application Default Credentials. */
  credentials: gcsCredentials.optional(),
  /** Another JSON API endpoint than `https://storage.googleapis.com`: an emulator or a stand-in.
   * Requests to it are still authenticated. */
  apiEndpoint: httpUrl.optional(),
  /**
   * Authenticate with a service account's key by a self-signed JWT sent as the bearer token,
   * instead of exchanging it for an access token at Google's OAuth endpoint. Default: on with
   * `apiEndpoint` (an emulator cannot reach that endpoint), off otherwise.
   */
  selfSignedJwt: z.boolean().optional(),
});

/** The `gcs` storage config (see the schema's fields). */
export type GcsStorageConfig = z.output<typeof gcsStorageSchema>;

export const GCS_CAPABILITIES: DriverCapabilities = {
  // objects.copy/rewrite keeps the source's metadata unless new metadata is given.
  copy: true,
  // The JSON API's batch endpoint takes 100 calls per request, but the library has no batch
  // delete: Store runs single deletes concurrently.
  deleteMany: false,
  // objects.list returns each object's full resource: metadata and headers included.
  listHasMetadata: true,
  fileAndDirectorySameName: true,
  maxDeleteBatch: 1,
};

export const GCS_DOCS: StorageDriverDocs = {
  summary: 'Google Cloud Storage (JSON API, @google-cloud/storage)',
  notes:
    "sha256 stored as custom metadata `outlast-sha256`, headers as the object's own fields; the MD5 is sent as `md5Hash`, so GCS refuses other bytes; above 8 MiB a resumable upload (an aborted one leaves nothing); listings carry metadata; setup: website config, uniform bucket-level access, `allUsers` objectViewer, CORS",
};

export const GCS_DRIVER = {
  type: GCS_TYPE,
  schema: gcsStorageSchema,
  capabilities: GCS_CAPABILITIES,
  docs: GCS_DOCS,
} as const;
