/**
 * `watch.notify`: the watcher offers every timeline event; the ones people asked for become one
 * delivery per target in the outbox (persisted before it counts as sent), and each target gets
 * its deliveries one after another, in order, retried with backoff until sent, refused or out of
 * attempts. A delivery that is dropped is a `notify-error` timeline event naming the target by
 * its host.
 *
 * Exactly once per target, as far as a sender can tell: a restart sends what was pending and
 * nothing that was sent; a crash between a receiver's 2xx and the next save sends that one again,
 * with the same `X-Outlast-Event-Id`, which is what receivers dedupe on.
 *
 * Only an active notifier sends (`setActive`); alone it is active. A watcher cluster makes only
 * its leader active: an inactive notifier ignores what it is offered (the leader raises the same
 * news), keeps nothing in memory, and on becoming active takes over what its store holds.
 */
import { createHash } from 'node:crypto';
import { messageOf } from '../../errors.ts';
import type { Logger } from '../../util/log.ts';
import { emailSender } from './email.ts';
import {
  emailLabel,
  episodeOf,
  type TimelineLike,
  toNotifyEvent,
  uniqueLabels,
  webhookLabel,
} from './events.ts';
import type { NotifyConfig, NotifyKind } from './options.ts';
import { type Delivery, type DropReason, Outbox, type OutboxStore } from './outbox.ts';
import type { Sender, SendOutcome } from './retry.ts';
import { webhookSender } from './webhook.ts';

export { FileOutboxStore, MemoryOutboxStore, type OutboxStore } from './outbox.ts';

/** One target as GET /status shows it (counts since the watcher started). */
export interface NotifyTargetStatus {
  /** `webhook hooks.slack.com`, `email smtp.example.com`. */
  target: string;
  sent: number;
  failed: number;
  pending: number;
  lastError?: string;
}

export interface NotifierOptions {
  config: NotifyConfig;
  /** `site.hostname` and `dns.name`, in every notification. */
  site: string;
  name: string;
  store: OutboxStore;
  logger: Logger;
  /** Receives `notify-error` timeline events. Must not throw. */
  onEvent: (event: TimelineLike) => void;
  /** Milliseconds since the epoch (tests). */
  now?: () => number;
  /** In [0, 1), for the retry jitter (tests). */
  random?: () => number;
}

/** How long `stop()` sends what is due, by default. */
export const STOP_DEADLINE_MS = 5000;

interface Target {
  key: string;
  label: string;
  events: ReadonlySet<NotifyKind>;
  sender: Sender;
  busy: boolean;
  sent: number;
  failed: number;
  lastError: string | undefined;
}

export class Notifier {
  private readonly targets: Target[];
  private readonly byKey: Map<string, Target>;
  private readonly outbox: Outbox;
  private readonly now: () => number;
  private readonly logger: Logger;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly abort = new AbortController();
  /** Open episodes (a DNS host that keeps failing is told once). */
  private readonly episodes = new Set<string>();
  private active = true;
  private started = false;
  private stopping = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private switching: Promise<void> = Promise.resolve();

  constructor(private readonly options: NotifierOptions) {
    const { config } = options;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    this.outbox = new Outbox(options.store, {
      retry: config.retry,
      ...(options.random ? { random: options.random } : {}),
    });
    const timeoutMs = config.timeout;
    const labels = uniqueLabels([
      ...config.webhooks.map((hook) => webhookLabel(hook.url)),
      ...config.emails.map((email) => emailLabel(email.smtp.host)),
    ]);
    const webhooks = config.webhooks.map((hook, index) => {
      const label = labels[index]!;
      const sender = webhookSender(
        { url: hook.url, format: hook.format, secret: hook.secret },
        { timeoutMs },
      );
      return target(keyOf(['webhook', hook.url]), label, hook.events ?? config.events, sender);
    });
    const emails = config.emails.map((email, index) => {
      const smtp = email.smtp;
      const key = keyOf(['email', smtp.host, smtp.port ?? null, email.from, email.to]);
      const sender = emailSender(email, { timeoutMs, key });
      return target(key, labels[config.webhooks.length + index]!, email.events ?? config.events, sender);
    });
    this.targets = [...webhooks, ...emails];
    this.byKey = new Map(this.targets.map((item) => [item.key, item]));
  }

  /** Reads the outbox and sends what it holds. */
  async start(): Promise<void> {
    if (this.active) await this.load();
    this.started = true;
    this.pump();
  }

  /**
   * A timeline event, which is sent to every target that wants its kind (most events are no
   * notification). Returns whether deliveries were added. Never throws.
   */
  offer(event: TimelineLike): boolean {
    const episode = episodeOf(event);
    if (episode && !episode.open) this.episodes.delete(episode.key);
    if (!this.active || this.stopping) return false;
    const notice = toNotifyEvent(event, { site: this.options.site, name: this.options.name });
    if (!notice) return false;
    if (episode?.open) {
      if (this.episodes.has(episode.key)) return false;
      this.episodes.add(episode.key);
    }
    const wanted = this.targets.filter((item) => item.events.has(notice.kind));
    if (wanted.length === 0) return false;
    const dropped = this.outbox.add(
      wanted.map((item) => ({ id: `${notice.id}/${item.key}`, target: item.key, event: notice })),
      this.now(),
    );
    for (const delivery of dropped) this.dropped(delivery, 'overflow', 'the outbox is full');
    void this.save().then(() => this.pump());
    return true;
  }

