/**
 * `outlast watch`: health checks → failover machine → DNS writes, with persisted state, an
 * event log and a small HTTP server. The machine is pure; this module is the shell around it:
 * it turns probes into events, effects into DNS writes and log lines, and keeps the state folder
 * up to date.
 */
import type { Registry } from 'prom-client';
import type { ClusterMember, ClusterStatus } from '../cluster/member.ts';
import type { Config, DnsProviderConfig, OriginConfig } from '../config/schema.ts';
import { createDnsProvider } from '../dns/index.ts';
import { isNative } from '../dns/native/index.ts';
import type { NativeFailover } from '../dns/native/types.ts';
import { type DnsTarget, desiredRecords } from '../dns/plan.ts';
import type { EdgeStatus, HealthView } from '../edge/types.ts';
import { OutlastError } from '../errors.ts';
import {
  type Effect,
  initialState,
  type MachineConfig,
  type MachineEvent,
  type MachineState,
  machineConfig,
  step,
} from '../failover/machine.ts';
import type { HealthTransition, OriginHealth } from '../health/engine.ts';
import { HealthEngine } from '../health/engine.ts';
import type { ProbeResult } from '../health/probe.ts';
import { componentLogger, type Logger } from '../util/log.ts';
import { DnsWriter, type LogEvent } from './dns-writer.ts';
import { WatchMetrics } from './metrics.ts';
import { type NativeViewStatus, NativeViews } from './native-views.ts';
import { FileOutboxStore, Notifier, type NotifyTargetStatus } from './notify/index.ts';
import { startDecision } from './start-decision.ts';
import { RECENT_EVENTS, StateStore } from './state-store.ts';

/** How often time is fed to the machine (hold-down expiry). */
const TICK_MS = 500;

/** A certificate warning is a timeline event at most this often per origin. */
const CERTIFICATE_EVENT_MS = 86_400_000;

export type { NativeViewStatus } from './native-views.ts';

export interface WatchStatus {
  name: string;
  policy: string;
  failback: string;
  active: string[];
  activeSince: string | undefined;
  reason: string | undefined;
  paused: boolean;
  awaitingFailback: boolean;
  currentRelease: string | undefined;
  /** interval × fall + TTL + the 60 s floor of browsers' DNS caches, in seconds. */
  expectedFailoverSeconds: number;
  origins: (OriginHealth & { url: string; onCurrentRelease: boolean; active: boolean })[];
  providers: ReturnType<DnsWriter['statuses']>;
  /** The DNS hosts' own views, for providers with `failover: native` (absent when there are none). */
  native?: NativeViewStatus[];
  /** Each notification target (absent without `watch.notify`). */
  notify?: NotifyTargetStatus[];
  /** With `watch.cluster`: every watcher, its view, the leader and the quorum. */
  cluster?: ClusterStatus;
  /** Each `outlast edge` running in this process (absent when none is attached). */
  edges?: EdgeStatus[];
  events: LogEvent[];
  startedAt: string;
}

export interface WatcherOptions {
  config: Config;
  logger?: Logger;
  /**
   * Tests only: the native-failover module of a provider with `failover: native`, instead of the
   * one its type names (undefined: that host has none).
   */
  nativeHosts?: (config: DnsProviderConfig) => Promise<NativeFailover | undefined>;
}

/** An `outlast edge` running in the same process, as the watcher's status shows it. */
export interface EdgeStatusSource {
  /** Called on every GET status: must be cheap. A throw is logged and that edge left out. */
  status(): EdgeStatus;
  /** Its Prometheus metrics, served with the watcher's on /metrics while attached. */
  registry?: Registry;
}

export type WatchAction =
  | { type: 'failback' }
  | { type: 'pause' }
  | { type: 'resume' }
  | { type: 'force'; originIds: string[] };

