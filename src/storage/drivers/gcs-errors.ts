/**
 * How the `gcs` driver turns what @google-cloud/storage throws into outlast's error codes. The
 * library throws several shapes: its ApiError (`code` is the HTTP status, `errors[].reason` the
 * JSON API's reason), a resumable upload's bare error object (`{ code, message, errors }`),
 * gaxios' and node-fetch's network errors (`code` is Node's errno, sometimes on a `cause`), and
 * google-auth-library's errors when no credentials can be found or signed with. Messages name the
 * operation, the key and the bucket; never a secret (the private key is removed should a
 * message ever carry it).
 */
import { type ErrorCode, messageOf, OutlastError } from '../../errors.ts';
import { cancelledError, isAbortError } from '../abort.ts';
import { CODE_BY_ERRNO } from '../network-errors.ts';

export interface GcsErrorContext {
  /** The driver's name, the errors' `source`. */
  source: string;
  bucket: string;
  /** Where requests go, e.g. `https://storage.googleapis.com`. */
  endpoint: string;
  /** Where the credentials come from, e.g. `the key file /etc/sa.json`. */
  credentialSource: string;
  /** Removed from every message. */
  secret?: string;
}

interface LibraryErrorShape {
  name?: string;
  message?: string;
  code?: unknown;
  status?: unknown;
  errors?: Array<{ reason?: string; message?: string }>;
  response?: { status?: number; headers?: unknown };
  cause?: unknown;
}

/** The JSON API's error reasons onto outlast's codes, where the status alone would mislead. */
const CODE_BY_REASON: Record<string, ErrorCode> = {
  notFound: 'not_found',
  forbidden: 'permission_denied',
  authError: 'permission_denied',
  required: 'permission_denied',
  accountDisabled: 'permission_denied',
  rateLimitExceeded: 'rate_limited',
  userRateLimitExceeded: 'rate_limited',
  backendError: 'unavailable',
  internalError: 'unavailable',
  conditionNotMet: 'conflict',
  conflict: 'conflict',
  invalid: 'invalid_argument',
  invalidArgument: 'invalid_argument',
  notImplemented: 'unsupported',
};

/** The HTTP status of GCS's answer, when there was one. */
export function gcsStatus(error: unknown): number | undefined {
  const shape = (error ?? {}) as LibraryErrorShape;
  if (typeof shape.code === 'number') return shape.code;
  if (typeof shape.status === 'number') return shape.status;
  return shape.response?.status;
}

/** The JSON API's reason (`notFound`, `forbidden`), when the answer had one. */
export function gcsReason(error: unknown): string | undefined {
  return ((error ?? {}) as LibraryErrorShape).errors?.[0]?.reason;
}

/** Node's errno of a network error, looked for along the cause chain. */
function errnoOf(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    const shape = current as LibraryErrorShape;
    if (typeof shape.code === 'string' && CODE_BY_ERRNO[shape.code]) return shape.code;
    if (/socket hang up/i.test(shape.message ?? '')) return 'ECONNRESET';
    current = shape.cause;
  }
  return undefined;
}

/** GCS compares the bytes it got with the `md5Hash` it was given (400, reason `invalid`). */
export function isDigestMismatch(error: unknown): boolean {
  return /MD5 hash .* doesn't match|md5.*mismatch/i.test(saidBy(error));
}

/** The error's message; a resumable upload rejects with GCS's bare `{ code, message }` object. */
function saidBy(error: unknown): string {
  const message = (error as LibraryErrorShape | undefined)?.message;
  return typeof message === 'string' ? message : messageOf(error);
}

/** What a message says the call was: `put "a.txt" in bucket "b"`. */
export function gcsWhere(context: GcsErrorContext, operation: string, key?: string): string {
  const bucket = `in bucket ${JSON.stringify(context.bucket)}`;
  return key === undefined ? `${operation} ${bucket}` : `${operation} ${JSON.stringify(key)} ${bucket}`;
}