  /** Only an active notifier sends; see the module's comment for what a switch does. */
  setActive(active: boolean): void {
    if (active === this.active) return;
    this.active = active;
    if (!active) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.switching = this.switching.then(async () => {
        await Promise.all(this.inFlight);
        await this.save();
        if (!this.active) this.outbox.clear();
      });
    } else {
      this.switching = this.switching.then(async () => {
        if (!this.active) return;
        await this.load();
        this.pump();
      });
    }
  }

  status(): NotifyTargetStatus[] {
    const pending = new Map<string, number>();
    for (const delivery of this.outbox.list()) {
      pending.set(delivery.target, (pending.get(delivery.target) ?? 0) + 1);
    }
    return this.targets.map((item) => ({
      target: item.label,
      sent: item.sent,
      failed: item.failed,
      pending: pending.get(item.key) ?? 0,
      ...(item.lastError === undefined ? {} : { lastError: item.lastError }),
    }));
  }

  /** Waits until nothing is being sent or due now (tests). */
  async settled(): Promise<void> {
    await this.switching;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
  }

  /**
   * Sends what is due, for at most `deadlineMs`; then cuts tries in flight short (they stay
   * pending, not counted), saves the outbox and closes connections. What is waiting for a retry
   * stays in the outbox for the next start. Offers after this are ignored.
   */
  async stop(deadlineMs = STOP_DEADLINE_MS): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    const cut = setTimeout(() => this.abort.abort(), deadlineMs);
    try {
      await this.switching;
      while (!this.abort.signal.aborted) {
        this.pump();
        if (this.inFlight.size === 0) break;
        await Promise.race(this.inFlight);
      }
      await Promise.all(this.inFlight);
    } finally {
      clearTimeout(cut);
      this.stopped = true;
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (this.active) await this.save();
    await Promise.all(this.targets.map((item) => item.sender.close()));
  }

  private async load(): Promise<void> {
    try {
      await this.outbox.load();
    } catch (error) {
      this.logger.error({ err: messageOf(error) }, 'cannot read the notification outbox; starting empty');
    }
    for (const delivery of this.outbox.retain(new Set(this.byKey.keys()))) {
      this.logger.warn({ eventId: delivery.event.id }, 'dropped a pending notification: its target is gone');
    }
  }

  private async save(): Promise<void> {
    try {
      await this.outbox.save();
    } catch (error) {
      this.logger.error({ err: messageOf(error) }, 'cannot save the notification outbox');
    }
  }

  /** Starts every target's next delivery that is due, and a timer for the next one that is not. */
  private pump(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.started || !this.active || this.stopped) return;
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const head of this.outbox.heads()) {
      const item = this.byKey.get(head.target);
      if (!item || item.busy) continue;
      if (head.dueAt <= now) this.run(item, head);
      else next = Math.min(next, head.dueAt);
    }
    if (next !== Number.POSITIVE_INFINITY && !this.stopping) {
      this.timer = setTimeout(() => this.pump(), Math.max(0, next - now));
      this.timer.unref?.();
    }
  }

  private run(item: Target, delivery: Delivery): void {
    item.busy = true;
    this.outbox.attempt(delivery.id);
    const running = (async () => {
      let outcome: SendOutcome;
      try {
        outcome = await item.sender.send(delivery.event, this.abort.signal);
      } catch (error) {
        outcome = { ok: false, retryable: true, error: messageOf(error) };
      }
      this.settle(item, delivery, outcome);
      await this.save();
    })().finally(() => {
      item.busy = false;
      this.inFlight.delete(running);
      this.pump();
    });
    this.inFlight.add(running);
  }

  private settle(item: Target, delivery: Delivery, outcome: SendOutcome): void {
    const fields = { target: item.label, eventId: delivery.event.id, kind: delivery.event.kind };
    if (outcome.ok) {
      this.outbox.succeeded(delivery.id);
      item.sent += 1;
      item.lastError = undefined;
      this.logger.info({ ...fields, attempts: delivery.attempts }, 'notification sent');
      return;
    }
    item.lastError = outcome.error;
    if (this.abort.signal.aborted) {
      this.outbox.uncount(delivery.id);
      return;
    }
    const reason = this.outbox.failed(delivery.id, outcome, this.now());
    if (reason) this.dropped(delivery, reason, outcome.error);
    else {
      const retryAt = new Date(delivery.dueAt).toISOString();
      this.logger.warn(
        { ...fields, attempts: delivery.attempts, error: outcome.error, retryAt },
        'notification failed; will retry',
      );
    }
  }

  private dropped(delivery: Delivery, reason: DropReason, error: string): void {
    const item = this.byKey.get(delivery.target);
    const label = item?.label ?? 'a notification target';
    if (item && reason !== 'overflow') item.failed += 1;
    const why =
      reason === 'rejected'
        ? 'refused'
        : reason === 'exhausted'
          ? `not delivered after ${delivery.attempts} attempts`
          : 'dropped';
    const message = `${label}: ${delivery.event.kind} notification ${why}: ${error}`;
    this.logger.error({ target: label, eventId: delivery.event.id, reason, error }, 'notification dropped');
    this.options.onEvent({
      at: new Date(this.now()).toISOString(),
      kind: 'notify-error',
      message,
      data: {
        target: label,
        eventId: delivery.event.id,
        event: delivery.event.kind,
        attempts: delivery.attempts,
        reason,
      },
    });
  }
}

/** A target's key in the outbox: a hash of what identifies it, so no URL is ever stored. */
function keyOf(parts: unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

function target(key: string, label: string, events: readonly NotifyKind[], sender: Sender): Target {
  return {
    key,
    label,
    events: new Set(events),
    sender,
    busy: false,
    sent: 0,
    failed: 0,
    lastError: undefined,
  };
}
