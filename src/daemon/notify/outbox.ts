/**
 * The outbox: every delivery (one event to one target) that is not done yet, kept in order per
 * target, and persisted through a tiny store so that a restart neither loses nor repeats one.
 * The store is an interface because a watcher cluster may keep the outbox in etcd instead of
 * the state folder; `FileOutboxStore` is the one a watcher alone uses.
 *
 * A delivery leaves the outbox when it was sent, when its target refused it for good (a 4xx),
 * or when it used up its attempts; the last two are reported by `failed()`, never retried.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from '../state-store.ts';
import type { NotifyEvent } from './events.ts';
import type { RetryConfig } from './options.ts';
import { retryDelay, type SendOutcome } from './retry.ts';

/** One event on its way to one target. Plain JSON, as it is stored. */
export interface Delivery {
  /** `<event id>/<target key>`: one delivery per event and target. */
  id: string;
  /** The target's key (a hash of what identifies it, never its URL). */
  target: string;
  event: NotifyEvent;
  /** Tries made so far. */
  attempts: number;
  /** When the next try is due (ms since the epoch). */
  dueAt: number;
  /** Why the last try failed (for people; no secret). */
  lastError?: string;
}

/**
 * Where the outbox is kept between runs.
 *
 * - `load()` returns the deliveries of the last `save()`, in its order; `[]` when nothing was ever
 *   saved. What it cannot read as an outbox (a hand edit, another version) reads as `[]`.
 * - `save()` replaces everything kept by `deliveries`, atomically: after a crash, `load()` returns
 *   the old list or the new one, never a mix. The outbox never calls it concurrently with itself.
 */
export interface OutboxStore {
  load(): Promise<Delivery[]>;
  save(deliveries: readonly Delivery[]): Promise<void>;
}

interface OutboxFile {
  version: 1;
  deliveries: Delivery[];
}

/** The outbox in the watcher's state folder: `notify-outbox.json`, replaced atomically, mode 0600. */
export class FileOutboxStore implements OutboxStore {
  readonly path: string;

  constructor(private readonly dir: string) {
    this.path = join(dir, 'notify-outbox.json');
  }

  async load(): Promise<Delivery[]> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw error;
    }
    try {
      const file = JSON.parse(text) as OutboxFile;
      return file.version === 1 && Array.isArray(file.deliveries) ? file.deliveries : [];
    } catch {
      return [];
    }
  }

  async save(deliveries: readonly Delivery[]): Promise<void> {
    const file: OutboxFile = { version: 1, deliveries: [...deliveries] };
    const text = `${JSON.stringify(file, null, 2)}\n`;
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeAtomic(this.path, text);
  }
}

/** An outbox kept in memory (tests; what an etcd store must behave like). */
export class MemoryOutboxStore implements OutboxStore {
  saved: Delivery[] = [];
  saves = 0;

  async load(): Promise<Delivery[]> {
    return structuredClone(this.saved);
  }

  async save(deliveries: readonly Delivery[]): Promise<void> {
    this.saves += 1;
    this.saved = structuredClone([...deliveries]);
  }
}

/** Why a delivery left the outbox without being sent. */
export type DropReason = 'rejected' | 'exhausted' | 'overflow';

export interface OutboxOptions {
  retry: RetryConfig;
  /** More pending deliveries than this: the oldest are dropped (reported by `add`). */
  maxPending?: number;
  /** In [0, 1), for the jitter (tests). */
  random?: () => number;
}

export const MAX_PENDING = 1000;

export class Outbox {
  /** Insertion order is the order of sending, per target. */
  private readonly deliveries = new Map<string, Delivery>();
  private saving: Promise<void> = Promise.resolve();
  private dirty = false;
  private readonly maxPending: number;
  private readonly random: () => number;

  constructor(
    private readonly store: OutboxStore,
    private readonly options: OutboxOptions,
  ) {
    this.maxPending = options.maxPending ?? MAX_PENDING;
    this.random = options.random ?? Math.random;
  }

