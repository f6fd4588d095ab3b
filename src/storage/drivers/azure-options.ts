/**
 * What the `azure` driver (azure.ts) declares: its options in the config (a container and one of
 * four logins), its capabilities and its README notes. Imports no SDK, so the config schema and the
 * docs can read it.
 *
 * Logins, exactly one: a `connectionString`; `account` + `accountKey` (shared key); `account` +
 * `sasToken`; or `account` alone, which uses `DefaultAzureCredential` (environment, workload or
 * managed identity, Azure CLI login). Secrets are written `${VAR}` in the config, so they come
 * from the environment, as for every driver.
 */
import { z } from 'zod';
import { httpUrl } from '../../config/fields.ts';
import type { DriverCapabilities, StorageDriverDocs } from '../driver.ts';

export const AZURE_TYPE = 'azure';
/** A blob batch's most sub-requests (Blob Batch REST API). */
export const AZURE_MAX_DELETE_BATCH = 256;
/** The container Azure's static website hosting serves. */
export const STATIC_WEBSITE_CONTAINER = '$web';

export const azureStorageSchema = z
  .strictObject({
    type: z.literal(AZURE_TYPE),
    /** The container: `$web` for the account's static website (index and 404 documents), or any
     * other, which `outlast setup` makes publicly readable (blob access, no listing). */
    container: z.string().regex(/^(\$web|[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){2,62})$/, {
      message: 'expected a container name: 3-63 lowercase letters, digits and single dashes, or $web',
    }),
    /** The storage account's name, e.g. `mysite`; not needed with a `connectionString`. */
    account: z
      .string()
      .regex(/^[a-z0-9]{3,24}$/, { message: 'expected 3-24 lowercase letters and digits' })
      .optional(),
    /** A connection string (`DefaultEndpointsProtocol=…;AccountName=…;AccountKey=…`), as
     * `${VAR}`; alone, without `account`. */
    connectionString: z.string().min(1).optional(),
    /** The account's shared key, as `${VAR}`; with `account`. */
    accountKey: z.string().min(1).optional(),
    /** A SAS token (`sv=…&sig=…`, with or without the leading `?`), as `${VAR}`; with `account`.
     * It needs read, add, create, write, delete and list on the container (setup needs more). */
    sasToken: z.string().min(1).optional(),
    /** The blob service URL (default `https://<account>.blob.core.windows.net`), e.g. Azurite's
     * `http://127.0.0.1:10000/devstoreaccount1` or a sovereign cloud's. */
    endpoint: httpUrl.optional(),
    /** Key prefix inside the container, e.g. `site/`. */
    prefix: z.string().optional(),
  })
  .superRefine((options, context) => {
    const logins = [
      options.connectionString !== undefined,
      options.accountKey !== undefined,
      options.sasToken !== undefined,
    ].filter(Boolean).length;
    if (logins > 1) {
      context.addIssue({
        code: 'custom',
        message: 'expected one of connectionString, accountKey or sasToken, not several',
      });
    }
    if (options.connectionString !== undefined && options.account !== undefined) {
      context.addIssue({
        code: 'custom',
        path: ['account'],
        message: 'a connectionString names the account itself: leave account out',
      });
    }
    if (options.connectionString === undefined && options.account === undefined) {
      context.addIssue({
        code: 'custom',
        path: ['account'],
        message:
          'expected account (with accountKey, sasToken, or neither for DefaultAzureCredential) or connectionString',
      });
    }
  });

/** The `azure` storage config. `prefix` is applied by Store; the driver does not read it. */
export type AzureStorageConfig = z.output<typeof azureStorageSchema>;

/** As declared; an instance with a SAS login turns `deleteMany` off (azure.ts). */
export const AZURE_CAPABILITIES: DriverCapabilities = {
  copy: true,
  deleteMany: true,
  // List Blobs with include=metadata carries the headers and the metadata (sha256 included).
  listHasMetadata: true,
  fileAndDirectorySameName: true,
  maxDeleteBatch: AZURE_MAX_DELETE_BATCH,
};

export const AZURE_DOCS: StorageDriverDocs = {
  summary: 'Azure Blob Storage, a static website (`$web`) or a public container (@azure/storage-blob)',
  notes:
    'block blobs; sha256 as the metadata `o_outlast_sha256` (metadata names are C# identifiers: `o_` + the key, `-` as `_`), headers as blob HTTP headers; Content-MD5 sent when known, so the service refuses other bytes; past 8 MiB staged blocks (each with its MD5) then one commit; batch deletes (single deletes with a SAS login); setup: the `$web` container and static website (index, 404 document), or a container with public blob access, CORS; origin `url`: `https://<account>.z<N>.web.core.windows.net` for `$web`, else `https://<account>.blob.core.windows.net/<container>`',
};

export const AZURE_DRIVER = {
  type: AZURE_TYPE,
  schema: azureStorageSchema,
  capabilities: AZURE_CAPABILITIES,
  docs: AZURE_DOCS,
} as const;