/** The OutlastError for `error` thrown by `operation` (on `key`, when there is one). */
export function gcsError(
  context: GcsErrorContext,
  error: unknown,
  operation: string,
  key?: string,
): OutlastError {
  if (error instanceof OutlastError) return error;
  const where = gcsWhere(context, operation, key);
  if (isAbortError(error)) return cancelledError(context.source, where, error);
  const status = gcsStatus(error);
  const reason = gcsReason(error);
  const errno = status === undefined ? errnoOf(error) : undefined;
  const said = saidBy(error);
  let code: ErrorCode;
  let why: string;
  let hint: string | undefined;
  if (isDigestMismatch(error)) {
    // Damaged in transit, or a file that changed since the scan: another attempt reads it again.
    code = 'unavailable';
    why = `GCS received other bytes than outlast hashed (MD5 mismatch): ${said}`;
  } else if (errno !== undefined) {
    code = CODE_BY_ERRNO[errno]!;
    // The token endpoint (oauth2.googleapis.com) or the metadata server may be what failed.
    const url = /request to (\S+) failed/.exec(said)?.[1];
    const where = url && !url.startsWith(context.endpoint) ? url.split('?')[0] : context.endpoint;
    why = `cannot reach ${where}: ${errno}`;
  } else if (status === undefined && isCredentialsError(said)) {
    code = 'permission_denied';
    why = `no usable credentials (${context.credentialSource}): ${said}`;
    hint =
      'set GOOGLE_APPLICATION_CREDENTIALS, run `gcloud auth application-default login`, or give keyFilename or credentials';
  } else {
    code = (reason === undefined ? undefined : CODE_BY_REASON[reason]) ?? codeByStatus(status);
    const tag = [reason, status && `HTTP ${status}`].filter(Boolean).join(', ');
    why = `${said}${tag ? ` (${tag})` : ''}`;
    if (code === 'permission_denied') {
      why = `refused: the credentials from ${context.credentialSource} are not accepted or not allowed to do this: ${why}`;
      hint = `grant the service account a role on bucket ${JSON.stringify(context.bucket)} (roles/storage.objectAdmin to deploy, roles/storage.admin for setup)`;
    }
    if (status === 404 && /bucket does not exist/i.test(said)) {
      hint = 'check the bucket name and project, or create the bucket with outlast setup';
    }
  }
  return new OutlastError(code, redact(`${where}: ${why}`, context.secret), {
    source: context.source,
    cause: error,
    ...(hint === undefined ? {} : { hint }),
  });
}

/** The `not_found` of a bucket that the driver found missing (its own HEAD of the bucket). */
export function noSuchBucket(context: GcsErrorContext, operation: string, key?: string): OutlastError {
  return new OutlastError(
    'not_found',
    `${gcsWhere(context, operation, key)}: bucket ${JSON.stringify(context.bucket)} does not exist at ${context.endpoint}`,
    { source: context.source, hint: 'check the bucket name, or create the bucket with outlast setup' },
  );
}

function isCredentialsError(message: string): boolean {
  return /default credentials|credentials|private key|client_email|DECODER|PEM|no key or keyFile/i.test(
    message,
  );
}

function codeByStatus(status: number | undefined): ErrorCode {
  if (status === undefined) return 'internal';
  if (status === 400) return 'invalid_argument';
  if (status === 401 || status === 403) return 'permission_denied';
  if (status === 404) return 'not_found';
  if (status === 405 || status === 501) return 'unsupported';
  if (status === 408) return 'timeout';
  if (status === 409 || status === 412) return 'conflict';
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'unavailable';
  return 'internal';
}

function redact(text: string, secret: string | undefined): string {
  if (!secret || secret.length < 4) return text;
  let out = text.split(secret).join('***');
  // A PEM key could appear line by line: remove its body lines too.
  for (const line of secret.split(/\r?\n/)) {
    if (line.length >= 16 && !line.startsWith('-----')) out = out.split(line).join('***');
  }
  return out;
}
