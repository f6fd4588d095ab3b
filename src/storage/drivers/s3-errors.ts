/**
 * How the `s3` driver turns what the AWS SDK throws (S3 error codes, bare HTTP statuses of HEAD
 * requests, Node's network errors, the SDK's timeouts) into outlast's error codes, with a message
 * that names the operation, the key, the bucket, and says what to do. Never a secret.
 */
import { type ErrorCode, messageOf, OutlastError } from '../../errors.ts';
import { cancelledError, isAbortError } from '../abort.ts';
import { CODE_BY_ERRNO } from '../network-errors.ts';

export interface S3ErrorContext {
  /** The driver's name, the errors' `source`. */
  source: string;
  bucket: string;
  /** Where requests go, e.g. `https://s3.example.net` or `Amazon S3 (eu-west-1)`. */
  endpoint: string;
  /** Where the credentials come from, e.g. `the AWS profile "prod"`. */
  credentialSource: string;
  /** Removed from every message, should a store ever echo it. */
  secret?: string;
}

/** What the SDK's errors may carry; network errors carry only `code` and a message. */
interface SdkErrorShape {
  name?: string;
  message?: string;
  code?: string;
  Code?: string;
  AWSAccessKeyId?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
}

/** S3 error codes (as the SDK names its errors) onto outlast's. */
const CODE_BY_NAME: Record<string, ErrorCode> = {
  NoSuchBucket: 'not_found',
  NoSuchKey: 'not_found',
  NotFound: 'not_found',
  NoSuchUpload: 'not_found',
  AccessDenied: 'permission_denied',
  InvalidAccessKeyId: 'permission_denied',
  SignatureDoesNotMatch: 'permission_denied',
  Forbidden: 'permission_denied',
  ExpiredToken: 'permission_denied',
  InvalidToken: 'permission_denied',
  TokenRefreshRequired: 'permission_denied',
  AccountProblem: 'permission_denied',
  AllAccessDisabled: 'permission_denied',
  RequestTimeTooSkewed: 'permission_denied',
  CredentialsProviderError: 'permission_denied',
  SlowDown: 'rate_limited',
  Throttling: 'rate_limited',
  ThrottlingException: 'rate_limited',
  TooManyRequests: 'rate_limited',
  TooManyRequestsException: 'rate_limited',
  RequestLimitExceeded: 'rate_limited',
  InternalError: 'unavailable',
  ServiceUnavailable: 'unavailable',
  // The bytes the store received are not those hashed: damaged in transit, or a file that
  // changed while it was read. Both are worth another attempt, which reads the file again.
  BadDigest: 'unavailable',
  XAmzContentSHA256Mismatch: 'unavailable',
  IncompleteBody: 'unavailable',
  RequestTimeout: 'timeout',
  TimeoutError: 'timeout',
  InvalidBucketName: 'invalid_argument',
  InvalidArgument: 'invalid_argument',
  InvalidRequest: 'invalid_argument',
  KeyTooLongError: 'invalid_argument',
  MetadataTooLarge: 'invalid_argument',
  EntityTooLarge: 'invalid_argument',
  EntityTooSmall: 'invalid_argument',
  PermanentRedirect: 'invalid_config',
  AuthorizationHeaderMalformed: 'invalid_config',
  IllegalLocationConstraintException: 'invalid_config',
  NotImplemented: 'unsupported',
  MethodNotAllowed: 'unsupported',
  BucketAlreadyExists: 'conflict',
  BucketNotEmpty: 'conflict',
  OperationAborted: 'conflict',
  PreconditionFailed: 'conflict',
};

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
};

/** The S3 error code of an SDK error (`NoSuchKey`), or the SDK's name for bodiless answers. */
export function s3ErrorName(error: unknown): string | undefined {
  const shape = error as SdkErrorShape | undefined;
  return shape?.Code ?? shape?.name;
}

/** The HTTP status of the store's answer, when there was one. */
export function s3Status(error: unknown): number | undefined {
  return (error as SdkErrorShape | undefined)?.$metadata?.httpStatusCode;
}

/** True when the store answered without an S3 error code (HEAD requests carry no body). */
export function isBodiless(error: unknown): boolean {
  const shape = error as SdkErrorShape | undefined;
  return s3Status(error) !== undefined && shape?.Code === undefined;
}

