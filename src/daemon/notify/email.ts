/**
 * E-mail targets: one message per try through the user's SMTP server, with nodemailer, which is
 * loaded only when an e-mail target exists (most watchers have none). The message carries the
 * event id as `X-Outlast-Event-Id` and in its Message-ID, so a duplicate can be recognised.
 * A connection failure, a timeout and an SMTP 4xx are retried; an SMTP 5xx, a refused login and
 * a refused address are not. Errors never quote the password.
 */
import type { Transporter } from 'nodemailer';
import { scrub } from '../../dns/host-http.ts';
import { emailSubject, emailText, type NotifyEvent } from './events.ts';
import type { EmailConfig } from './options.ts';
import type { Sender, SendOutcome } from './retry.ts';

export interface EmailSenderOptions {
  /** Per try: connecting, the greeting, and every read of the conversation. */
  timeoutMs: number;
  /** The target's key, in each Message-ID (so one event gives each target its own). */
  key: string;
}

/** Errors that trying again will not fix: the login, the addresses, the message itself. */
const PERMANENT_CODES = new Set(['EAUTH', 'EENVELOPE', 'EMESSAGE']);

export function emailSender(target: EmailConfig, options: EmailSenderOptions): Sender {
  const { smtp } = target;
  const secrets = smtp.auth ? [smtp.auth.password] : [];
  let transport: Promise<Transporter> | undefined;
  let closed = false;

  const open = (): Promise<Transporter> => {
    transport ??= import('nodemailer').then(({ default: nodemailer }) =>
      nodemailer.createTransport({
        host: smtp.host,
        port: smtp.port ?? (smtp.secure ? 465 : 587),
        secure: smtp.secure,
        // Without TLS from the start: STARTTLS is required, or (starttls: false) never tried.
        requireTLS: !smtp.secure && smtp.starttls,
        ignoreTLS: !smtp.secure && !smtp.starttls,
        ...(smtp.auth ? { auth: { user: smtp.auth.user, pass: smtp.auth.password } } : {}),
        connectionTimeout: options.timeoutMs,
        greetingTimeout: options.timeoutMs,
        socketTimeout: options.timeoutMs,
        logger: false,
      }),
    );
    return transport;
  };

  async function sendOnce(event: NotifyEvent): Promise<SendOutcome> {
    try {
      const mailer = await open();
      await mailer.sendMail({
        from: target.from,
        to: target.to,
        subject: emailSubject(event),
        text: emailText(event),
        messageId: `<${event.id}.${options.key}@outlast.invalid>`,
        headers: { 'X-Outlast-Event-Id': event.id, 'X-Outlast-Event': event.kind },
      });
      return { ok: true };
    } catch (error) {
      return failure(error, secrets);
    }
  }

  return {
    async send(event, signal) {
      if (signal.aborted) return { ok: false, retryable: true, error: 'cancelled: the watcher stopped' };
      // nodemailer takes no signal: the stop stops waiting, the conversation ends by its timeouts.
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<SendOutcome>((resolve) => {
        onAbort = () => resolve({ ok: false, retryable: true, error: 'cancelled: the watcher stopped' });
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        return await Promise.race([sendOnce(event), aborted]);
      } finally {
        if (onAbort) signal.removeEventListener('abort', onAbort);
      }
    },
    async close() {
      if (closed || !transport) return;
      closed = true;
      (await transport.catch(() => undefined))?.close();
    },
  };
}

/** nodemailer's error as an outcome: `ECONNECTION: connect ECONNREFUSED …`, `EAUTH 535: …`. */
function failure(error: unknown, secrets: string[]): SendOutcome {
  const { code, responseCode, message } = error as {
    code?: unknown;
    responseCode?: unknown;
    message?: unknown;
  };
  const smtpStatus = typeof responseCode === 'number' ? responseCode : undefined;
  const name = typeof code === 'string' ? code : 'error';
  const text = scrub(String(message ?? error).replace(/\s+/g, ' '), secrets).slice(0, 200);
  const permanent =
    smtpStatus !== undefined ? smtpStatus >= 500 : typeof code === 'string' && PERMANENT_CODES.has(code);
  return {
    ok: false,
    retryable: !permanent,
    error: `${name}${smtpStatus === undefined ? '' : ` ${smtpStatus}`}: ${text}`,
  };
}
