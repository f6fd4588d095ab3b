/**
 * The health engine: probes every origin all the time (standbys too, so a failover never lands
 * on an origin nobody has looked at), each on its own timer, and turns results into up/down
 * states with rise/fall counters, the way Route 53's FailureThreshold, Cloudflare's
 * consecutive_up/down and gdnsd's up/down thresholds do (notes/anchors.md §A).
 *
 * - From `unknown`, the first result decides, so a daemon that starts knows at once.
 * - up → down after `fall` consecutive failures; down → up after `rise` consecutive passes. An
 *   origin that alternates never reaches either, so it does not flap.
 * - While passing, one probe at a time, the next `interval` after the last one ended. Once an
 *   origin is down, the same: hammering a dead origin tells nothing new.
 * - After a failure that is not yet confirmed (up, `consecutiveFail` > 0), retries start every
 *   `retryInterval`, start to start, even while earlier probes are still in flight, with at most
 *   `fall` in flight per origin. A hung origin's timeouts then run side by side instead of one
 *   after another: down at about phase + timeout (the first failure) + (fall − 2) × retryInterval
 *   + timeout, instead of phase + fall × timeout + (fall − 1) × retryInterval. An origin that
 *   fails fast goes down in about (fall − 1) × retryInterval after its first failure, and one
 *   that refuses connections (nothing listens) in about (fall − 1) × 100 ms: trying again at
 *   once costs nothing then.
 * - Results count in the order probes started: each probe gets a sequence number when it starts,
 *   and a result counts only if it started after the last result that counted. An older result
 *   that arrives late (a probe that hung while a newer one already answered) is dropped: it
 *   changes no counter, state, history or release and does not go to `onProbe`. So the newest
 *   word always wins, and a late pass can never break a streak of newer failures.
 * - `probeNow` joins the newest probe in flight instead of doubling it.
 * - `stop()` clears the timer and waits for every probe in flight (each ends within `timeout`).
 *
 * Every result that counts goes to `onProbe` (the failover machine needs each origin's release
 * even when no state changes); state changes go to `onTransition`.
 */
import type { Dispatcher } from 'undici';
import type { HealthConfig } from '../config/schema.ts';
import { messageOf, OutlastError } from '../errors.ts';
import { componentLogger, type Logger } from '../util/log.ts';
import { type ProbeResult, type ProbeTarget, probeOrigin } from './probe.ts';

export type HealthState = 'unknown' | 'up' | 'down';

export interface OriginHealth {
  originId: string;
  state: HealthState;
  /** When the origin entered `state` (ISO 8601). */
  since: string;
  consecutiveOk: number;
  consecutiveFail: number;
  lastProbe?: ProbeResult;
  /** The release the origin served at the last probe that read its beacon. */
  release?: string;
  deployedAt?: string;
  latencyMs?: number;
  /** The last hour of probes, oldest first, at most `HISTORY_MAX_POINTS`. */
  history: { at: string; ok: boolean; latencyMs: number }[];
  /** Set while the certificate expires within `CERTIFICATE_WARNING_DAYS` (not a failure). */
  certificateWarning?: string;
}

export interface HealthTransition {
  originId: string;
  from: HealthState;
  to: HealthState;
  at: string;
  /** Why, for people: `3 consecutive failures (last: connection refused)`. */
  reason: string;
  release?: string;
  deployedAt?: string;
}

export interface HealthEngineOptions {
  targets: ProbeTarget[];
  health: HealthConfig;
  /** The release every origin should serve (read at each probe); undefined: any release passes.
   * Ignored when `health.requireCurrentRelease` is false. */
  expectedRelease: () => string | undefined;
  /** After every probe, with the state it led to. Must not throw (a throw is logged). */
  onProbe?: (result: ProbeResult, state: OriginHealth) => void;
  /** After every state change, `unknown` → up/down included. Must not throw (a throw is logged). */
  onTransition?: (transition: HealthTransition) => void;
  /** Milliseconds since the epoch, for timestamps (tests). */
  now?: () => number;
  logger?: Logger;
  /** Passed to every probe: an extra trusted CA, or a dispatcher (see `ProbeOptions`). */
  probe?: { ca?: string | Buffer; dispatcher?: Dispatcher };
}