/** The OutlastError for `error` thrown by `operation` (on `key`, when there is one). */
export function s3Error(
  context: S3ErrorContext,
  error: unknown,
  operation: string,
  key?: string,
): OutlastError {
  if (error instanceof OutlastError) return error;
  const where = s3Where(context, operation, key);
  if (isAbortError(error)) return cancelledError(context.source, where, error);
  const shape = (error ?? {}) as SdkErrorShape;
  const name = s3ErrorName(error);
  const status = s3Status(error);
  const errno = shape.code ?? (/socket hang up/i.test(shape.message ?? '') ? 'ECONNRESET' : undefined);
  // An answer the SDK could not parse (cut short, or not S3's XML at all): worth another try.
  const code = isMalformed(shape)
    ? 'unavailable'
    : ((name === undefined ? undefined : CODE_BY_NAME[name]) ??
      (errno === undefined ? undefined : CODE_BY_ERRNO[errno]) ??
      codeByStatus(status));
  const { why, hint } = explain(context, code, name, status, errno, shape);
  const retryAfterMs = retryAfter(shape);
  return new OutlastError(code, redact(`${where}: ${why}`, context.secret), {
    source: context.source,
    cause: error,
    ...(name === 'OperationAborted' ? { retryable: true } : {}),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(hint === undefined ? {} : { hint: redact(hint, context.secret) }),
  });
}

/** The store does not implement DeleteObjects (NotImplemented, MethodNotAllowed or their statuses). */
export function refusesDeleteObjects(error: unknown): boolean {
  const name = s3ErrorName(error);
  const status = s3Status(error);
  return name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405;
}

/** The failures of a deleteMany done key by key (the store refuses DeleteObjects) as one error,
 * naming the first `named` keys; a refusal (or a cancel) is reported before a transient failure. */
export function keyByKeyError(
  source: string,
  bucket: string,
  total: number,
  failures: { key: string; error: OutlastError }[],
  named: number,
): OutlastError {
  const chosen = failures.find((item) => !item.error.retryable) ?? failures[0]!;
  const list = failures
    .slice(0, named)
    .map((item) => `${JSON.stringify(item.key)} (${item.error.code})`)
    .join(', ');
  const more = failures.length > named ? ` and ${failures.length - named} more` : '';
  return new OutlastError(
    chosen.error.code,
    `deleteMany in bucket ${JSON.stringify(bucket)} (key by key: the store refuses DeleteObjects): ${failures.length} of ${total} keys not deleted: ${list}${more}; first: ${chosen.error.message}`,
    { source, cause: chosen.error, retryable: chosen.error.retryable },
  );
}

/** What a message says the call was: `put "a.txt" in bucket "b"`. */
export function s3Where(context: S3ErrorContext, operation: string, key?: string): string {
  const bucket = `in bucket ${JSON.stringify(context.bucket)}`;
  return key === undefined ? `${operation} ${bucket}` : `${operation} ${JSON.stringify(key)} ${bucket}`;
}

/** outlast's code for an S3 error code (as in a DeleteObjects answer) or an HTTP status. */
export function errorCodeOf(name: string | undefined, status?: number): ErrorCode {
  return (name === undefined ? undefined : CODE_BY_NAME[name]) ?? codeByStatus(status);
}

function codeByStatus(status: number | undefined): ErrorCode {
  if (status === undefined) return 'internal';
  if (status === 301 || status === 307) return 'invalid_config';
  if (status === 400) return 'invalid_argument';
  if (status === 401 || status === 403) return 'permission_denied';
  if (status === 404) return 'not_found';
  if (status === 405 || status === 501) return 'unsupported';
  if (status === 409 || status === 412) return 'conflict';
  // S3 says "slow down" with a 503; a store in trouble says 500, 502 or 504.
  if (status === 429 || status === 503) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  return 'internal';
}

