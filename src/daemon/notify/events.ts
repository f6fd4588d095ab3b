/**
 * The pure part of notifications: which timeline events people are told of (and under which
 * name), the event's stable id, the texts (JSON body, Slack text, e-mail subject and body), the
 * webhook signature, and how a target is named where people can read it (by its host only).
 * No I/O; every function is tested with tables (test/unit/notify-events.test.ts).
 */
import { createHash, createHmac } from 'node:crypto';
import type { NotifyKind } from './options.ts';

/** A timeline event as the watcher records it (src/daemon/dns-writer.ts `LogEvent`). */
export interface TimelineLike {
  at: string;
  kind: string;
  message: string;
  data?: Record<string, unknown>;
}

/** What a target is sent: one timeline event, named for people. */
export interface NotifyEvent {
  /** Stable: the same for every target and every attempt (`X-Outlast-Event-Id`). */
  id: string;
  /** ISO time of the timeline event. */
  at: string;
  kind: NotifyKind;
  message: string;
  data: Record<string, unknown>;
  /** `site.hostname`. */
  site: string;
  /** `dns.name`, the name that moves. */
  name: string;
}

/** The headers of a signed webhook request (see the README's "Notifications"). */
export const EVENT_ID_HEADER = 'x-outlast-event-id';
export const TIMESTAMP_HEADER = 'x-outlast-timestamp';
export const SIGNATURE_HEADER = 'x-outlast-signature';

/**
 * The notification a timeline event is, or undefined when it is none. Health changes count from
 * a known state only (`unknown` → up at start is no news); a failback counts only when DNS moved
 * (an operator's `failback` that changed nothing is logged, not sent).
 */
export function notifyKindOf(event: TimelineLike): NotifyKind | undefined {
  const data = event.data ?? {};
  switch (event.kind) {
    case 'failover':
      return 'failover';
    case 'failback':
      return Array.isArray(data.to) ? 'failback' : undefined;
    case 'no-healthy-origin':
      return 'no-origin-up';
    case 'dns-error':
      return 'dns-write-failing';
    case 'certificate':
      return 'certificate-expiring';
    case 'quorum-lost':
      return 'quorum-lost';
    case 'health':
      if (data.to === 'down' && data.from !== 'down') return 'origin-down';
      if (data.to === 'up' && data.from === 'down') return 'origin-up';
      return undefined;
    default:
      return undefined;
  }
}

/**
 * A DNS host that keeps failing is one notification, not one per retry: `dns-error` opens an
 * episode per provider, a successful write (`dns`) of that provider closes it. Other events
 * belong to no episode (undefined).
 */
export function episodeOf(event: TimelineLike): { key: string; open: boolean } | undefined {
  const provider = typeof event.data?.provider === 'string' ? event.data.provider : '';
  if (event.kind === 'dns-error') return { key: `dns:${provider}`, open: true };
  if (event.kind === 'dns') return { key: `dns:${provider}`, open: false };
  return undefined;
}

/** The id of a timeline event: a hash of what it says, so the same event always has the same id. */
export function eventId(event: TimelineLike, name: string): string {
  const hash = createHash('sha256')
    .update(JSON.stringify([name, event.at, event.kind, event.message, event.data ?? null]))
    .digest('hex');
  return `evt_${hash.slice(0, 32)}`;
}

/** The notification of a timeline event, or undefined when it is none. */
export function toNotifyEvent(
  event: TimelineLike,
  names: { site: string; name: string },
): NotifyEvent | undefined {
  const kind = notifyKindOf(event);
  if (kind === undefined) return undefined;
  return {
    id: eventId(event, names.name),
    at: event.at,
    kind,
    message: event.message,
    data: event.data ?? {},
    site: names.site,
    name: names.name,
  };
}

/** The `json` webhook body: the event as it is. */
export function jsonBody(event: NotifyEvent): string {
  const { id, at, kind, message, data, site, name } = event;
  return JSON.stringify({ id, at, kind, message, data, site, name });
}

const EMOJI: Record<NotifyKind, string> = {
  failover: ':rotating_light:',
  failback: ':white_check_mark:',
  'origin-down': ':red_circle:',
  'origin-up': ':large_green_circle:',
  'no-origin-up': ':fire:',
  'dns-write-failing': ':warning:',
  'certificate-expiring': ':lock:',
  'quorum-lost': ':warning:',
};

/** Slack's mrkdwn treats only these three as markup in plain text. */
function slackEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}

/** The Slack text: one line saying what and where, then the message. */
export function slackText(event: NotifyEvent): string {
  return `${EMOJI[event.kind]} *${event.kind}* on \`${slackEscape(event.name)}\`\n${slackEscape(event.message)}`;
}

/** The `slack` webhook body. */
export function slackBody(event: NotifyEvent): string {
  return JSON.stringify({ text: slackText(event) });
}

const SUBJECT_MAX = 140;

/** The e-mail subject: `[outlast] failover on www.example.com: failing over from a (down) to b`. */
export function emailSubject(event: NotifyEvent): string {
  const subject = `[outlast] ${event.kind} on ${event.name}: ${event.message}`.replace(/\s+/g, ' ');
  return subject.length <= SUBJECT_MAX ? subject : `${subject.slice(0, SUBJECT_MAX - 1)}…`;
}

/** The e-mail's plain-text body: the message, then every field of the event. */
export function emailText(event: NotifyEvent): string {
  const details = Object.entries(event.data).map(
    ([key, value]) => `  ${key}: ${typeof value === 'string' ? value : JSON.stringify(value)}`,
  );
  return [
    event.message,
    '',
    `event:  ${event.kind}`,
    `name:   ${event.name}`,
    `site:   ${event.site}`,
    `at:     ${event.at}`,
    `id:     ${event.id}`,
    ...(details.length > 0 ? ['', 'details:', ...details] : []),
    '',
    '-- ',
    'outlast watch',
    '',
  ].join('\n');
}

/**
 * `X-Outlast-Signature`: `sha256=` and the hex HMAC-SHA256, keyed with the webhook's secret, of
 * `<timestamp>.<body>` (the timestamp as sent in `X-Outlast-Timestamp`, Unix seconds).
 */
export function signature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

/** A webhook for people: `webhook hooks.slack.com` (the host only: the path and query are secrets). */
export function webhookLabel(url: string): string {
  try {
    return `webhook ${new URL(url).host}`;
  } catch {
    return 'webhook (invalid URL)';
  }
}

/** An e-mail target for people: `email smtp.example.com`. */
export function emailLabel(smtpHost: string): string {
  return `email ${smtpHost}`;
}

/** Labels made unique in config order: a second `webhook hooks.slack.com` is `… #2`. */
export function uniqueLabels(labels: readonly string[]): string[] {
  const seen = new Map<string, number>();
  return labels.map((label) => {
    const count = (seen.get(label) ?? 0) + 1;
    seen.set(label, count);
    return count === 1 ? label : `${label} #${count}`;
  });
}

/**
 * The secrets of a webhook URL as they may turn up in a text: the whole URL, and its path and
 * query (a Slack URL's token is its path).
 */
export function urlSecrets(url: string): string[] {
  try {
    const parsed = new URL(url);
    const tail = `${parsed.pathname}${parsed.search}`;
    return [url, parsed.href, ...(tail.length > 1 ? [tail] : [])];
  } catch {
    return [url];
  }
}
