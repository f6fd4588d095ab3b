/**
 * Webhook targets: one POST per try, through undici, with the event id (for the receiver's
 * dedupe), a timestamp and, when the webhook has a secret, an HMAC-SHA256 signature of
 * `<timestamp>.<body>`. 2xx is sent; a network error, a timeout, 5xx and 429 are retried
 * (Retry-After honoured); any other status is refused for good. Every text made here names the
 * webhook by its host: its URL (a Slack URL is a credential) and secret never appear.
 */
import { Agent, request } from 'undici';
import { parseRetryAfter, requestSignal, scrub } from '../../dns/host-http.ts';
import { WRITER } from '../../version.ts';
import {
  EVENT_ID_HEADER,
  jsonBody,
  type NotifyEvent,
  SIGNATURE_HEADER,
  signature,
  slackBody,
  TIMESTAMP_HEADER,
  urlSecrets,
} from './events.ts';
import type { Sender, SendOutcome } from './retry.ts';

export interface WebhookTarget {
  url: string;
  format: 'json' | 'slack';
  secret?: string | undefined;
}

export interface WebhookSenderOptions {
  /** Per try, connect to the last byte of the answer. */
  timeoutMs: number;
  /** Milliseconds since the epoch, for the timestamp (tests). */
  now?: () => number;
}

/** How much of a refusing answer's body is quoted in the error. */
const DETAIL_MAX = 120;

export function webhookSender(target: WebhookTarget, options: WebhookSenderOptions): Sender {
  const now = options.now ?? Date.now;
  const secrets = [...urlSecrets(target.url), ...(target.secret ? [target.secret] : [])];
  const agent = new Agent({ connect: { timeout: options.timeoutMs }, keepAliveTimeout: 10_000 });
  let closed = false;

  async function send(event: NotifyEvent, signal: AbortSignal): Promise<SendOutcome> {
    const body = target.format === 'slack' ? slackBody(event) : jsonBody(event);
    const timestamp = String(Math.floor(now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json; charset=utf-8',
      'user-agent': WRITER,
      [EVENT_ID_HEADER]: event.id,
      'x-outlast-event': event.kind,
      [TIMESTAMP_HEADER]: timestamp,
    };
    if (target.secret) headers[SIGNATURE_HEADER] = signature(target.secret, timestamp, body);
    let status: number;
    let text: string;
    let retryAfter: string | string[] | undefined;
    try {
      const response = await request(target.url, {
        method: 'POST',
        dispatcher: agent,
        signal: requestSignal(options.timeoutMs, signal),
        headersTimeout: options.timeoutMs,
        bodyTimeout: options.timeoutMs,
        headers,
        body,
      });
      status = response.statusCode;
      retryAfter = response.headers['retry-after'];
      text = await response.body.text();
    } catch (error) {
      return { ok: false, retryable: true, error: networkReason(error, signal, options.timeoutMs) };
    }
    if (status >= 200 && status < 300) return { ok: true };
    const detail = scrub(text.replace(/\s+/g, ' ').trim(), secrets).slice(0, DETAIL_MAX);
    const error = `HTTP ${status}${detail ? ` (${detail})` : ''}`;
    if (status === 429 || status >= 500) {
      const retryAfterMs = parseRetryAfter(retryAfter);
      return { ok: false, retryable: true, error, ...(retryAfterMs === undefined ? {} : { retryAfterMs }) };
    }
    return { ok: false, retryable: false, error };
  }

  return {
    send,
    async close() {
      if (closed) return;
      closed = true;
      await agent.close().catch(() => undefined);
    },
  };
}

/** Why no answer came, without undici's message (which may quote the URL): a code or a kind. */
function networkReason(error: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return 'cancelled: the watcher stopped';
  const name = error instanceof Error ? error.name : '';
  const code = codeOf(error);
  if (
    name === 'TimeoutError' ||
    code === 'UND_ERR_CONNECT_TIMEOUT' ||
    code === 'UND_ERR_HEADERS_TIMEOUT' ||
    code === 'UND_ERR_BODY_TIMEOUT'
  ) {
    return `no answer within ${timeoutMs / 1000} s`;
  }
  return `cannot reach it (${code ?? 'network error'})`;
}

/** `ECONNREFUSED` and the like, from the error or its cause. */
function codeOf(error: unknown): string | undefined {
  for (let current = error, depth = 0; current && depth < 4; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}
