/**
 * The `gcs` driver's credentials, as @google-cloud/storage options. A service account's key
 * (inline `credentials`, or a `keyFilename` holding a `service_account` JSON key) becomes
 * google-auth-library's JWT client, handed to the library as its `authClient`: the library's own
 * `credentials`/`keyFilename` options still work but print a deprecation warning on every start.
 * Any other key file (a user's or an external account's) goes to the library as `keyFilename`;
 * without either, Application Default Credentials.
 *
 * `selfSignedJwt` (default: on with `apiEndpoint`): the JWT client signs a JWT with the storage
 * scope and sends it as the bearer token itself (`useJWTAccessWithScope`, as Google's own client
 * libraries do for APIs that accept it), instead of exchanging it for an access token at
 * oauth2.googleapis.com, which an emulator or stand-in cannot stand in for: the token URL is
 * fixed in google-auth-library.
 *
 * google-auth-library is @google-cloud/storage's own dependency (the same copy is used).
 */
import { readFileSync } from 'node:fs';
import type { StorageOptions } from '@google-cloud/storage';
import { JWT } from 'google-auth-library';
import { messageOf, OutlastError } from '../../errors.ts';
import type { GcsStorageConfig } from './gcs-options.ts';

/** Read and write objects and buckets, and set bucket IAM (setup). */
export const STORAGE_SCOPE = 'https://www.googleapis.com/auth/devstorage.full_control';

interface ServiceAccountKey {
  type?: string;
  client_email?: string;
  private_key?: string;
  private_key_id?: string;
  project_id?: string;
}

/** The auth part of the library's options for this config. */
export function authOptions(options: GcsStorageConfig, source: string): Partial<StorageOptions> {
  const selfSigned = options.selfSignedJwt ?? options.apiEndpoint !== undefined;
  const key: ServiceAccountKey | undefined = options.credentials ?? readKeyFile(options.keyFilename, source);
  if (key?.client_email && key.private_key) {
    const client = new JWT({
      email: key.client_email,
      key: key.private_key,
      ...(key.private_key_id ? { keyId: key.private_key_id } : {}),
      scopes: [STORAGE_SCOPE],
    });
    if (selfSigned) client.useJWTAccessWithScope = true;
    const projectId = options.projectId ?? key.project_id;
    return { authClient: client, ...(projectId ? { projectId } : {}) };
  }
  if (options.keyFilename) return { keyFilename: options.keyFilename };
  return {};
}

/** A service account's key from its file; undefined for another kind of key file. */
function readKeyFile(path: string | undefined, source: string): ServiceAccountKey | undefined {
  if (path === undefined) return undefined;
  let parsed: ServiceAccountKey;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as ServiceAccountKey;
  } catch (error) {
    // Never the file's text: it holds a private key.
    const why = error instanceof SyntaxError ? 'it is not JSON' : messageOf(error);
    throw new OutlastError(
      'invalid_config',
      `keyFilename ${JSON.stringify(path)}: cannot read the key: ${why}`,
      {
        source,
      },
    );
  }
  return parsed.type === 'service_account' ? parsed : undefined;
}