export class Watcher {
  readonly config: Config;
  readonly store: StateStore;
  readonly metrics = new WatchMetrics();
  /** `watch.notify`'s sender; a cluster makes it active on its leader only. */
  readonly notifier: Notifier | undefined;
  private readonly logger: Logger;
  private readonly machineConfig: MachineConfig;
  private readonly origins: Map<string, OriginConfig>;
  private machine: MachineState;
  private health: HealthEngine | undefined;
  private writer: DnsWriter | undefined;
  private tick: NodeJS.Timeout | undefined;
  private readonly events: LogEvent[] = [];
  private readonly listeners = new Set<(event: LogEvent) => void>();
  private readonly startedAt = new Date().toISOString();
  private saving: Promise<void> = Promise.resolve();
  private readonly nativeHosts: (config: DnsProviderConfig) => Promise<NativeFailover | undefined>;
  private natives: NativeViews | undefined;
  private readonly certificateEvents = new Map<string, { warning: string; at: number }>();
  private cluster: ClusterMember | undefined;
  /** The edges in this process; one entry per attach, so that each detach removes its own. */
  private readonly edges = new Set<{ source: EdgeStatusSource }>();

  constructor(options: WatcherOptions) {
    const { config } = options;
    if (!config.dns) {
      throw new OutlastError(
        'invalid_config',
        'outlast watch needs a dns section: the name to move and its providers',
        {
          hint: 'see the Configuration section of README.md',
        },
      );
    }
    this.config = config;
    this.logger = options.logger ?? componentLogger('watch');
    this.store = new StateStore(config.watch.stateDir);
    this.origins = new Map(config.origins.map((origin) => [origin.id, origin]));
    this.machineConfig = machineConfig(
      config.failover,
      config.origins.map((origin) => origin.id),
    );
    this.machine = initialState(this.machineConfig);
    const notify = config.watch.notify;
    this.notifier = notify
      ? new Notifier({
          config: notify,
          site: config.site.hostname,
          name: config.dns.name,
          // In a cluster the outbox lives in etcd (the leader's), so a new leader sends what is left.
          store: config.watch.cluster
            ? {
                load: () => this.cluster?.outbox().load() ?? Promise.resolve([]),
                save: (deliveries) => this.cluster?.outbox().save(deliveries) ?? Promise.resolve(),
              }
            : new FileOutboxStore(config.watch.stateDir),
          logger: this.logger.child({ component: 'notify' }),
          onEvent: (event) => this.record([event]),
        })
      : undefined;
    // In a cluster only the leader tells people (made active when elected).
    if (config.watch.cluster) this.notifier?.setActive(false);
    this.nativeHosts =
      options.nativeHosts ??
      (async (provider) => (await import('../dns/native/index.ts')).createNativeFailover(provider));
  }

