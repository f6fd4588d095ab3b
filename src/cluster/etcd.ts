/**
 * The watcher cluster's edge to etcd (the `etcd3` client, loaded only in a cluster): views under
 * a lease of their own, the election, the shared machine state, and the fence.
 *
 * Keys, under the prefix (default `/outlast/<dns.name>/`):
 *   watchers/<id>        one watcher's view (JSON), on that watcher's lease: gone when it is
 *   election/leader/...  the client library's election (one campaign key per candidate)
 *   state                the failover machine's state (shared-state.ts), written by the leader only
 *
 * The fence. A leader writes DNS only (a) while its campaign lease is certainly alive by its own
 * clock: a keepalive sent at local time t renews the lease until at least t + TTL at etcd, so the
 * leader counts from the sending of its last acknowledged keepalive and stops `SAFETY` before
 * that runs out, before etcd can expire the lease and elect someone else; and (b) after an etcd
 * transaction has just confirmed that its campaign key still exists with the create revision it
 * was elected with. The write itself gets an AbortSignal that fires when (a) runs out. A state
 * write is the same transaction with the put inside it.
 */
import { randomUUID } from 'node:crypto';
import type { Campaign, ElectionObserver, Etcd3, IKeyValue, Lease, Namespace, Watcher } from 'etcd3';
import { OutlastError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { etcdSecurity, grpcReason } from './connect.ts';
import type { ClusterConfig } from './options.ts';
import type { WatcherView } from './quorum.ts';
import { ViewTable } from './views.ts';

/** Leadership is given up this long before the lease could expire at etcd. */
const SAFETY_MS = 1000;
/** Budget of one etcd call; a cluster without quorum answers nothing, and we must know. */
const CALL_MS = 2000;
const RETRY_MS = 1000;
const LEADER_READ_MS = 1000;
/** How often the views are read whole, besides the watch (which can stall without a word). */
const VIEWS_READ_MS = 2000;

export interface CoordinatorEvents {
  /** The live watchers' views changed (every one, this watcher's included). */
  views(views: WatcherView[]): void;
  /** Who leads now, as the election says (undefined: nobody). */
  leader(id: string | undefined): void;
  /** This watcher leads from now on: the fence holds. */
  elected(): void;
  /** This watcher no longer leads (or could not know that it does). */
  deposed(reason: string): void;
  /** etcd answers again, or stopped answering. */
  etcd(reachable: boolean, detail: string): void;
  /** The shared machine state changed (parsed JSON; undefined when it is not JSON). */
  state(value: unknown): void;
  /** An operator action was forwarded to the leader (`key`, under the prefix, is for `done`). */
  action(key: string, value: unknown): void;
}

export class EtcdCoordinator {
  private client: Etcd3 | undefined;
  private ns: Namespace | undefined;
  private lease: Lease | undefined;
  private campaign: Campaign | undefined;
  private readonly watches: Watcher[] = [];
  private observer: ElectionObserver | undefined;
  private readonly views: ViewTable;
  private fence: { key: string; revision: string } | undefined;
  /** Local monotonic time until which the campaign lease certainly holds. */
  private validUntil = 0;
  private checkTimer: NodeJS.Timeout | undefined;
  private leaderTimer: NodeJS.Timeout | undefined;
  private viewsTimer: NodeJS.Timeout | undefined;
  private leaderId: string | undefined;
  private readonly retryTimers = new Set<NodeJS.Timeout>();
  private reachable = true;
  private stopped = false;
  private published: WatcherView | undefined;
  private publishing: Promise<void> = Promise.resolve();

  constructor(
    private readonly config: ClusterConfig,
    private readonly prefix: string,
    private readonly on: CoordinatorEvents,
    private readonly log: Logger,
  ) {
    this.views = new ViewTable(log);
  }

  get ttlSeconds(): number {
    return Math.round(this.config.leaseTtl / 1000);
  }

  async start(first: WatcherView): Promise<void> {
    const { Etcd3 } = await import('etcd3');
    this.client = new Etcd3({
      hosts: this.config.etcd.endpoints,
      dialTimeout: CALL_MS,
      defaultCallOptions: (context) =>
        // Streams (watches, keepalives) live on; unary calls get a deadline.
        context.isStream ? {} : { deadline: Date.now() + CALL_MS },
      ...(await etcdSecurity(this.config)),
    });
    this.ns = this.client.namespace(this.prefix);
    await this.watchViews();
    await this.newLease();
    await this.publish(first);
    await this.observeLeader();
    this.runCampaign();
    this.checkTimer = setInterval(() => this.checkLeadership(), 200);
    // The observer's watch can miss a change across a lost connection: read the leader again now
    // and then, so that what this watcher says about the leader is never stale for long.
    this.leaderTimer = setInterval(() => void this.readLeader(), LEADER_READ_MS);
    this.leaderTimer.unref?.();
    this.viewsTimer = setInterval(() => void this.readViews().catch(() => undefined), VIEWS_READ_MS);
    this.viewsTimer.unref?.();
    this.checkTimer.unref?.();
  }

  isLeader(): boolean {
    return this.fence !== undefined && performance.now() < this.validUntil - SAFETY_MS;
  }

  /** Publishes this watcher's view (the latest one wins; writes are serialized). */
  publish(view: WatcherView): Promise<void> {
    this.published = view;
    this.publishing = this.publishing.then(async () => {
      if (this.stopped || this.published !== view || !this.lease) return;
      try {
        await this.ns!.put(`watchers/${view.id}`)
          .value(JSON.stringify(view))
          .lease(await this.lease.grant());
        this.setReachable(true, 'published');
      } catch (error) {
        this.setReachable(false, `cannot publish this watcher's view: ${grpcReason(error as Error)}`);
      }
    });
    return this.publishing;
  }

  /**
   * Confirms in etcd that this watcher still leads, and returns a signal that fires when its
   * leadership may end; throws `conflict` when it does not lead.
   */
  async fenced(what: string): Promise<AbortSignal> {
    const fence = this.fence;
    if (!fence || !this.isLeader()) throw notLeader(what);
    const result = await this.client!.if(fence.key, 'Create', '==', fence.revision)
      .then(this.client!.get(fence.key))
      .commit()
      .catch((error: Error) => {
        throw new OutlastError(
          'unavailable',
          `cannot confirm with etcd that this watcher leads, so will not ${what}: ${grpcReason(error)}`,
          {
            source: 'cluster',
            cause: error,
          },
        );
      });
    if (!result.succeeded) {
      this.depose('etcd says this watcher no longer leads');
      throw notLeader(what);
    }
    const left = this.validUntil - SAFETY_MS - performance.now();
    if (left <= 0) throw notLeader(what);
    return AbortSignal.timeout(Math.floor(left));
  }

  /** The shared machine state (JSON), or undefined when there is none yet. */
  loadState(): Promise<unknown> {
    return this.load('state');
  }

  /** Any JSON value under `key` (relative to the prefix), or undefined. */
  async load(key: string): Promise<unknown> {
    const text = await this.ns!.get(key).string();
    return text === null ? undefined : parseJson(text);
  }

  /**
   * Writes every `key → value` (keys relative to the prefix) in one transaction, the fence's: all
   * of them or none, and only while this watcher leads.
   */
  async saveFenced(entries: Record<string, unknown>, what: string): Promise<void> {
    const fence = this.fence;
    if (!fence || !this.isLeader()) throw notLeader(what);
    const puts = Object.entries(entries).map(([key, value]) =>
      this.ns!.put(key).value(JSON.stringify(value)),
    );
    const result = await this.client!.if(fence.key, 'Create', '==', fence.revision)
      .then(...puts)
      .commit();
    if (!result.succeeded) {
      this.depose('etcd says this watcher no longer leads');
      throw notLeader(what);
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.checkTimer);
    clearInterval(this.leaderTimer);
    clearInterval(this.viewsTimer);
    for (const timer of this.retryTimers) clearTimeout(timer);
    const wasLeader = this.fence !== undefined;
    this.fence = undefined;
    if (wasLeader) this.on.deposed('stopping');
    // Resign and revoke: the others take over at once instead of after the lease TTL.
    await this.campaign?.resign().catch(() => undefined);
    await this.lease?.revoke().catch(() => undefined);
    await Promise.all(this.watches.map((watch) => watch.cancel().catch(() => undefined)));
    await this.observer?.cancel().catch(() => undefined);
    this.client?.close();
  }

  private async newLease(): Promise<void> {
    const lease = this.ns!.lease(this.ttlSeconds);
    this.lease = lease;
    lease.on('lost', (error) => {
      if (this.stopped || this.lease !== lease) return;
      this.setReachable(false, `this watcher's lease was lost: ${grpcReason(error)}`);
      this.retry(async () => {
        await this.newLease();
        if (this.published) await this.publish(this.published);
      });
    });
    try {
      await lease.grant();
      this.setReachable(true, 'lease granted');
    } catch (error) {
      this.setReachable(false, `cannot get a lease from etcd: ${grpcReason(error as Error)}`);
    }
  }

  /** Reads every key under `prefix`, then follows its changes from the next revision on. */
  private async follow(
    prefix: string,
    put: (kv: IKeyValue) => void,
    remove: (kv: IKeyValue) => void,
    read: (kvs: IKeyValue[], revision: bigint) => void = (kvs) => {
      for (const kv of kvs) put(kv);
    },
  ): Promise<Watcher> {
    const all = await this.ns!.getAll().prefix(prefix).exec();
    read(all.kvs, BigInt(all.header.revision));
    const watcher = await this.ns!.watch()
      .prefix(prefix)
      .startRevision(String(BigInt(all.header.revision) + 1n))
      .create();
    watcher.on('put', (kv) => put(kv));
    watcher.on('delete', (kv) => remove(kv));
    watcher.on('disconnected', (error) =>
      this.setReachable(false, `lost the watch on ${prefix}: ${error.message}`),
    );
    watcher.on('connected', () => this.setReachable(true, `watching ${prefix} again`));
    this.watches.push(watcher);
    return watcher;
  }

  private async watchViews(): Promise<void> {
    await this.follow(
      'watchers/',
      (kv) => {
        if (this.views.put(kv)) this.emitViews();
      },
      (kv) => {
        if (this.views.remove(kv)) this.emitViews();
      },
      (kvs, revision) => this.views.read(kvs, revision),
    );
    this.emitViews();
    await this.follow(
      'state',
      (kv) => this.on.state(parseJson(kv.value.toString())),
      () => undefined,
    );
    await this.follow(
      'actions/',
      (kv) => this.on.action(kv.key.toString(), parseJson(kv.value.toString())),
      () => undefined,
    );
  }

  /**
   * Asks the leader to run an operator action (it deletes the key once done). One deadline for
   * every attempt the client makes: an action that could not be handed over in time fails here,
   * and never reaches the leader later, when nobody expects it any more.
   */
  async forward(action: unknown): Promise<void> {
    await this.ns!.put(`actions/${Date.now().toString(36)}-${randomUUID()}`)
      .value(JSON.stringify(action))
      .options({ deadline: new Date(Date.now() + CALL_MS) });
  }

  /** The leader took an action: its key goes. */
  async done(key: string): Promise<void> {
    await this.ns!.delete().key(key);
  }

  /** Every view, read whole at one revision: what the watch may have missed. */
  private async readViews(): Promise<void> {
    if (this.stopped || !this.ns) return;
    const all = await this.ns.getAll().prefix('watchers/').exec();
    if (this.views.read(all.kvs, BigInt(all.header.revision))) this.emitViews();
  }

  private emitViews(): void {
    this.on.views(this.views.list());
  }

  private async observeLeader(): Promise<void> {
    const observer = await this.ns!.election('leader', this.ttlSeconds).observe();
    if (this.stopped) return void observer.cancel().catch(() => undefined);
    this.observer = observer;
    this.setLeader(observer.leader());
    observer.on('change', (value) => this.setLeader(value));
    observer.on('error', (error) => {
      this.log.warn({ err: error.message }, 'the election observer failed; observing again');
      this.retry(() => this.observeLeader());
    });
  }

  private async readLeader(): Promise<void> {
    if (this.stopped || !this.ns) return;
    try {
      this.setLeader(await this.ns.election('leader', this.ttlSeconds).leader());
    } catch {
      // etcd unreachable: setReachable says so elsewhere; the last known leader stands.
    }
  }

  private setLeader(id: string | undefined): void {
    if (id === this.leaderId) return;
    this.leaderId = id;
    this.on.leader(id);
  }

  private runCampaign(): void {
    if (this.stopped) return;
    const startedAt = performance.now();
    const campaign = this.ns!.election('leader', this.ttlSeconds).campaign(this.config.id);
    this.campaign = campaign;
    // The library keeps the campaign's lease to itself; its keepalives tell how long we lead.
    const lease = (campaign as unknown as { lease?: Lease }).lease;
    let sentAt = startedAt;
    let lastGood = startedAt;
    lease?.on('keepaliveFired', () => {
      sentAt = performance.now();
    });
    lease?.on('keepaliveSucceeded', () => {
      lastGood = sentAt;
      if (this.campaign === campaign && this.fence) this.validUntil = lastGood + this.config.leaseTtl;
    });
    campaign.on('elected', () => {
      if (this.stopped || this.campaign !== campaign) return;
      void (async () => {
        try {
          const key = await campaign.getCampaignKey();
          const kv = (await this.client!.get(key).exec()).kvs[0];
          if (!kv) throw new Error('the campaign key is gone');
          this.fence = { key, revision: kv.create_revision };
          this.validUntil = lastGood + this.config.leaseTtl;
          if (!this.isLeader()) throw new Error('the lease was not renewed in time');
          this.log.info({ id: this.config.id }, 'elected leader');
          this.on.elected();
          // The views as etcd has them now, not as the watch last said: a change reaches the new
          // leader's decision at once. Not awaited before leading: a read can take longer than the
          // lease leaves, and leadership would then be given up for nothing.
          void this.readViews().catch(() => undefined);
        } catch (error) {
          this.depose(`elected, but could not set the fence up: ${(error as Error).message}`);
        }
      })();
    });
    campaign.on('error', (error) => {
      if (this.campaign !== campaign) return;
      this.depose(`the campaign failed: ${error.message}`);
    });
  }

  /** Called often: a leader whose lease may run out stops leading now. */
  private checkLeadership(): void {
    if (this.fence && !this.isLeader()) {
      this.depose(`the lease could not be renewed within ${this.ttlSeconds - SAFETY_MS / 1000} s`);
    }
  }

  /** Gives leadership up (if held) and campaigns again once etcd lets us. */
  private depose(reason: string): void {
    const was = this.fence !== undefined;
    this.fence = undefined;
    this.validUntil = 0;
    const old = this.campaign;
    this.campaign = undefined;
    if (was) this.on.deposed(reason);
    else this.log.warn({ reason }, 'campaign ended');
    void old?.resign().catch(() => undefined);
    this.retry(async () => this.runCampaign());
  }

  private retry(action: () => Promise<void>): void {
    if (this.stopped) return;
    const timer = setTimeout(() => {
      this.retryTimers.delete(timer);
      action().catch((error) => {
        this.log.warn({ err: (error as Error).message }, 'etcd: retrying');
        this.retry(action);
      });
    }, RETRY_MS);
    timer.unref?.();
    this.retryTimers.add(timer);
  }

  private setReachable(reachable: boolean, detail: string): void {
    if (reachable === this.reachable) return;
    this.reachable = reachable;
    this.on.etcd(reachable, detail);
  }
}

function notLeader(what: string): OutlastError {
  return new OutlastError('conflict', `not the cluster's leader: will not ${what}`, {
    source: 'cluster',
    retryable: false,
  });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
