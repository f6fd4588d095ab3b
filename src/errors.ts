/**
 * One error base class for the whole tool, with a closed set of codes.
 *
 * Every layer throws `OutlastError` (or a subclass) and keeps the original error as `cause`.
 * Only the CLI's entry point maps codes to exit codes and decides what a user sees; a user never
 * sees a stack trace for a mistake of theirs. Messages must never contain a secret.
 */

export const ERROR_CODES = [
  /** The object, bucket, release or record does not exist. */
  'not_found',
  /** The credentials were refused or lack a permission. */
  'permission_denied',
  /** The input is wrong (a bad key, a bad option); retrying does not help. */
  'invalid_argument',
  /** The configuration file is wrong. */
  'invalid_config',
  /** The site directory cannot be published as it is (bad name, symlink outside, unreadable). */
  'invalid_site',
  /** A precondition failed: the thing changed since it was read (compare-and-set lost). */
  'conflict',
  /** A safety guard refused the plan (too many deletes); `--force` overrides. */
  'guard_refused',
  /** The service cannot be reached or answered 5xx; retrying may help. */
  'unavailable',
  /** The service asked us to slow down; retrying later helps. */
  'rate_limited',
  /** No answer within the time allowed; retrying may help. */
  'timeout',
  /** The backend does not do this. */
  'unsupported',
  /** The caller aborted the call (its AbortSignal); nothing more was sent. Not retried. */
  'cancelled',
  /** A bug or an answer we do not understand. */
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const RETRYABLE_BY_DEFAULT: ReadonlySet<ErrorCode> = new Set(['unavailable', 'rate_limited', 'timeout']);

export interface OutlastErrorOptions {
  /** The original error, kept for debugging (`--debug` prints the chain). */
  cause?: unknown;
  /** Overrides the code's default (unavailable, rate_limited and timeout are retryable). */
  retryable?: boolean;
  /** The backend, origin or provider the error comes from, e.g. `fs` or `origin local-a`. */
  source?: string;
  /** For rate_limited: how long the service asked us to wait. */
  retryAfterMs?: number;
  /** A line that tells the user what to do about it. */
  hint?: string;
}

export class OutlastError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  readonly source: string | undefined;
  readonly retryAfterMs: number | undefined;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: OutlastErrorOptions = {}) {
    super(options.source ? `${options.source}: ${message}` : message, { cause: options.cause });
    this.name = 'OutlastError';
    this.code = code;
    this.retryable = options.retryable ?? RETRYABLE_BY_DEFAULT.has(code);
    this.source = options.source;
    this.retryAfterMs = options.retryAfterMs;
    this.hint = options.hint;
  }
}

export function isOutlastError(error: unknown, code?: ErrorCode): error is OutlastError {
  return error instanceof OutlastError && (code === undefined || error.code === code);
}

/** The message of anything thrown, for places that must say something about an unknown error. */
export function messageOf(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