  /** Reads state and DNS, then starts probing. Writes nothing to DNS until the machine decides. */
  async start(): Promise<void> {
    const dns = this.config.dns!;
    await this.store.init();
    await this.notifier?.start();
    await this.store.token();
    const torn = await this.store.repairEvents();
    this.events.push(...((await this.store.recentEvents(RECENT_EVENTS)) as LogEvent[]));
    if (torn) {
      this.record([
        this.logEvent(
          'state-repaired',
          `the event log's last line was torn (${torn.bytes} bytes, an unclean stop): cut off, the rest kept`,
          { file: 'events.jsonl', bytes: torn.bytes, start: torn.start },
        ),
      ]);
    }
    const saved = await this.store.load();
    if (this.store.loadProblem) this.record([this.logEvent('state-repaired', this.store.loadProblem)]);
    if (saved) {
      // Operator choices survive a restart; health and DNS are observed again.
      this.machine = {
        ...this.machine,
        paused: saved.machine.paused,
        awaitingFailback: saved.machine.awaitingFailback,
      };
    }
    // A provider with native failover answers by itself (outlast dns apply): the watcher writes nothing there.
    const watched = dns.providers.filter((provider) => !isNative(provider));
    const providers = await Promise.all(watched.map((provider) => createDnsProvider(provider)));
    this.writer = new DnsWriter({
      providers,
      name: dns.name,
      logger: this.logger,
      onEvent: (event) => this.record([event]),
      onChange: () => this.persist(),
      // The decision is on disk before any provider has it, so a restart knows what may be half done.
      beforeWrite: () => this.saving,
      ...(this.config.watch.cluster ? { fence: () => this.cluster!.fence() } : {}),
    });
    const reads = await this.writer.readAll();
    for (const [index, read] of reads.entries()) {
      if (read instanceof Error) {
        this.record([
          this.logEvent(
            'dns-error',
            `${providers[index]!.describe()}: cannot read ${dns.name}: ${read.message}`,
          ),
        ]);
      }
    }
    const decision = startDecision({
      name: dns.name,
      ttl: dns.ttl,
      policy: this.machineConfig.policy,
      order: this.machineConfig.order,
      targets: new Map(this.config.origins.map((origin) => [origin.id, origin.dns as DnsTarget])),
      reads,
      ...(saved
        ? {
            saved: {
              active: saved.machine.active,
              pending: saved.providers.some((provider) => provider.pending),
            },
          }
        : {}),
    });
    this.apply({ type: 'observed', at: Date.now(), active: decision.active });
    // A decision some provider does not have yet (a write pending at the last stop, a provider
    // down then): written now to those behind; the writer reads each and writes only a difference.
    // In a cluster the leader does this when elected.
    if (!this.config.watch.cluster && decision.behind.length > 0 && this.machine.active.length > 0) {
      const behind = decision.behind.map((index) => providers[index]!.describe());
      this.record([
        this.logEvent(
          'dns-pending',
          `${behind.join(', ')}: not on ${this.machine.active.join(', ')} yet (${decision.from === 'pending' ? 'a write was pending at the last stop' : 'records differ'}): writing`,
          { providers: behind, active: this.machine.active, from: decision.from },
        ),
      ]);
      this.route(this.machine.active);
    }

    this.health = new HealthEngine({
      targets: this.config.origins.map((origin) => ({
        originId: origin.id,
        url: origin.url!,
        ...(origin.hostHeader ? { hostHeader: origin.hostHeader } : {}),
      })),
      health: this.config.health,
      // Release eligibility is the machine's business (it may still use an origin on an older
      // release when no other is up), so probes check reachability and read the release.
      expectedRelease: () => undefined,
      onProbe: (result, state) => this.onProbe(result, state),
      onTransition: (transition) => this.onTransition(transition),
      logger: this.logger,
    });
    if (this.config.watch.cluster) await this.startCluster();
    this.health.start();
    this.natives = new NativeViews({
      config: this.config,
      nativeHosts: this.nativeHosts,
      health: () => this.health?.snapshot() ?? {},
      currentRelease: () => this.machine.currentRelease,
      record: (events) => this.record(events),
    });
    await this.natives.start();
    this.tick = setInterval(() => this.apply({ type: 'tick', at: Date.now() }), TICK_MS);
    this.tick.unref?.();
    this.record([
      this.logEvent(
        'started',
        `watching ${dns.name}: ${this.config.origins.length} origins, ${providers.length} DNS provider${providers.length === 1 ? '' : 's'}`,
      ),
    ]);
  }

  async stop(): Promise<void> {
    clearInterval(this.tick);
    // Resigns first, so that another watcher takes over at once.
    await this.cluster
      ?.stop()
      .catch((error) => this.logger.warn({ err: String(error) }, 'leaving the cluster'));
    await this.natives?.stop();
    await this.health?.stop();
    await this.writer?.stop();
    await this.notifier?.stop();
    this.record([this.logEvent('stopped', 'watcher stopped')]);
    this.persist();
    await this.saving;
  }

  /** Operator actions (CLI, dashboard); in a cluster, a follower forwards them to the leader. */
  act(action: WatchAction): void {
    if (action.type === 'force') {
      const unknown = action.originIds.filter((id) => !this.origins.has(id));
      if (unknown.length > 0)
        throw new OutlastError('invalid_argument', `unknown origin ${unknown.join(', ')}`);
    }
    if (this.cluster) {
      this.cluster
        .act(action)
        .then((where) => {
          if (where === 'forwarded')
            this.record([this.logEvent('action', `${action.type}: forwarded to the leader`)]);
        })
        .catch((error) =>
          this.record([this.logEvent('action-error', `${action.type}: ${(error as Error).message}`)]),
        );
      return;
    }
    this.actHere(action);
  }

  private actHere(action: WatchAction): void {
    const at = Date.now();
    if (action.type === 'force') {
      this.apply({ type: 'force', at, originIds: action.originIds });
    } else {
      this.apply({ type: action.type, at } as MachineEvent);
    }
  }