  /** Takes in what the store holds; deliveries added meanwhile stay, after them. */
  async load(): Promise<void> {
    const stored = await this.store.load();
    const added = [...this.deliveries.values()];
    this.deliveries.clear();
    for (const delivery of [...stored, ...added]) {
      if (!this.deliveries.has(delivery.id)) this.deliveries.set(delivery.id, delivery);
    }
  }

  /** Forgets what is in memory (the store keeps it): another watcher may send it now. */
  clear(): void {
    this.deliveries.clear();
  }

  /**
   * Adds deliveries (one already there is not added again), each due now. Returns those dropped
   * to stay within `maxPending`, oldest first.
   */
  add(deliveries: readonly Omit<Delivery, 'attempts' | 'dueAt'>[], now: number): Delivery[] {
    for (const delivery of deliveries) {
      if (this.deliveries.has(delivery.id)) continue;
      this.deliveries.set(delivery.id, { ...delivery, attempts: 0, dueAt: now });
      this.dirty = true;
    }
    const dropped: Delivery[] = [];
    for (const [id, delivery] of this.deliveries) {
      if (this.deliveries.size <= this.maxPending) break;
      this.deliveries.delete(id);
      dropped.push(delivery);
    }
    return dropped;
  }

  /** The oldest pending delivery of each target (deliveries to one target go one after another). */
  heads(): Delivery[] {
    const heads = new Map<string, Delivery>();
    for (const delivery of this.deliveries.values()) {
      if (!heads.has(delivery.target)) heads.set(delivery.target, delivery);
    }
    return [...heads.values()];
  }

  /** Every pending delivery, in order. */
  list(): Delivery[] {
    return [...this.deliveries.values()];
  }

  has(id: string): boolean {
    return this.deliveries.has(id);
  }

  /** Removes deliveries whose target is not configured any more; returns them. */
  retain(targets: ReadonlySet<string>): Delivery[] {
    const gone = this.list().filter((delivery) => !targets.has(delivery.target));
    for (const delivery of gone) this.deliveries.delete(delivery.id);
    if (gone.length > 0) this.dirty = true;
    return gone;
  }

  /** A try is starting: counts it (saved with the next save, so a crash mid-try still counts). */
  attempt(id: string): Delivery | undefined {
    const delivery = this.deliveries.get(id);
    if (!delivery) return undefined;
    delivery.attempts += 1;
    this.dirty = true;
    return delivery;
  }

  /** The try was cut short (the watcher stops): it does not count, the delivery stays due. */
  uncount(id: string): void {
    const delivery = this.deliveries.get(id);
    if (!delivery || delivery.attempts === 0) return;
    delivery.attempts -= 1;
    this.dirty = true;
  }

  /** Sent: it leaves the outbox. */
  succeeded(id: string): void {
    if (this.deliveries.delete(id)) this.dirty = true;
  }

  /**
   * A try failed. A retryable failure with attempts left is due again after the backoff
   * (undefined returned); otherwise the delivery leaves the outbox and the reason is returned.
   */
  failed(id: string, outcome: Extract<SendOutcome, { ok: false }>, now: number): DropReason | undefined {
    const delivery = this.deliveries.get(id);
    if (!delivery) return undefined;
    delivery.lastError = outcome.error;
    this.dirty = true;
    if (!outcome.retryable || delivery.attempts >= this.options.retry.attempts) {
      this.deliveries.delete(id);
      return outcome.retryable ? 'exhausted' : 'rejected';
    }
    delivery.dueAt =
      now + retryDelay(this.options.retry, delivery.attempts, outcome.retryAfterMs, this.random());
    return undefined;
  }

  /**
   * Writes the outbox if it changed since the last write. Saves run one after another; the
   * promise resolves once what the outbox held at the call is stored (or rejects with why not).
   */
  save(): Promise<void> {
    const next = this.saving
      .catch(() => undefined)
      .then(async () => {
        if (!this.dirty) return;
        this.dirty = false;
        try {
          await this.store.save(this.list());
        } catch (error) {
          this.dirty = true;
          throw error;
        }
      });
    this.saving = next;
    return next;
  }
}
