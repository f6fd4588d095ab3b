/**
 * How the `azure` driver turns what @azure/storage-blob throws (a `RestError` with the service's
 * error code and HTTP status, or with a network error's code and no status; the identity
 * library's `CredentialUnavailableError`; an `AbortError`) into outlast's error codes, with a
 * message naming the operation, the key and the container. Never a secret: the account key, the
 * SAS token and any `sig=` in a URL are removed from every message.
 */
import { type ErrorCode, messageOf, OutlastError } from '../../errors.ts';
import { cancelledError, isAbortError } from '../abort.ts';
import { CODE_BY_ERRNO } from '../network-errors.ts';

export interface AzureErrorContext {
  /** The driver's name, the errors' `source`. */
  source: string;
  container: string;
  /** Where requests go, e.g. `https://mysite.blob.core.windows.net` (no query, so no SAS). */
  endpoint: string;
  /** Where the credentials come from, e.g. `the account key of "mysite"`. */
  credentialSource: string;
  /** Removed from every message, should the service or the SDK ever echo them. */
  secrets: string[];
}

/** What the SDK's errors may carry. */
interface AzureErrorShape {
  name?: string;
  message?: string;
  code?: string;
  statusCode?: number;
  details?: { errorCode?: string; message?: string };
  cause?: { code?: string };
}

/** The service's error codes (x-ms-error-code) onto outlast's. */
const CODE_BY_NAME: Record<string, ErrorCode> = {
  BlobNotFound: 'not_found',
  ContainerNotFound: 'not_found',
  ResourceNotFound: 'not_found',
  CannotVerifyCopySource: 'not_found',
  AuthenticationFailed: 'permission_denied',
  AuthorizationFailure: 'permission_denied',
  AuthorizationPermissionMismatch: 'permission_denied',
  AuthorizationResourceTypeMismatch: 'permission_denied',
  AuthorizationServiceMismatch: 'permission_denied',
  AuthorizationProtocolMismatch: 'permission_denied',
  AuthorizationSourceIPMismatch: 'permission_denied',
  InsufficientAccountPermissions: 'permission_denied',
  AccountIsDisabled: 'permission_denied',
  PublicAccessNotPermitted: 'permission_denied',
  CredentialUnavailableError: 'permission_denied',
  AuthenticationRequiredError: 'permission_denied',
  ServerBusy: 'rate_limited',
  InternalError: 'unavailable',
  // The bytes the service received are not those the MD5 was computed from: damaged in
  // transit, or a file that changed since the scan. Another attempt reads the file again.
  Md5Mismatch: 'unavailable',
  OperationTimedOut: 'timeout',
  InvalidBlockList: 'conflict',
  ContainerAlreadyExists: 'conflict',
  ContainerBeingDeleted: 'conflict',
  LeaseIdMissing: 'conflict',
  ConditionNotMet: 'conflict',
  InvalidResourceName: 'invalid_argument',
  InvalidMetadata: 'invalid_argument',
  InvalidHeaderValue: 'invalid_argument',
  InvalidQueryParameterValue: 'invalid_argument',
  RequestBodyTooLarge: 'invalid_argument',
  OutOfRangeInput: 'invalid_argument',
  UnsupportedHeader: 'unsupported',
  FeatureVersionMismatch: 'unsupported',
};

/** The service's error code of an SDK error (`BlobNotFound`), when it said one. */
export function azureErrorName(error: unknown): string | undefined {
  const shape = error as AzureErrorShape | undefined;
  const named = shape?.details?.errorCode ?? shape?.code;
  if (named && !/^[A-Z_]+$/.test(named)) return named;
  // The identity library's errors have only a name.
  return shape?.name && shape.name in CODE_BY_NAME ? shape.name : undefined;
}

/** The HTTP status of the service's answer, when there was one. */
export function azureStatus(error: unknown): number | undefined {
  return (error as AzureErrorShape | undefined)?.statusCode;
}

/** The OutlastError for `error` thrown by `operation` (on `key`, when there is one). */
export function azureError(
  context: AzureErrorContext,
  error: unknown,
  operation: string,
  key?: string,
): OutlastError {
  if (error instanceof OutlastError) return error;
  const where = azureWhere(context, operation, key);
  if (isAbortError(error)) return cancelledError(context.source, where, error);
  const shape = (error ?? {}) as AzureErrorShape;
  const name = azureErrorName(error);
  const status = azureStatus(error);
  const errno = errnoOf(shape);
  const code =
    (name === undefined ? undefined : CODE_BY_NAME[name]) ??
    (errno === undefined ? undefined : CODE_BY_ERRNO[errno]) ??
    codeByStatus(status);
  const { why, hint } = explain(context, code, name, status, errno, shape);
  return new OutlastError(code, redact(`${where}: ${why}`, context.secrets), {
    source: context.source,
    cause: error,
    ...(hint === undefined ? {} : { hint: redact(hint, context.secrets) }),
  });
}

