/**
 * What the DNS host modules that speak HTTP share: reading `Retry-After`, naming a request that got
 * no answer, and URLs and texts fit for a message (no credentials, no secrets).
 */
import { type ErrorCode, OutlastError } from '../errors.ts';

/** `Retry-After` in seconds or as an HTTP date, in ms (undefined when absent or unreadable). */
export function parseRetryAfter(value: string | readonly string[] | undefined): number | undefined {
  const text = Array.isArray(value) ? value[0] : (value as string | undefined);
  if (text === undefined) return undefined;
  const seconds = Number(text);
  if (text.trim() !== '' && Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000);
  const at = Date.parse(text);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

/**
 * A request that got no HTTP answer: `cancelled` when the caller aborted it, `timeout` when the
 * time ran out, else `unavailable` (a server that is not there).
 */
export function networkError(
  error: unknown,
  what: string,
  source: string,
  signal?: AbortSignal,
): OutlastError {
  if (signal?.aborted) {
    return new OutlastError('cancelled', `${what}: aborted`, { source, cause: error });
  }
  const name = error instanceof Error ? error.name : '';
  const code = (error as { code?: unknown } | null)?.code;
  if (name === 'TimeoutError' || code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'UND_ERR_HEADERS_TIMEOUT') {
    return new OutlastError('timeout', `${what}: no answer in time`, { source, cause: error });
  }
  const reason = typeof code === 'string' ? code : error instanceof Error ? error.message : String(error);
  return new OutlastError('unavailable', `${what}: cannot reach the API (${reason})`, {
    source,
    cause: error,
  });
}

/** The per-request timeout, and the caller's signal when there is one. */
export function requestSignal(timeoutMs: number, signal: AbortSignal | undefined): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([timeout, signal]) : timeout;
}

/** The URL for messages: without credentials, query or fragment. */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname.replace(/\/$/, '')}`;
  } catch {
    return url;
  }
}

/** `text` with every secret replaced by `***`. */
export function scrub(text: string, secrets: readonly string[]): string {
  return secrets
    .filter((secret) => secret.length > 0)
    .reduce((out, secret) => out.split(secret).join('***'), text);
}

/** The error maker of one host module: every error it makes names `source`. */
export function failureOf(source: string) {
  return (code: ErrorCode, message: string, cause?: unknown, extra: { hint?: string } = {}): OutlastError =>
    new OutlastError(code, message, { source, cause, ...extra });
}

/** The host's own words in an error body (`{"error": "…"}` or `{"error": ["…", …]}`), else the text. */
export function errorText(text: string): string {
  try {
    const parsed = JSON.parse(text) as { error?: unknown };
    if (Array.isArray(parsed.error)) return parsed.error.map(String).join('; ');
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // Not JSON: the text itself.
  }
  return text.trim().slice(0, 300) || '(no body)';
}