  status(): WatchStatus {
    const dns = this.config.dns!;
    const health = this.health?.snapshot() ?? {};
    return {
      name: dns.name,
      policy: this.machineConfig.policy,
      failback: this.machineConfig.failback,
      active: this.machine.active,
      activeSince:
        this.machine.changedAt === undefined ? undefined : new Date(this.machine.changedAt).toISOString(),
      reason: this.machine.reason,
      paused: this.machine.paused,
      awaitingFailback: this.machine.awaitingFailback,
      currentRelease: this.machine.currentRelease,
      expectedFailoverSeconds: Math.round(
        (this.config.health.interval * this.config.health.fall) / 1000 + dns.ttl + 60,
      ),
      origins: this.config.origins.map((origin) => {
        const state = health[origin.id] ?? {
          originId: origin.id,
          state: 'unknown' as const,
          since: this.startedAt,
          consecutiveOk: 0,
          consecutiveFail: 0,
          history: [],
        };
        return {
          ...state,
          url: origin.url!,
          onCurrentRelease: state.release !== undefined && state.release === this.machine.currentRelease,
          active: this.machine.active.includes(origin.id),
        };
      }),
      providers: this.writer?.statuses() ?? [],
      ...(this.natives && this.natives.size > 0 ? { native: this.natives.statuses(health) } : {}),
      ...(this.notifier ? { notify: this.notifier.status() } : {}),
      ...(this.cluster ? { cluster: this.cluster.status() } : {}),
      ...this.edgeStatuses(),
      events: this.events.slice(-100),
      startedAt: this.startedAt,
    };
  }

  /**
   * Registers an edge running in this process: `status()` then includes its status under `edges`.
   * Returns the detach function (idempotent). The same source attached twice shows twice.
   */
  attachEdge(source: EdgeStatusSource): () => void {
    const entry = { source };
    this.edges.add(entry);
    const excludeMetrics = source.registry === undefined ? undefined : this.metrics.include(source.registry);
    return () => {
      this.edges.delete(entry);
      excludeMetrics?.();
    };
  }

  /**
   * This watcher's rise/fall verdict on each origin, read live from its health engine (nothing
   * copied: an edge asks on every request). A configured origin is `unknown` until the first
   * probe decides (and before `start()`); an id the watcher does not probe is `undefined`. In a
   * cluster this is this watcher's own view, not the quorum's.
   */
  healthView(): HealthView {
    return {
      state: (originId) =>
        this.health ? this.health.stateOf(originId) : this.origins.has(originId) ? 'unknown' : undefined,
    };
  }

  private edgeStatuses(): { edges?: EdgeStatus[] } {
    if (this.edges.size === 0) return {};
    const edges: EdgeStatus[] = [];
    for (const { source } of this.edges) {
      try {
        edges.push(source.status());
      } catch (error) {
        this.logger.warn({ err: String(error) }, "cannot read an edge's status");
      }
    }
    return edges.length > 0 ? { edges } : {};
  }