export const HISTORY_WINDOW_MS = 60 * 60 * 1000;
/** One point every 5 s for an hour; faster probing keeps the latest 720. */
export const HISTORY_MAX_POINTS = 720;
export const CERTIFICATE_WARNING_DAYS = 14;
const DAY_MS = 86_400_000;
/** The first probes are spread over at most this much per origin, so they don't all go at once
 * yet startup stays quick. */
const MAX_STAGGER_MS = 200;
/** The retry after a refused connection, instead of `retryInterval` (see scheduleAfterResult). */
export const REFUSED_RETRY_MS = 100;

interface Slot {
  target: ProbeTarget;
  health: OriginHealth;
  timer: NodeJS.Timeout | undefined;
  /** Every probe in flight (more than one only during an unconfirmed failure streak). */
  inFlight: Set<Promise<ProbeResult>>;
  /** The newest probe in flight, which `probeNow` joins. */
  newest: Promise<ProbeResult> | undefined;
  /** Sequence number of the last probe started, and of the last one whose result counted. */
  started: number;
  counted: number;
  /** When the last probe started (ms, `performance.now()`), to space retries start to start. */
  lastStartAt: number;
  lastCertificateWarnAt: number | undefined;
}

/** Probes origins on timers and tracks their up/down state. */
export class HealthEngine {
  private readonly slots = new Map<string, Slot>();
  private readonly now: () => number;
  private readonly log: Logger;
  private running = false;

  constructor(private readonly options: HealthEngineOptions) {
    this.now = options.now ?? Date.now;
    this.log = options.logger ?? componentLogger('health');
    const since = new Date(this.now()).toISOString();
    for (const target of options.targets) {
      if (this.slots.has(target.originId)) {
        throw new OutlastError('invalid_argument', `duplicate probe target "${target.originId}"`);
      }
      this.slots.set(target.originId, {
        target,
        health: {
          originId: target.originId,
          state: 'unknown',
          since,
          consecutiveOk: 0,
          consecutiveFail: 0,
          history: [],
        },
        timer: undefined,
        inFlight: new Set(),
        newest: undefined,
        started: 0,
        counted: 0,
        lastStartAt: 0,
        lastCertificateWarnAt: undefined,
      });
    }
  }

  /** Starts probing every origin, first probes staggered. Idempotent. */
  start(): void {
    if (this.running) return;
    this.running = true;
    const stagger = Math.min(this.options.health.interval / Math.max(this.slots.size, 1), MAX_STAGGER_MS);
    let index = 0;
    for (const slot of this.slots.values()) this.schedule(slot, Math.round(index++ * stagger));
  }

  /** Stops probing: clears every timer and waits for probes in flight. Idempotent. */
  async stop(): Promise<void> {
    this.running = false;
    for (const slot of this.slots.values()) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    // Probes end on their own within `timeout`; loop in case a `probeNow` started one meanwhile.
    for (;;) {
      const inFlight = [...this.slots.values()].flatMap((slot) => [...slot.inFlight]);
      if (inFlight.length === 0) break;
      await Promise.allSettled(inFlight);
    }
  }

  /** Every origin's state, as copies (safe to keep or serialize). */
  snapshot(): Record<string, OriginHealth> {
    const out: Record<string, OriginHealth> = {};
    for (const [id, slot] of this.slots) out[id] = { ...slot.health, history: [...slot.health.history] };
    return out;
  }

  /**
   * One origin's state as it is now, copying nothing (cheap enough for every request of an edge in
   * the same process); undefined for an id this engine does not probe.
   */
  stateOf(originId: string): HealthState | undefined {
    return this.slots.get(originId)?.health.state;
  }

