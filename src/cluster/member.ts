/**
 * One watcher as a member of a cluster (issue 13): between the watcher (src/daemon/watcher.ts) and
 * etcd (etcd.ts). Every member probes and publishes its own view; the elected leader alone feeds
 * the failover machine the quorum view (quorum.ts), writes DNS (each write fenced) and keeps the
 * machine's state in etcd (shared-state.ts); followers adopt that state as it changes, so that a
 * new leader goes on with the same decision and a handover writes nothing to DNS. Operator actions
 * sent to a follower are forwarded to the leader through etcd.
 */
import type { Delivery, OutboxStore } from '../daemon/notify/outbox.ts';
import type { MachineEvent, MachineState } from '../failover/types.ts';
import type { OriginHealth } from '../health/engine.ts';
import type { Logger } from '../util/log.ts';
import { type CoordinatorEvents, EtcdCoordinator } from './etcd.ts';
import type { ClusterConfig } from './options.ts';
import { type QuorumResult, quorumView, type WatcherView } from './quorum.ts';
import { fromShared, toShared } from './shared-state.ts';

/** What the member needs of its watcher. */
export interface ClusterHost {
  machine(): MachineState;
  /** Replaces the machine's state without running effects (a follower adopting the leader's). */
  adopt(state: MachineState): void;
  /** Feeds the machine (the leader only); effects run as usual. */
  apply(event: MachineEvent): void;
  /** Makes every provider's desired records the machine's `active` ones (writes only differences). */
  routeActive(): void;
  /** Drops any write that is pending or waiting for a retry. */
  stopWrites(): void;
  /** Runs an operator action forwarded by another member. */
  act(action: unknown): void;
  /** A timeline event. */
  record(kind: string, message: string, data?: Record<string, unknown>): void;
  /** This member leads from now on (true), or no longer (false). */
  leading(leading: boolean): void;
}

export interface ClusterStatus {
  id: string;
  leader: string | undefined;
  leading: boolean;
  /** Since when this member leads (ISO, its clock). */
  leadingSince?: string;
  etcdReachable: boolean;
  quorum: number;
  quorumLost: boolean;
  watchers: Array<WatcherView & { counted: boolean; ignoredBecause?: string }>;
  /** Per origin, the watchers that see it up and down. */
  origins: Record<string, { health: string; up: number; down: number }>;
}

const REPUBLISH_MS = 5000;

