/**
 * Which origins a request tries, and in what order: passive health from the requests themselves
 * (an origin that failed `failures` times in a row is skipped for `cooldownMs`, then tried again
 * in the background before requests use it again), and the watcher's view when one runs in this
 * process. Pure bookkeeping: the clock is passed in, the background try is the caller's.
 */
import type { HealthView } from './types.ts';

export interface PassiveHealthOptions {
  failures: number;
  cooldownMs: number;
  /** The watcher's view, when the edge runs inside `outlast watch`. */
  watcher?: HealthView;
}

interface Slot {
  consecutiveFailures: number;
  /** Skipped until this time (ms), then due for a background try. */
  skippedUntil: number | undefined;
  lastError: string | undefined;
}

export class PassiveHealth {
  private readonly slots = new Map<string, Slot>();

  constructor(
    private readonly ids: readonly string[],
    private readonly options: PassiveHealthOptions,
  ) {
    for (const id of ids)
      this.slots.set(id, { consecutiveFailures: 0, skippedUntil: undefined, lastError: undefined });
  }

  /**
   * The origins to try for a request: the usable ones in the configured order, then, as a last
   * resort, the ones skipped or down (a request never gives up while an origin is left).
   */
  order(): string[] {
    const usable: string[] = [];
    const rest: string[] = [];
    for (const id of this.ids) (this.usable(id) ? usable : rest).push(id);
    return rest.length === 0 ? usable : [...usable, ...rest];
  }

  /** No origin is usable (every one skipped or down): what is served comes from the cache alone. */
  noneUsable(): boolean {
    for (const id of this.ids) if (this.usable(id)) return false;
    return true;
  }

  usable(id: string): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    if (slot.skippedUntil !== undefined) return false;
    return this.options.watcher?.state(id) !== 'down';
  }

  state(id: string): 'ok' | 'skipped' | 'down' {
    if (this.slots.get(id)?.skippedUntil !== undefined) return 'skipped';
    return this.options.watcher?.state(id) === 'down' ? 'down' : 'ok';
  }

  succeeded(id: string): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    slot.consecutiveFailures = 0;
    slot.skippedUntil = undefined;
    slot.lastError = undefined;
  }

  /** Records a failed attempt; true when it made the origin skipped. */
  failed(id: string, error: string, now: number): boolean {
    const slot = this.slots.get(id);
    if (slot === undefined) return false;
    slot.consecutiveFailures += 1;
    slot.lastError = error;
    if (slot.skippedUntil === undefined && slot.consecutiveFailures >= this.options.failures) {
      slot.skippedUntil = now + this.options.cooldownMs;
      return true;
    }
    return false;
  }

  /** A background try failed: skipped for another cooldown. */
  stillFailing(id: string, error: string, now: number): void {
    const slot = this.slots.get(id);
    if (slot === undefined) return;
    slot.lastError = error;
    slot.skippedUntil = now + this.options.cooldownMs;
  }

  /** Skipped origins whose cooldown is over: due for a background try. */
  due(now: number): string[] {
    return this.ids.filter((id) => {
      const until = this.slots.get(id)?.skippedUntil;
      return until !== undefined && until <= now;
    });
  }

  describe(id: string): { consecutiveFailures: number; retryAt?: string; lastError?: string } {
    const slot = this.slots.get(id);
    if (slot === undefined) return { consecutiveFailures: 0 };
    return {
      consecutiveFailures: slot.consecutiveFailures,
      ...(slot.skippedUntil === undefined ? {} : { retryAt: new Date(slot.skippedUntil).toISOString() }),
      ...(slot.lastError === undefined ? {} : { lastError: slot.lastError }),
    };
  }
}