  /**
   * Probes one origin (or all) now, joining a probe already in flight, and resolves with the
   * results. While running, the origin's next probe is rescheduled from this one. Works without
   * `start()` too (one-shot checks). An unknown id rejects with `invalid_argument`.
   */
  async probeNow(originId?: string): Promise<ProbeResult[]> {
    if (originId !== undefined && !this.slots.has(originId)) {
      throw new OutlastError('invalid_argument', `unknown origin "${originId}"`, {
        hint: `probed origins: ${[...this.slots.keys()].join(', ')}`,
      });
    }
    const slots = originId === undefined ? [...this.slots.values()] : [this.slots.get(originId)!];
    return Promise.all(slots.map((slot) => this.probe(slot)));
  }

  private schedule(slot: Slot, delayMs: number): void {
    clearTimeout(slot.timer);
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      // Outside a failure streak one probe at a time; inside, at most `fall` (see the module doc).
      const limit = this.inStreak(slot.health) ? this.options.health.fall : 1;
      if (slot.inFlight.size >= limit) return; // the next completion schedules again
      // Only `expectedRelease` can throw here (probes and callbacks don't); the next timer is set anyway.
      this.probe(slot, false).catch((error: unknown) => {
        this.log.error({ originId: slot.health.originId, error: messageOf(error) }, 'probe failed to run');
      });
    }, delayMs);
  }

  /** An up origin that failed at least once and is not yet down: retries may overlap. */
  private inStreak(health: OriginHealth): boolean {
    return health.state === 'up' && health.consecutiveFail > 0;
  }

  /** Starts a probe, or with `join` returns the newest one in flight if there is one. */
  private probe(slot: Slot, join = true): Promise<ProbeResult> {
    if (join && slot.newest) return slot.newest;
    clearTimeout(slot.timer);
    slot.timer = undefined;
    const seq = ++slot.started;
    slot.lastStartAt = performance.now();
    const run = async (): Promise<ProbeResult> => {
      const { health } = this.options;
      const result = await probeOrigin(slot.target, {
        path: health.path,
        timeoutMs: health.timeout,
        expectStatus: health.expectStatus,
        expectedRelease: health.requireCurrentRelease ? this.options.expectedRelease() : undefined,
        ...this.options.probe,
      });
      if (seq > slot.counted) {
        slot.counted = seq;
        this.record(slot, result);
      } else {
        this.log.debug(
          { originId: slot.health.originId, ok: result.ok, error: result.error },
          'late probe result dropped (a newer probe already answered)',
        );
      }
      return result;
    };
    let refused = false;
    const promise: Promise<ProbeResult> = run()
      .then((result) => {
        refused = result.refused === true;
        return result;
      })
      .finally(() => {
        slot.inFlight.delete(promise);
        if (slot.newest === promise) slot.newest = undefined;
        if (this.running) this.scheduleAfterResult(slot, refused);
      });
    slot.inFlight.add(promise);
    slot.newest = promise;
    // In a streak the next retry is due `retryInterval` after this start, in flight or not.
    if (this.running && this.inStreak(slot.health) && slot.inFlight.size < this.options.health.fall) {
      this.schedule(slot, this.options.health.retryInterval);
    }
    return promise;
  }

  /**
   * After a probe ends: the next retry in a streak, else the next probe `interval` from now. A
   * refused connection is retried after `REFUSED_RETRY_MS` instead of `retryInterval`: asking
   * again costs nothing, and a dead origin is then down in about (fall − 1) × that.
   */
  private scheduleAfterResult(slot: Slot, refused = false): void {
    const { interval, retryInterval, fall } = this.options.health;
    if (this.inStreak(slot.health)) {
      const wait = refused ? Math.min(REFUSED_RETRY_MS, retryInterval) : retryInterval;
      const sinceStart = performance.now() - slot.lastStartAt;
      if (refused && slot.timer !== undefined) {
        clearTimeout(slot.timer);
        slot.timer = undefined;
      }
      if (slot.timer === undefined && slot.inFlight.size < fall) {
        this.schedule(slot, Math.max(0, Math.round(wait - sinceStart)));
      }
      return;
    }
    // Passing or down: no overlap. Drop a pending retry; the last probe to end sets the timer.
    clearTimeout(slot.timer);
    slot.timer = undefined;
    if (slot.inFlight.size === 0) this.schedule(slot, interval);
  }

  /** Applies one result: counters, state, history, certificate; then the callbacks. */
  private record(slot: Slot, result: ProbeResult): void {
    const health = slot.health;
    const now = this.now();
    const at = new Date(now).toISOString();
    if (result.ok) {
      health.consecutiveOk++;
      health.consecutiveFail = 0;
    } else {
      health.consecutiveFail++;
      health.consecutiveOk = 0;
    }
    health.lastProbe = result;
    health.latencyMs = result.latencyMs;
    if (result.release !== undefined) {
      health.release = result.release;
      health.deployedAt = result.deployedAt;
    }
    health.history.push({ at, ok: result.ok, latencyMs: result.latencyMs });
    const oldest = now - HISTORY_WINDOW_MS;
    while (health.history.length > HISTORY_MAX_POINTS || Date.parse(health.history[0]?.at ?? at) < oldest) {
      health.history.shift();
    }
    this.checkCertificate(slot, result, now);

    const transition = this.nextState(health, result, at);
    this.log.debug(
      { originId: health.originId, ok: result.ok, error: result.error, state: health.state },
      'probe',
    );
    this.notify(() => this.options.onProbe?.(result, { ...health, history: [...health.history] }));
    if (transition) {
      const level = transition.to === 'down' ? 'warn' : 'info';
      this.log[level]({ ...transition }, 'origin health changed');
      this.notify(() => this.options.onTransition?.(transition));
    }
  }

  private nextState(health: OriginHealth, result: ProbeResult, at: string): HealthTransition | undefined {
    const { fall, rise } = this.options.health;
    const from = health.state;
    let to: HealthState = from;
    let reason = '';
    const last = result.error ?? 'passed';
    if (from === 'unknown') {
      to = result.ok ? 'up' : 'down';
      reason = result.ok ? 'first probe passed' : `first probe failed: ${last}`;
    } else if (from === 'up' && health.consecutiveFail >= fall) {
      to = 'down';
      reason = `${health.consecutiveFail} consecutive failures (last: ${last})`;
    } else if (from === 'down' && health.consecutiveOk >= rise) {
      to = 'up';
      reason = `${health.consecutiveOk} consecutive passes`;
    }
    if (to === from) return undefined;
    health.state = to;
    health.since = at;
    const transition: HealthTransition = { originId: health.originId, from, to, at, reason };
    if (health.release !== undefined) transition.release = health.release;
    if (health.deployedAt !== undefined) transition.deployedAt = health.deployedAt;
    return transition;
  }

  /** A soon-expiring certificate is a warning, logged once a day, never a failure. */
  private checkCertificate(slot: Slot, result: ProbeResult, now: number): void {
    const certificate = result.certificate;
    // Without a certificate this time (connection refused, plain HTTP), the last word stands.
    if (!certificate) return;
    if (certificate.daysLeft >= CERTIFICATE_WARNING_DAYS) {
      delete slot.health.certificateWarning;
      return;
    }
    const when = certificate.daysLeft < 0 ? 'expired' : `expires in ${certificate.daysLeft} days`;
    slot.health.certificateWarning = `certificate for ${certificate.subject} ${when} (${certificate.validTo})`;
    if (slot.lastCertificateWarnAt === undefined || now - slot.lastCertificateWarnAt >= DAY_MS) {
      slot.lastCertificateWarnAt = now;
      this.log.warn({ originId: slot.health.originId, ...certificate }, 'certificate expires soon');
    }
  }

  private notify(callback: () => void): void {
    try {
      callback();
    } catch (error) {
      this.log.error({ error: messageOf(error) }, 'health callback threw');
    }
  }
}
