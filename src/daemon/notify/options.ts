/**
 * `watch.notify` in the config: who is told of what, and how hard to try. Webhook URLs, webhook
 * secrets and SMTP passwords are secrets: write them as `${VAR}` (the loader takes them from the
 * environment and never shows them); outlast shows a webhook by its host only. Imports only zod
 * and src/config/fields.ts, so the config schema can use it without a cycle.
 */
import { z } from 'zod';
import { duration } from '../../config/fields.ts';

/** What people can be told of, by the names the config uses. */
export const NOTIFY_KINDS = [
  'failover',
  'failback',
  'origin-down',
  'origin-up',
  'no-origin-up',
  'dns-write-failing',
  'certificate-expiring',
  'quorum-lost',
] as const;

export type NotifyKind = (typeof NOTIFY_KINDS)[number];

/** Told by default: what needs a person. An origin's own ups and downs are on request. */
export const DEFAULT_NOTIFY_KINDS: readonly NotifyKind[] = [
  'failover',
  'failback',
  'no-origin-up',
  'dns-write-failing',
  'certificate-expiring',
  'quorum-lost',
];

/** A target's `events`; absent: `notify.events`. */
const eventsField = z.array(z.enum(NOTIFY_KINDS)).min(1).optional();

const webhookSchema = z.strictObject({
  /** Where the event is POSTed, e.g. `${SLACK_WEBHOOK_URL}`. A secret: shown by its host only. */
  url: z.url({ protocol: /^https?$/ }),
  /** `json`: the event as JSON; `slack`: `{"text": "…"}` for Slack's (and compatible) incoming webhooks. */
  format: z.enum(['json', 'slack']).default('json'),
  /** Signs every request (`X-Outlast-Signature`, HMAC-SHA256), e.g. `${OUTLAST_WEBHOOK_SECRET}`. */
  secret: z.string().min(1).optional(),
  /** The events sent here (default: `notify.events`). */
  events: eventsField,
});

const smtpSchema = z
  .strictObject({
    /** The SMTP server, e.g. `smtp.example.com`. */
    host: z.string().min(1),
    /** Default 465 with `secure`, else 587. */
    port: z.number().int().min(1).max(65535).optional(),
    /** TLS from the first byte (SMTPS, usually port 465). */
    secure: z.boolean().default(false),
    /** Without `secure`: require STARTTLS (default); `false` sends in the clear (a local relay). */
    starttls: z.boolean().default(true),
    auth: z
      .strictObject({
        user: z.string().min(1),
        /** e.g. `${SMTP_PASSWORD}`. */
        password: z.string().min(1),
      })
      .optional(),
  })
  .refine((smtp) => !(smtp.secure && !smtp.starttls), {
    message: 'cannot be false with secure: true (that is TLS from the first byte)',
    path: ['starttls'],
  });

const emailSchema = z.strictObject({
  smtp: smtpSchema,
  /** The sender, e.g. `outlast <outlast@example.com>`. */
  from: z.string().min(1),
  /** Recipients. */
  to: z.array(z.string().min(1)).min(1),
  /** The events sent here (default: `notify.events`). */
  events: eventsField,
});

const retrySchema = z.strictObject({
  /** Tries per delivery, the first included; then it is dropped with a `notify-error` event. */
  attempts: z.number().int().min(1).max(20).default(8),
  /** The wait after the first failure; it doubles after each further one (with jitter). */
  initialDelay: duration('1s'),
  /** The longest wait between two tries (a longer Retry-After is still honoured, up to 1 h). */
  maxDelay: duration('5m'),
});

/** `watch.notify`. */
export const notifySchema = z
  .strictObject({
    /** The events sent to a target that does not list its own. */
    events: z
      .array(z.enum(NOTIFY_KINDS))
      .min(1)
      .default([...DEFAULT_NOTIFY_KINDS]),
    webhooks: z.array(webhookSchema).default([]),
    emails: z.array(emailSchema).default([]),
    retry: retrySchema.prefault({}),
    /** Per request (a webhook POST, an SMTP conversation). */
    timeout: duration('10s'),
  })
  .refine((notify) => notify.webhooks.length + notify.emails.length > 0, {
    message:
      'expected at least one target: webhooks: [{ url: … }] or emails: [{ smtp: …, from: …, to: […] }]',
  });

export type NotifyConfig = z.output<typeof notifySchema>;
export type WebhookConfig = NotifyConfig['webhooks'][number];
export type EmailConfig = NotifyConfig['emails'][number];
export type RetryConfig = NotifyConfig['retry'];
