/**
 * Writes the failover machine's decisions to every DNS provider, independently: each provider
 * reads what it has, the core plans the change set (nothing when it already matches), and the
 * provider applies it. A provider that fails is retried with backoff while the others go on; a
 * newer decision replaces a pending one. A lost compare-and-set (another writer changed the
 * records) is re-read and re-planned at once.
 */

import { planDns } from '../dns/plan.ts';
import type { DnsProvider, RecordSet } from '../dns/provider.ts';
import { isOutlastError, messageOf } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import type { ProviderStatus } from './state-store.ts';

export interface LogEvent {
  at: string;
  kind: string;
  message: string;
  data?: Record<string, unknown>;
}

export interface DnsWriterOptions {
  providers: DnsProvider[];
  name: string;
  logger: Logger;
  onEvent: (event: LogEvent) => void;
  /** Called after every read or write, so the watcher can persist and publish. */
  onChange?: () => void;
  retryBaseMs?: number;
  retryMaxMs?: number;
  /**
   * Awaited right before every write (after the read and plan): the watcher's save of the decision,
   * so that no provider holds a decision the state folder does not know.
   */
  beforeWrite?: () => Promise<void>;
  /**
   * In a cluster: called right before every write; resolves with a signal that bounds the write
   * (it fires when this watcher's leadership may end), or throws when this watcher does not lead.
   */
  fence?: () => Promise<AbortSignal>;
}

interface Slot {
  provider: DnsProvider;
  status: ProviderStatus;
  timer: NodeJS.Timeout | undefined;
  running: Promise<void> | undefined;
  /** Set while a write runs and a newer decision arrived: write again after it. */
  again: boolean;
}

export function describeSets(sets: RecordSet[]): string[] {
  return sets.map((set) => `${set.type} ${set.ttl} ${set.values.join(' ')}`).sort();
}

export class DnsWriter {
  private readonly slots: Slot[];
  private desired: RecordSet[] | undefined;
  private stopped = false;
  private readonly retryBaseMs: number;
  private readonly retryMaxMs: number;

  constructor(private readonly options: DnsWriterOptions) {
    this.retryBaseMs = options.retryBaseMs ?? 1000;
    this.retryMaxMs = options.retryMaxMs ?? 60_000;
    this.slots = options.providers.map((provider) => ({
      provider,
      status: { provider: provider.describe(), records: [], pending: false, attempts: 0 },
      timer: undefined,
      running: undefined,
      again: false,
    }));
  }

  statuses(): ProviderStatus[] {
    return this.slots.map((slot) => ({ ...slot.status }));
  }

  /** Reads every provider (at start): the record sets each one has at the name, or its error. */
  async readAll(): Promise<(RecordSet[] | Error)[]> {
    return Promise.all(
      this.slots.map(async (slot) => {
        try {
          const sets = await slot.provider.read(this.options.name);
          slot.status.records = describeSets(sets);
          slot.status.lastReadAt = new Date().toISOString();
          return sets;
        } catch (error) {
          slot.status.lastError = messageOf(error);
          return error instanceof Error ? error : new Error(String(error));
        } finally {
          this.options.onChange?.();
        }
      }),
    );
  }

  /** The records every provider should have from now on; writes start at once. */
  setDesired(records: RecordSet[]): void {
    this.desired = records;
    for (const slot of this.slots) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.status.attempts = 0;
      this.kick(slot);
    }
  }

  /** Drops the desired records and every retry waiting: nothing is written until `setDesired`. */
  clearDesired(): void {
    this.desired = undefined;
    for (const slot of this.slots) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
      slot.status.pending = false;
      slot.status.nextRetryAt = undefined;
    }
  }

  /** Resolves when no write is running or waiting (for tests and a clean stop). */
  async settled(): Promise<void> {
    while (this.slots.some((slot) => slot.running)) {
      await Promise.all(this.slots.map((slot) => slot.running));
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const slot of this.slots) clearTimeout(slot.timer);
    await Promise.all(this.slots.map((slot) => slot.running));
    await Promise.all(this.slots.map((slot) => slot.provider.close?.().catch(() => undefined)));
  }

  private kick(slot: Slot): void {
    if (this.stopped) return;
    if (slot.running) {
      slot.again = true;
      return;
    }
    slot.running = this.write(slot).finally(() => {
      slot.running = undefined;
      if (slot.again) {
        slot.again = false;
        this.kick(slot);
      }
    });
  }

  private async write(slot: Slot): Promise<void> {
    const desired = this.desired;
    if (!desired) return;
    const { provider, status } = slot;
    status.pending = true;
    status.attempts++;
    try {
      for (let conflicts = 0; ; conflicts++) {
        const current = await provider.read(this.options.name);
        status.records = describeSets(current);
        status.lastReadAt = new Date().toISOString();
        const changes = planDns(current, desired);
        if (changes.length === 0) break;
        await this.options.beforeWrite?.();
        try {
          const signal = await this.options.fence?.();
          await provider.apply(changes, signal ? { signal } : undefined);
          status.records = describeSets(desired);
          status.lastWriteAt = new Date().toISOString();
          this.event(
            'dns',
            `${provider.describe()}: ${this.options.name} now ${describeSets(desired).join(', ')}`,
            {
              provider: provider.describe(),
              changes: changes.length,
            },
          );
          break;
        } catch (error) {
          if (!isOutlastError(error, 'conflict') || conflicts >= 2) throw error;
          this.options.logger.warn(
            { provider: provider.describe() },
            'records changed since read; planning again',
          );
        }
      }
      status.pending = false;
      status.lastWriteOk = true;
      status.lastError = undefined;
      status.attempts = 0;
      status.nextRetryAt = undefined;
    } catch (error) {
      status.lastWriteOk = false;
      status.lastError = messageOf(error);
      const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(status.attempts - 1, 16));
      const jittered = Math.round(delay / 2 + Math.random() * (delay / 2));
      status.nextRetryAt = new Date(Date.now() + jittered).toISOString();
      this.event(
        'dns-error',
        `${provider.describe()}: write failed, retrying in ${Math.round(jittered / 1000)} s: ${status.lastError}`,
        {
          provider: provider.describe(),
          code: isOutlastError(error) ? error.code : 'internal',
        },
      );
      if (!this.stopped) {
        slot.timer = setTimeout(() => {
          slot.timer = undefined;
          this.kick(slot);
        }, jittered);
        slot.timer.unref?.();
      }
    } finally {
      this.options.onChange?.();
    }
  }

  private event(kind: string, message: string, data?: Record<string, unknown>): void {
    this.options.onEvent({ at: new Date().toISOString(), kind, message, ...(data ? { data } : {}) });
  }
}