function explain(
  context: S3ErrorContext,
  code: ErrorCode,
  name: string | undefined,
  status: number | undefined,
  errno: string | undefined,
  shape: SdkErrorShape,
): { why: string; hint?: string } {
  const tag = [name && name !== 'Unknown' && name !== 'Error' ? name : undefined, status && `HTTP ${status}`]
    .filter(Boolean)
    .join(', ');
  const said = shape.message && shape.message !== 'UnknownError' ? shape.message : undefined;
  const detail = (text: string) => `${text}${tag ? ` (${tag})` : ''}`;
  const bucket = JSON.stringify(context.bucket);
  switch (name) {
    case 'NoSuchBucket':
      return {
        why: detail(`bucket ${bucket} does not exist at ${context.endpoint}`),
        hint: 'check the bucket name, region and endpoint, or create the bucket with outlast setup',
      };
    case 'NoSuchKey':
    case 'NotFound':
      return { why: detail('no such object') };
    case 'InvalidAccessKeyId':
      return {
        why: detail(
          `the store does not know the access key id${shape.AWSAccessKeyId ? ` ${shape.AWSAccessKeyId}` : ''} from ${context.credentialSource}`,
        ),
        hint: 'check the access key id, and that it belongs to this store (endpoint) and is active',
      };
    case 'SignatureDoesNotMatch':
      return {
        why: detail(
          `the signature does not match: the secret access key from ${context.credentialSource} is wrong for this access key id (some stores, OpenStack Swift's among them, also answer this for an access key id they do not know)`,
        ),
        hint: 'check the secret access key (and the access key id)',
      };
    case 'AccessDenied':
      return {
        why: detail(
          `access denied: the credentials from ${context.credentialSource} were accepted, but are not allowed to do this`,
        ),
        hint: `grant them this operation on bucket ${bucket} (e.g. s3:GetObject, s3:PutObject, s3:DeleteObject, s3:ListBucket)`,
      };
    case 'ExpiredToken':
    case 'TokenRefreshRequired':
      return { why: detail(`the session token from ${context.credentialSource} has expired`) };
    case 'RequestTimeTooSkewed':
      return {
        why: detail("this machine's clock is too far from the store's for a signed request"),
        hint: 'set the clock (NTP)',
      };
    case 'CredentialsProviderError':
      return { why: `no credentials: ${said ?? 'none found'} (looked in ${context.credentialSource})` };
    case 'BadDigest':
    case 'XAmzContentSHA256Mismatch':
      return {
        why: detail(
          'the store received other bytes than outlast hashed: damaged in transit, or the file changed since the site was scanned',
        ),
      };
    case 'PermanentRedirect':
    case 'AuthorizationHeaderMalformed':
      return { why: detail(`bucket ${bucket} is in another region than ${regionHint(shape)}`) };
    default:
      break;
  }
  if (errno && CODE_BY_ERRNO[errno] && status === undefined) {
    const words = NETWORK_WORDS[errno] ?? (code === 'timeout' ? 'timed out' : 'connection failed');
    return { why: `cannot reach ${context.endpoint}: ${words} (${errno})` };
  }
  if (code === 'timeout')
    return { why: `no answer from ${context.endpoint} in time${said ? `: ${said}` : ''}` };
  if (code === 'permission_denied' && status === 403 && shape.Code === undefined) {
    // A HEAD request's 403 has no body, so nothing says which of these it is.
    return {
      why: detail(
        `refused: the credentials from ${context.credentialSource} are wrong or not allowed to do this (AWS also answers 403 for a missing object when s3:ListBucket is not granted)`,
      ),
    };
  }
  if (code === 'invalid_config' && (status === 301 || status === 307)) {
    return { why: detail(`bucket ${bucket} is in another region than ${regionHint(shape)}`) };
  }
  if (isMalformed(shape)) {
    return {
      why: `the store's answer is not the XML that S3 sends${status ? ` (HTTP ${status})` : ''}${parserSaid(shape)}`,
    };
  }
  if (said === undefined && status !== undefined && status >= 500 && code === 'unavailable') {
    return { why: detail('the store failed to answer, without an S3 error') };
  }
  if (code === 'rate_limited') return { why: detail('the store asks to slow down') };
  if (code === 'unsupported') return { why: detail('this store does not implement this request') };
  if (code === 'not_found') return { why: detail('not found') };
  return { why: detail(said ?? messageOf(shape)) };
}

/** The SDK's "Deserialization error: to see the raw response, inspect the hidden field …". */
function isMalformed(shape: SdkErrorShape): boolean {
  return /Deserialization error|XML parse error/i.test(shape.message ?? '');
}

/** The parser's own first line, without the SDK's prefix: `expected ">" not found`. */
function parserSaid(shape: SdkErrorShape): string {
  const first = (shape.message ?? '').split('\n')[0]!.trim();
  const rest = first.replace(/^@aws-sdk XML parse error:\s*/i, '');
  return rest === first || /^Deserialization error/i.test(rest) ? '' : `: ${rest}`;
}

/** The region the store points to, when it says (AWS: x-amz-bucket-region), else the config's. */
function regionHint(shape: SdkErrorShape): string {
  const region = shape.$response?.headers?.['x-amz-bucket-region'];
  return region ? `the one configured: it is in ${region}` : 'the one configured';
}

function retryAfter(shape: SdkErrorShape): number | undefined {
  const value = shape.$response?.headers?.['retry-after'];
  if (value === undefined) return undefined;
  const seconds = Number(value);
  return Number.isFinite(seconds) && seconds >= 0 ? Math.round(seconds * 1000) : undefined;
}

function redact(text: string, secret: string | undefined): string {
  return secret && secret.length >= 4 ? text.split(secret).join('***') : text;
}