  /** Calls `listener` with every new timeline event (server-sent events). Returns an unsubscribe. */
  subscribe(listener: (event: LogEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Waits for DNS writes in flight (tests). */
  async settled(): Promise<void> {
    await this.writer?.settled();
    await this.saving;
  }

  private onTransition(transition: HealthTransition): void {
    this.metrics.transition(transition.originId, transition.to);
    if (this.cluster) {
      // In a cluster this is one view among several (`view`); the machine hears the quorum's
      // verdict, which the leader's member records as `health`.
      const id = this.config.watch.cluster!.id;
      this.record([
        this.logEvent('view', `${id} sees ${transition.originId} ${transition.to}: ${transition.reason}`, {
          ...transition,
          watcher: id,
        }),
      ]);
      this.cluster.observe(this.health!.snapshot());
      return;
    }
    this.record([
      this.logEvent('health', `${transition.originId} is ${transition.to}: ${transition.reason}`, {
        ...transition,
      }),
    ]);
    if (transition.to === 'unknown') return;
    this.apply({
      type: 'health',
      at: Date.now(),
      originId: transition.originId,
      health: transition.to,
      ...(transition.release ? { release: transition.release } : {}),
      ...(transition.deployedAt ? { deployedAt: transition.deployedAt } : {}),
    });
  }

  private onProbe(result: ProbeResult, state: OriginHealth): void {
    this.metrics.probe(result);
    this.noteCertificate(state);
    const view = this.machine.origins[result.originId];
    const releaseSeen = result.release !== undefined && result.release !== view?.release;
    if (this.cluster) {
      if (releaseSeen) this.cluster.observe(this.health!.snapshot());
      return;
    }
    if (releaseSeen && (state.state === 'up' || state.state === 'down')) {
      this.apply({
        type: 'health',
        at: Date.now(),
        originId: result.originId,
        health: state.state,
        release: result.release!,
        ...(result.deployedAt ? { deployedAt: result.deployedAt } : {}),
      });
    }
  }

  /** A certificate warning that appears or changes is a `certificate` event, at most once a day per origin. */
  private noteCertificate(state: OriginHealth): void {
    const warning = state.certificateWarning;
    const last = this.certificateEvents.get(state.originId);
    if (!warning || warning === last?.warning || (last && Date.now() - last.at < CERTIFICATE_EVENT_MS)) {
      return;
    }
    this.certificateEvents.set(state.originId, { warning, at: Date.now() });
    this.record([
      this.logEvent('certificate', `${state.originId}: ${warning}`, { originId: state.originId, warning }),
    ]);
  }

  private apply(event: MachineEvent): void {
    // A follower's machine is the leader's (adopted from etcd): it decides nothing itself.
    if (this.cluster && !this.cluster.isLeader()) return;
    const { state, effects } = step(this.machineConfig, this.machine, event);
    const changed = state !== this.machine;
    this.machine = state;
    this.runEffects(effects);
    if (changed && event.type !== 'tick') this.persist();
  }

  private runEffects(effects: Effect[]): void {
    const events: LogEvent[] = [];
    for (const effect of effects) {
      if (effect.type === 'event') {
        // Health changes are logged by onTransition, with the probe's reason.
        if (effect.event.kind !== 'health') events.push(effect.event as LogEvent);
        continue;
      }
      this.route(effect.originIds);
    }
    this.record(events);
  }

  /** Makes every provider's desired records those of `originIds`. */
  private route(originIds: string[]): void {
    const dns = this.config.dns!;
    const targets = originIds.map((id) => this.origins.get(id)!.dns as DnsTarget);
    this.metrics.route(originIds);
    this.writer?.setDesired(desiredRecords(dns.name, dns.ttl, targets));
    this.persist();
  }

  /** Joins the cluster of `watch.cluster` (etcd), before the first probe. */
  private async startCluster(): Promise<void> {
    const { ClusterMember } = await import('../cluster/member.ts');
    this.cluster = new ClusterMember(
      this.config.watch.cluster!,
      { name: this.config.dns!.name, order: this.machineConfig.order },
      {
        machine: () => this.machine,
        adopt: (state) => {
          this.machine = state;
          this.persist();
        },
        apply: (event) => this.apply(event),
        routeActive: () => this.route(this.machine.active),
        stopWrites: () => this.writer?.clearDesired(),
        act: (action) => this.actHere(action as WatchAction),
        record: (kind, message, data) => this.record([this.logEvent(kind, message, data)]),
        leading: (leading) => this.notifier?.setActive(leading),
      },
      this.logger,
    );
    this.metrics.setCluster(() => this.cluster?.status());
    await this.cluster.start();
  }

  private record(events: LogEvent[]): void {
    if (events.length === 0) return;
    this.events.push(...events);
    if (this.events.length > RECENT_EVENTS) this.events.splice(0, this.events.length - RECENT_EVENTS);
    for (const event of events) {
      this.logger.info({ kind: event.kind, ...(event.data ?? {}) }, event.message);
      for (const listener of this.listeners) listener(event);
      this.notifier?.offer(event);
    }
    this.saving = this.saving
      .then(() => this.store.appendEvents(events as never))
      .catch((error) => this.logger.error({ err: String(error) }, 'cannot append to the event log'));
  }

  private persist(): void {
    const machine = this.machine;
    this.saving = this.saving
      .then(() => this.store.save({ machine, providers: this.writer?.statuses() ?? [] }))
      .catch((error) => this.logger.error({ err: String(error) }, 'cannot save state'));
    this.cluster
      ?.persist(machine)
      .catch((error) => this.logger.warn({ err: String(error) }, 'cannot keep the failover state in etcd'));
  }

  private logEvent(kind: string, message: string, data?: Record<string, unknown>): LogEvent {
    return { at: new Date().toISOString(), kind, message, ...(data ? { data } : {}) };
  }
}