/** What a message says the call was: `put "a.txt" in container "web"`. */
export function azureWhere(context: AzureErrorContext, operation: string, key?: string): string {
  const container = `in container ${JSON.stringify(context.container)}`;
  return key === undefined ? `${operation} ${container}` : `${operation} ${JSON.stringify(key)} ${container}`;
}

/** outlast's code for a service error code (as in a batch's sub-response) or an HTTP status. */
export function azureCodeOf(name: string | undefined, status?: number): ErrorCode {
  return (name === undefined ? undefined : CODE_BY_NAME[name]) ?? codeByStatus(status);
}

function errnoOf(shape: AzureErrorShape): string | undefined {
  if (shape.code && shape.code in CODE_BY_ERRNO) return shape.code;
  if (shape.cause?.code && shape.cause.code in CODE_BY_ERRNO) return shape.cause.code;
  const named = /\b(E[A-Z]{4,})\b/.exec(shape.message ?? '')?.[1];
  if (named && named in CODE_BY_ERRNO) return named;
  return /socket hang up/i.test(shape.message ?? '') ? 'ECONNRESET' : undefined;
}

function codeByStatus(status: number | undefined): ErrorCode {
  if (status === undefined) return 'internal';
  if (status === 400) return 'invalid_argument';
  if (status === 401 || status === 403) return 'permission_denied';
  if (status === 404) return 'not_found';
  if (status === 405 || status === 501) return 'unsupported';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 429) return 'rate_limited';
  // Azure says ServerBusy with a 503 (named above); any other 5xx is trouble worth a retry.
  if (status >= 500) return 'unavailable';
  return 'internal';
}

function explain(
  context: AzureErrorContext,
  code: ErrorCode,
  name: string | undefined,
  status: number | undefined,
  errno: string | undefined,
  shape: AzureErrorShape,
): { why: string; hint?: string } {
  const tag = [name, status && `HTTP ${status}`].filter(Boolean).join(', ');
  const detail = (text: string) => `${text}${tag ? ` (${tag})` : ''}`;
  // The service's message is its first line; the rest repeats the request id and time.
  const said = (shape.details?.message ?? shape.message)?.split('\n')[0]?.trim() || undefined;
  const container = JSON.stringify(context.container);
  switch (name) {
    case 'ContainerNotFound':
      return {
        why: detail(`container ${container} does not exist at ${context.endpoint}`),
        hint: 'check the container name and the account, or create the container with outlast setup',
      };
    case 'BlobNotFound':
      return { why: detail('no such blob') };
    case 'AuthenticationFailed':
      return {
        why: detail(
          `the service refused the credentials from ${context.credentialSource} (a wrong key, an expired or malformed SAS token, or a clock far off)`,
        ),
        hint: 'check the key or SAS token, its expiry and permissions, and the clock (NTP)',
      };
    case 'AuthorizationFailure':
    case 'AuthorizationPermissionMismatch':
    case 'InsufficientAccountPermissions':
      return {
        why: detail(
          `not allowed: the credentials from ${context.credentialSource} were accepted, but may not do this`,
        ),
        hint: `grant them read, write, delete and list on container ${container} (e.g. the Storage Blob Data Contributor role, or those SAS permissions)`,
      };
    case 'CredentialUnavailableError':
    case 'AuthenticationRequiredError':
      return {
        why: `no credentials: DefaultAzureCredential found none (${said ?? 'none found'})`,
        hint: 'set accountKey, sasToken or connectionString, or log in (az login, a managed identity, AZURE_CLIENT_ID/AZURE_TENANT_ID/AZURE_CLIENT_SECRET)',
      };
    case 'Md5Mismatch':
      return {
        why: detail(
          'the service received other bytes than their MD5 says: damaged in transit, or the file changed since the site was scanned',
        ),
      };
    default:
      break;
  }
  if (errno && status === undefined) {
    return { why: `cannot reach ${context.endpoint}: ${errno}${code === 'timeout' ? ' (timed out)' : ''}` };
  }
  if (code === 'rate_limited') return { why: detail('the service asks to slow down') };
  if (code === 'not_found') return { why: detail('not found') };
  if (code === 'unavailable' && status !== undefined)
    return { why: detail(said ?? 'the service failed to answer') };
  return { why: detail(said ?? (messageOf(shape) || 'failed')) };
}

/** `text` without the secrets, nor any SAS signature (`sig=…`) a URL in it may carry. */
export function redact(text: string, secrets: string[]): string {
  let out = text;
  for (const secret of secrets) if (secret.length >= 4) out = out.split(secret).join('***');
  return out.replace(/([?&]sig=)[^&\s'"]+/gi, '$1***');
}
