/**
 * The DNS hosts' own views, for providers with `failover: native`: the watcher writes nothing
 * there, it reads each host's verdict on every origin (one read in flight per host, one interval
 * apart) and records when the host and the watcher disagree (native-view.ts decides that).
 */
import type { Config, DnsProviderConfig } from '../config/schema.ts';
import { nativeProviders } from '../dns/native/index.ts';
import type { NativeFailover, NativeView } from '../dns/native/types.ts';
import type { OriginHealth } from '../health/engine.ts';
import type { LogEvent } from './dns-writer.ts';
import { compareNativeView, type Disagreement, type NativeViewEvent, type Verdict } from './native-view.ts';

/** The shortest time between two reads of a DNS host's own view. */
const MIN_VIEW_MS = 1000;

/** One native provider's view beside the watcher's own, as GET /status shows it. */
export interface NativeViewStatus {
  provider: string;
  /** When the host's view was last read (ISO 8601); undefined until it has been. */
  at: string | undefined;
  /** Why the last read failed, or why there is no view at all. */
  error?: string;
  origins: Record<
    string,
    { host: Verdict; watcher: Verdict | 'unknown'; disagreeingSince?: string; detail?: string }
  >;
}

/** A native provider the watcher reads the view of (it writes nothing there). */
interface NativeSlot {
  provider: string;
  native: NativeFailover | undefined;
  view: NativeView | undefined;
  error: string | undefined;
  disagreements: Record<string, Disagreement>;
  timer: NodeJS.Timeout | undefined;
  polling: Promise<void> | undefined;
}

export interface NativeViewsOptions {
  config: Config;
  nativeHosts: (config: DnsProviderConfig) => Promise<NativeFailover | undefined>;
  /** The watcher's own health of every origin now. */
  health: () => Record<string, OriginHealth>;
  currentRelease: () => string | undefined;
  record: (events: LogEvent[]) => void;
}

export class NativeViews {
  private readonly slots: NativeSlot[] = [];
  private stopping = false;

  constructor(private readonly options: NativeViewsOptions) {}

  get size(): number {
    return this.slots.length;
  }

  /** Opens every native provider's module and, for those whose API gives a view, starts reading it. */
  async start(): Promise<void> {
    for (const { provider } of nativeProviders(this.options.config)) {
      const slot: NativeSlot = {
        provider: provider.type,
        native: undefined,
        view: undefined,
        error: undefined,
        disagreements: {},
        timer: undefined,
        polling: undefined,
      };
      this.slots.push(slot);
      try {
        const native = await this.options.nativeHosts(provider);
        if (!native) {
          slot.error = `${provider.type} has no native failover`;
          continue;
        }
        slot.provider = native.describe();
        if (!native.view) {
          slot.error = "the host's API gives no view of its checks";
          await native.close().catch(() => undefined);
          continue;
        }
        slot.native = native;
        this.poll(slot);
      } catch (error) {
        slot.error = (error as Error).message;
      }
    }
  }

  /** Reads one host's view now, then again one interval after the read is over (one in flight). */
  private poll(slot: NativeSlot): void {
    const native = slot.native;
    if (!native?.view || this.stopping) return;
    const read = native.view.bind(native);
    slot.polling = (async () => {
      try {
        const { nativeSpec } = await import('../dns/native/spec.ts');
        const view = await read(nativeSpec(this.options.config, this.options.currentRelease()));
        slot.view = view;
        slot.error = undefined;
        this.compare(slot, view);
      } catch (error) {
        slot.error = (error as Error).message || String(error);
      }
    })().finally(() => {
      slot.polling = undefined;
      if (this.stopping) return;
      slot.timer = setTimeout(
        () => this.poll(slot),
        Math.max(MIN_VIEW_MS, this.options.config.health.interval),
      );
      slot.timer.unref?.();
    });
  }

  private compare(slot: NativeSlot, view: NativeView): void {
    const health = this.options.health();
    const watcher = Object.fromEntries(
      this.options.config.origins.map((origin) => [
        origin.id,
        health[origin.id]?.state ?? ('unknown' as const),
      ]),
    );
    const { disagreements, events } = compareNativeView({
      provider: slot.provider,
      previous: slot.disagreements,
      host: view.origins,
      watcher,
      at: Date.now(),
      intervalMs: this.options.config.health.interval,
    });
    slot.disagreements = disagreements;
    this.options.record(events.map((event) => this.nativeEvent(event, view)));
  }

  private nativeEvent(event: NativeViewEvent, view: NativeView): LogEvent {
    const detail = view.origins[event.origin]?.detail;
    const message =
      event.kind === 'native-disagrees'
        ? `${event.provider} says ${event.origin} is ${event.host}, the watcher sees it ${event.watcher}` +
          ` (since ${new Date(event.since).toISOString()})${detail ? `: ${detail}` : ''}`
        : `${event.provider} and the watcher agree again: ${event.origin} is ${event.host}`;
    return {
      at: new Date().toISOString(),
      kind: event.kind,
      message,
      data: {
        provider: event.provider,
        origin: event.origin,
        host: event.host,
        watcher: event.watcher,
        since: new Date(event.since).toISOString(),
      },
    };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    for (const slot of this.slots) clearTimeout(slot.timer);
    // Closed first, so that a read in flight ends rather than holds the stop.
    await Promise.all(this.slots.map((slot) => slot.native?.close().catch(() => undefined)));
    await Promise.all(this.slots.map((slot) => slot.polling));
  }

  statuses(health: Record<string, OriginHealth>): NativeViewStatus[] {
    return this.slots.map((slot) => {
      const origins: NativeViewStatus['origins'] = {};
      for (const [id, verdict] of Object.entries(slot.view?.origins ?? {})) {
        const since = slot.disagreements[id]?.since;
        origins[id] = {
          host: verdict.up ? 'up' : 'down',
          watcher: health[id]?.state ?? 'unknown',
          ...(since === undefined ? {} : { disagreeingSince: new Date(since).toISOString() }),
          ...(verdict.detail === undefined ? {} : { detail: verdict.detail }),
        };
      }
      return {
        provider: slot.provider,
        at: slot.view ? new Date(slot.view.at).toISOString() : undefined,
        ...(slot.error === undefined ? {} : { error: slot.error }),
        origins,
      };
    });
  }
}
