/**
 * The service and container clients of the `azure` driver for each of its four logins, with
 * what its error messages say about them (the endpoint, where the credentials come from) and the
 * secrets they must never show. The SDK's own retries are off (one attempt per call: Store
 * retries, and counts). @azure/identity is imported only for a login by `account` alone.
 */
import {
  AnonymousCredential,
  BlobServiceClient,
  type ContainerClient,
  type StoragePipelineOptions,
  StorageSharedKeyCredential,
} from '@azure/storage-blob';
import type { AzureStorageConfig } from './azure-options.ts';

export interface ResolvedClients {
  serviceClient: BlobServiceClient;
  containerClient: ContainerClient;
}

export interface AzureClients {
  /** The blob service URL, without a query (so without a SAS token). */
  endpoint: string;
  /** For messages: `the account key of "mysite"`. */
  credentialSource: string;
  /** What no message may show. */
  secrets: string[];
  /** The login is a SAS token (no key, no Entra ID token). */
  bySas: boolean;
  /** The clients, made on the first call (DefaultAzureCredential is imported then). */
  resolved(): Promise<ResolvedClients>;
}

const PIPELINE: StoragePipelineOptions = { retryOptions: { maxTries: 1 } };

export function azureClients(options: AzureStorageConfig): AzureClients {
  const { container, account, connectionString, accountKey, sasToken } = options;
  const endpointOf = (name: string) =>
    (options.endpoint ?? `https://${name}.blob.core.windows.net`).replace(/\/+$/, '');
  let make: () => Promise<BlobServiceClient>;
  let endpoint: string;
  let credentialSource: string;
  const secrets: string[] = [];
  let bySas = false;
  if (connectionString !== undefined) {
    const fields = parseConnectionString(connectionString);
    const name = fields.accountname ?? 'devstoreaccount1';
    endpoint = (options.endpoint ?? fields.blobendpoint ?? endpointOf(name)).replace(/\/+$/, '');
    credentialSource = `the connection string of account ${JSON.stringify(name)}`;
    secrets.push(connectionString, ...[fields.accountkey, fields.sharedaccesssignature].filter(isString));
    bySas = fields.accountkey === undefined && fields.sharedaccesssignature !== undefined;
    make = async () =>
      options.endpoint === undefined
        ? BlobServiceClient.fromConnectionString(connectionString, PIPELINE)
        : fromFields(fields, endpoint);
  } else {
    const name = account!;
    endpoint = endpointOf(name);
    if (accountKey !== undefined) {
      credentialSource = `the account key of ${JSON.stringify(name)}`;
      secrets.push(accountKey);
      make = async () =>
        new BlobServiceClient(endpoint, new StorageSharedKeyCredential(name, accountKey), PIPELINE);
    } else if (sasToken !== undefined) {
      credentialSource = `the SAS token for ${JSON.stringify(name)}`;
      const token = sasToken.replace(/^\?/, '');
      secrets.push(token);
      bySas = true;
      make = async () => new BlobServiceClient(`${endpoint}?${token}`, new AnonymousCredential(), PIPELINE);
    } else {
      credentialSource = `DefaultAzureCredential (account ${JSON.stringify(name)})`;
      make = async () => {
        const { DefaultAzureCredential } = await import('@azure/identity');
        return new BlobServiceClient(endpoint, new DefaultAzureCredential(), PIPELINE);
      };
    }
  }
  let resolved: Promise<ResolvedClients> | undefined;
  return {
    endpoint,
    credentialSource,
    secrets,
    bySas,
    resolved() {
      resolved ??= make().then((serviceClient) => ({
        serviceClient,
        containerClient: serviceClient.getContainerClient(container),
      }));
      // A failed start (a bad connection string) is tried again by the next call.
      resolved.catch(() => {
        resolved = undefined;
      });
      return resolved;
    },
  };
}

/** A connection string's fields, names lowercased (`accountname`, `accountkey`, `blobendpoint`). */
function parseConnectionString(text: string): Record<string, string | undefined> {
  const out: Record<string, string> = {};
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) out[part.slice(0, at).trim().toLowerCase()] = part.slice(at + 1).trim();
  }
  return out;
}

/** A client from a connection string's credentials on another endpoint than the string's. */
function fromFields(fields: Record<string, string | undefined>, endpoint: string): BlobServiceClient {
  const { accountname, accountkey, sharedaccesssignature } = fields;
  if (accountname && accountkey) {
    return new BlobServiceClient(endpoint, new StorageSharedKeyCredential(accountname, accountkey), PIPELINE);
  }
  const query = sharedaccesssignature ? `?${sharedaccesssignature.replace(/^\?/, '')}` : '';
  return new BlobServiceClient(`${endpoint}${query}`, new AnonymousCredential(), PIPELINE);
}

function isString(value: string | undefined): value is string {
  return typeof value === 'string' && value.length > 0;
}