export class ClusterMember {
  private readonly coordinator: EtcdCoordinator;
  private views: WatcherView[] = [];
  private leader: string | undefined;
  private leadingSince: string | undefined;
  private reachable = true;
  private last: QuorumResult | undefined;
  private lostRaised = false;
  private republish: NodeJS.Timeout | undefined;
  private local: WatcherView;
  private readonly order: string[];
  /** The notifications outbox as last loaded or saved (saved with the state). */
  private deliveries: Delivery[] = [];
  private saving: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: ClusterConfig,
    site: { name: string; order: string[] },
    private readonly host: ClusterHost,
    private readonly log: Logger,
    statusUrl?: string,
  ) {
    this.order = site.order;
    this.local = {
      id: config.id,
      at: new Date().toISOString(),
      origins: {},
      ...(statusUrl ? { statusUrl } : {}),
    };
    const prefix = config.etcd.prefix ?? `/outlast/${site.name}/`;
    const events: CoordinatorEvents = {
      views: (views) => this.onViews(views),
      leader: (id) => this.onLeader(id),
      elected: () => this.onElected(),
      deposed: (reason) => this.onDeposed(reason),
      etcd: (reachable, detail) => this.onEtcd(reachable, detail),
      state: (value) => this.onState(value),
      action: (key, value) => this.onAction(key, value),
    };
    this.coordinator = new EtcdCoordinator(config, prefix, events, log);
  }

  async start(): Promise<void> {
    await this.coordinator.start(this.local);
    this.republish = setInterval(() => void this.coordinator.publish(this.stamp()), REPUBLISH_MS);
    this.republish.unref?.();
    this.host.record(
      'cluster',
      `joined the cluster as ${this.config.id} (etcd ${this.config.etcd.endpoints.join(', ')})`,
    );
  }

  async stop(): Promise<void> {
    clearInterval(this.republish);
    await this.coordinator.stop();
  }

  isLeader(): boolean {
    return this.coordinator.isLeader();
  }

  /** This watcher's own health of every origin, published for the others. */
  observe(health: Record<string, OriginHealth>): void {
    const origins: WatcherView['origins'] = {};
    for (const [id, item] of Object.entries(health)) {
      origins[id] = {
        state: item.state,
        ...(item.release === undefined ? {} : { release: item.release }),
        ...(item.deployedAt === undefined ? {} : { deployedAt: item.deployedAt }),
        ...(item.latencyMs === undefined ? {} : { latencyMs: Math.round(item.latencyMs) }),
        ...(item.lastProbe && !item.lastProbe.ok && item.lastProbe.error
          ? { error: item.lastProbe.error }
          : {}),
      };
    }
    this.local = { ...this.local, origins };
    void this.coordinator.publish(this.stamp());
  }

  /** For the DNS writer: resolves with a signal bounding the write, or throws when not leading. */
  fence(): Promise<AbortSignal> {
    return this.coordinator.fenced('write DNS');
  }

  /**
   * Keeps the machine's state in etcd (the leader only; a follower's machine is the leader's),
   * together with the notifications outbox, in one transaction: a notification is kept exactly
   * when the state that raised it is, so a new leader neither raises it again nor loses it.
   */
  persist(_state?: MachineState): Promise<void> {
    // One save at a time, each of what is current when it starts: a slower, older save can never
    // land after a newer one.
    const run = this.saving.then(async () => {
      if (!this.coordinator.isLeader()) return;
      await this.coordinator.saveFenced(
        { state: toShared(this.host.machine(), Date.now(), this.config.id), outbox: this.deliveries },
        'save the failover state',
      );
    });
    this.saving = run.catch(() => undefined);
    return run;
  }

  /** The notifier's outbox, kept in etcd with the state (see `persist`). */
  outbox(): OutboxStore {
    return {
      load: async () => {
        const value = await this.coordinator.load('outbox');
        this.deliveries = Array.isArray(value) ? (value as Delivery[]) : [];
        return this.deliveries;
      },
      save: async (deliveries) => {
        this.deliveries = [...deliveries];
        await this.persist(this.host.machine());
      },
    };
  }

  /** An operator action: run here when leading, else forwarded to the leader. */
  async act(action: unknown): Promise<'here' | 'forwarded'> {
    if (this.coordinator.isLeader()) {
      this.host.act(action);
      return 'here';
    }
    await this.coordinator.forward(action);
    return 'forwarded';
  }

  status(): ClusterStatus {
    const result = this.last ?? this.compute();
    const counted = new Set(result.counted);
    const ignored = new Map(result.ignored.map((item) => [item.id, item.why]));
    return {
      id: this.config.id,
      leader: this.leader,
      leading: this.coordinator.isLeader(),
      ...(this.leadingSince && this.coordinator.isLeader() ? { leadingSince: this.leadingSince } : {}),
      etcdReachable: this.reachable,
      quorum: result.quorum,
      quorumLost: result.quorumLost,
      watchers: this.views.map((view) => ({
        ...view,
        counted: counted.has(view.id),
        ...(ignored.has(view.id) ? { ignoredBecause: ignored.get(view.id)! } : {}),
      })),
      origins: Object.fromEntries(
        Object.entries(result.origins).map(([id, item]) => [
          id,
          { health: item.health, up: item.up, down: item.down },
        ]),
      ),
    };
  }

  private stamp(): WatcherView {
    this.local = { ...this.local, at: new Date().toISOString() };
    return this.local;
  }

  private compute(): QuorumResult {
    const machine = this.host.machine();
    const previous = Object.fromEntries(
      Object.entries(machine.origins).map(([id, view]) => [id, view.health]),
    );
    return quorumView({ views: this.views, origins: this.order, quorum: this.config.quorum, previous });
  }

  private onViews(views: WatcherView[]): void {
    this.views = views;
    this.decide();
  }

  /** The leader feeds the machine every quorum verdict (or release) that changed. */
  private decide(): void {
    const result = this.compute();
    this.last = result;
    if (result.quorumLost !== this.lostRaised) {
      this.lostRaised = result.quorumLost;
      this.host.record(
        result.quorumLost ? 'quorum-lost' : 'quorum',
        result.quorumLost
          ? `quorum lost: ${result.counted.length} watcher${result.counted.length === 1 ? '' : 's'} counted, ${result.quorum} needed; no origin's health can change`
          : `quorum: ${result.counted.length} watchers counted, ${result.quorum} needed`,
        { counted: result.counted, ignored: result.ignored, quorum: result.quorum },
      );
    }
    if (!this.coordinator.isLeader()) return;
    const machine = this.host.machine();
    for (const id of this.order) {
      const verdict = result.origins[id];
      const known = machine.origins[id];
      if (!verdict || verdict.health === 'unknown') continue;
      const releaseMoved = verdict.release !== undefined && verdict.release !== known?.release;
      if (verdict.health === known?.health && !releaseMoved) continue;
      const from = known?.health ?? 'unknown';
      const changed = verdict.health !== known?.health;
      // The machine first, then the event: the event's notification is saved with the state
      // that raised it (see persist).
      this.host.apply({
        type: 'health',
        at: Date.now(),
        originId: id,
        health: verdict.health,
        ...(verdict.release === undefined ? {} : { release: verdict.release }),
        ...(verdict.deployedAt === undefined ? {} : { deployedAt: verdict.deployedAt }),
      });
      if (changed) {
        this.host.record(
          'health',
          `${id} is ${verdict.health} by the cluster's quorum: ${verdict.up} watcher${verdict.up === 1 ? '' : 's'} see it up, ${verdict.down} down (quorum ${result.quorum})`,
          {
            originId: id,
            from,
            to: verdict.health,
            up: verdict.up,
            down: verdict.down,
            quorum: result.quorum,
          },
        );
      }
    }
  }

  private onLeader(id: string | undefined): void {
    if (id === this.leader) return;
    this.leader = id;
    this.host.record(
      'leader',
      id === undefined ? 'the cluster has no leader' : `the cluster's leader is ${id}`,
      {
        leader: id ?? null,
      },
    );
  }

  private onElected(): void {
    void (async () => {
      try {
        const shared = fromShared(await this.coordinator.loadState(), Date.now());
        if (shared) this.host.adopt(shared);
        this.leadingSince = new Date().toISOString();
        this.host.leading(true);
        this.host.record(
          'elected',
          `${this.config.id} leads the cluster${shared ? `, going on from ${shared.active.join(', ') || 'no origin yet'}` : ''}`,
        );
        // Only what changed since the last leader's decision is applied; DNS already holds that decision.
        this.decide();
        if (this.host.machine().active.length > 0) this.host.routeActive();
        await this.persist(this.host.machine());
      } catch (error) {
        this.log.warn({ err: (error as Error).message }, 'taking over the failover state failed');
      }
    })();
  }

  private onDeposed(reason: string): void {
    this.host.stopWrites();
    this.host.leading(false);
    this.leadingSince = undefined;
    this.host.record('deposed', `${this.config.id} no longer leads the cluster: ${reason}`);
  }

  private onEtcd(reachable: boolean, detail: string): void {
    this.reachable = reachable;
    this.host.record(
      reachable ? 'etcd' : 'etcd-unreachable',
      reachable ? `etcd answers again (${detail})` : detail,
    );
  }

  private onState(value: unknown): void {
    if (this.coordinator.isLeader()) return;
    const state = fromShared(value, Date.now());
    if (state) this.host.adopt(state);
  }

  private onAction(key: string, value: unknown): void {
    if (!this.coordinator.isLeader()) return;
    try {
      this.host.act(value);
    } catch (error) {
      this.host.record('action-error', `a forwarded action failed: ${(error as Error).message}`);
    }
    void this.coordinator.done(key).catch(() => undefined);
  }
}
