/**
 * The retry policy of every notification target: what a send can end in, and how long to wait
 * before the next try (exponential backoff with jitter, Retry-After honoured). Pure.
 */
import type { NotifyEvent } from './events.ts';
import type { RetryConfig } from './options.ts';

/** How one try of one delivery ended. `error` is for people and never holds a secret. */
export type SendOutcome =
  | { ok: true }
  | {
      ok: false;
      /** A network error, a timeout, 5xx or 429 (SMTP: 4xx): trying again may help. */
      retryable: boolean;
      error: string;
      /** What the receiver asked for (Retry-After), in ms. */
      retryAfterMs?: number;
    };

/** A Retry-After beyond this is not honoured in full: the delivery would look lost. */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * The wait before the next try, after `attempts` tries failed (1 after the first): `initialDelay`
 * doubled per further failure, at most `maxDelay`, of which a random half is taken off (jitter, so
 * that many watchers or deliveries do not retry in step); never less than a Retry-After (up to
 * an hour). `random` is in [0, 1).
 */
export function retryDelay(
  retry: Pick<RetryConfig, 'initialDelay' | 'maxDelay'>,
  attempts: number,
  retryAfterMs: number | undefined,
  random: number = Math.random(),
): number {
  const backoff = Math.min(retry.maxDelay, retry.initialDelay * 2 ** Math.min(Math.max(attempts - 1, 0), 30));
  const jittered = Math.round(backoff / 2 + random * (backoff / 2));
  if (retryAfterMs === undefined) return jittered;
  return Math.max(jittered, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
}

/**
 * One target's way of sending (a webhook, an SMTP server). `send` makes one try and never throws:
 * every failure is an outcome. It may run for several targets at once, never twice at once for
 * one target. `signal` aborts a try in flight (the watcher stops); that is a retryable outcome.
 */
export interface Sender {
  send(event: NotifyEvent, signal: AbortSignal): Promise<SendOutcome>;
  /** Releases connections; idempotent. */
  close(): Promise<void>;
}
