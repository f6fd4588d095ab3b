/**
 * Store's retry loop (store.ts): one driver call, attempted again while it fails with a retryable
 * error, with exponential backoff and full jitter (never less than what the backend asked for in
 * `retryAfterMs`). The last error is rethrown with the origin as its source and how many attempts
 * were made. An aborted signal stops it at once: no attempt starts and no wait goes on after.
 */
import { isOutlastError, messageOf, OutlastError } from '../errors.ts';
import type { CallOptions } from './driver.ts';

export interface RetryOptions {
  /** The call as messages name it: `put "index.html"`. */
  what: string;
  /** Attempts in all, the first included. */
  attempts: number;
  /** The backoff before the second attempt is drawn from [0, baseMs], doubling each time. */
  baseMs: number;
  /** The backoff ceiling. */
  maxMs: number;
  sleep: (ms: number) => Promise<void>;
  signal: AbortSignal | undefined;
  /** The source of the error finally thrown (`origin "a"`). */
  source: string;
  /** The source of an error the driver threw that was not an OutlastError. */
  driverName: string;
  /** Before each attempt (1, 2, …): where the caller counts and logs. */
  onAttempt(number: number): void;
  /** Before the wait after failed attempt `number`. */
  onRetry(number: number, delayMs: number, error: OutlastError): void;
}

export async function withRetries<T>(
  attempt: (options: CallOptions) => Promise<T>,
  options: RetryOptions,
): Promise<T> {
  const { signal } = options;
  const callOptions: CallOptions = signal ? { signal } : {};
  for (let number = 1; ; number++) {
    if (signal?.aborted) {
      throw new OutlastError('cancelled', `${options.what}: cancelled (its AbortSignal was aborted)`, {
        source: options.source,
        cause: signal.reason,
      });
    }
    options.onAttempt(number);
    try {
      return await attempt(callOptions);
    } catch (thrown) {
      const error = isOutlastError(thrown)
        ? thrown
        : new OutlastError('internal', `${options.what}: ${messageOf(thrown)}`, {
            source: options.driverName,
            cause: thrown,
          });
      if (!error.retryable || number >= options.attempts || signal?.aborted) {
        throw gaveUp(error, number, options.source);
      }
      const ceiling = Math.min(options.maxMs, options.baseMs * 2 ** (number - 1));
      const delay = Math.max(error.retryAfterMs ?? 0, Math.round(Math.random() * ceiling));
      options.onRetry(number, delay, error);
      await untilAborted(options.sleep(delay), signal);
    }
  }
}

/** The error as the store throws it: its source the origin, how many attempts were made. */
export function gaveUp(error: OutlastError, attempts: number, source: string): OutlastError {
  const suffix = attempts > 1 ? ` (gave up after ${attempts} attempts)` : '';
  return new OutlastError(error.code, `${error.message}${suffix}`, {
    source,
    cause: error,
    retryable: error.retryable,
    ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
    ...(error.hint === undefined ? {} : { hint: error.hint }),
  });
}

/** `wait`, cut short when `signal` aborts (the next attempt then sees it). */
async function untilAborted(wait: Promise<void>, signal: AbortSignal | undefined): Promise<void> {
  if (!signal || signal.aborted) return signal ? undefined : wait;
  let onAbort: (() => void) | undefined;
  const aborted = new Promise<void>((resolve) => {
    onAbort = resolve;
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    await Promise.race([wait, aborted]);
  } finally {
    signal.removeEventListener('abort', onAbort!);
  }
}
