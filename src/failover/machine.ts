/**
 * The failover machine: `step(config, state, event) → { state, effects }`, a pure function. No I/O
 * and no clock (time only arrives as `event.at`), so every decision can be replayed from the event
 * log and tested with tables. The daemon feeds it health verdicts and ticks, and carries out its
 * effects: `route` (compute the records for these origins, write the differences) and `event` (log).
 *
 * Semantics:
 * - **Eligible** = health `up` and on `currentRelease` (the release with the newest `deployedAt`
 *   seen on any origin; while none is known, every `up` origin is eligible). `priority` chooses the
 *   first eligible origin in `order`, `all-healthy` every eligible one, in order.
 * - **Degraded**: when none is eligible but some are up, serve the up origins on the newest release
 *   among them (priority: the first; all-healthy: all, never a mix of releases) and send a loud
 *   `degraded` event once per situation.
 * - **None up**: DNS is left as it is (pointing at a dead origin beats pointing at nothing); one
 *   `no-healthy-origin` event per episode, which ends when an origin is up again.
 * - **Unknown**: never routed to. No decision until every origin is known, except that `priority`
 *   decides as soon as an eligible origin has only known origins before it (start-up does not wait
 *   for a dead standby), and any policy decides at once when an active origin is down.
 * - **Observed** (start): `active` becomes what DNS points to, without a write; the next decision
 *   routes only if the choice differs. An observation is not a change: `changedAt` is kept.
 * - **Moving away** from an active origin that is down, or up but off the current release (a new
 *   deploy reached another origin first), is immediate and never held down; kind `failover`. In
 *   all-healthy it only drops the bad origins; additions wait like any better choice. With manual
 *   failback, moving away from a *down* origin sets `awaitingFailback` (a stale origin did not fail).
 * - **Better choice** (a more preferred origin, more origins in all-healthy, leaving a knowingly
 *   degraded origin): waits until `changedAt + holdDownMs` (a `tick` applies it), and with manual
 *   failback while `awaitingFailback`, for a `failback` event. One `held-down` event per choice and
 *   window. So a flapping origin moves DNS to it at most once per hold-down window.
 * - **Operator**: `failback` applies the choice at once (ignores hold-down), clears
 *   `awaitingFailback` and resumes automation. `force` routes to the given origins at once (loudly
 *   if they are not healthy) and pauses. `pause` stops route effects (health, alerts still tracked);
 *   `resume` re-evaluates at once under the rules above (hold-down counts from the force).
 * - Every change of `active` emits a `route` effect and a timeline event (`route` for the first
 *   decision, `failover`, `failback` or `forced`). The input state is never mutated.
 */
import type { FailoverConfig } from '../config/schema.ts';
import type {
  Choice,
  DegradedServing,
  Effect,
  Health,
  MachineConfig,
  MachineEvent,
  MachineState,
  OriginView,
  TimelineEvent,
} from './types.ts';

export type * from './types.ts';

/** The machine's config from the file's `failover` section; origins missing from `order` come last. */
export function machineConfig(failover: FailoverConfig, originIds: string[]): MachineConfig {
  const listed = failover.order ?? [];
  return {
    policy: failover.policy,
    order: [...listed, ...originIds.filter((id) => !listed.includes(id))],
    failback: failover.failback,
    holdDownMs: failover.holdDown,
  };
}

/** Every origin unknown, nothing decided, automation on. */
export function initialState(config: MachineConfig): MachineState {
  return {
    origins: Object.fromEntries(config.order.map((id) => [id, { id, health: 'unknown' }])),
    active: [],
    paused: false,
    awaitingFailback: false,
  };
}

/** What the policy wants now, ignoring hold-down and the failback mode. */
export function choose(config: MachineConfig, state: MachineState): Choice {
  const unknown = config.order.filter((id) => healthOf(state, id) === 'unknown');
  const up = config.order.filter((id) => healthOf(state, id) === 'up');
  const eligible = up.filter((id) => onCurrentRelease(state, id));
  const activeDown = state.active.some((id) => healthOf(state, id) === 'down');
  const settled =
    config.policy === 'priority' && eligible[0] !== undefined && unknown[0] !== undefined
      ? config.order.indexOf(eligible[0]) < config.order.indexOf(unknown[0])
      : unknown.length === 0;
  if (!settled && !activeDown) return blocked('unknown', `waiting for the first verdict on ${list(unknown)}`);
  if (eligible.length > 0) {
    const originIds = config.policy === 'priority' ? eligible.slice(0, 1) : eligible;
    const on = state.currentRelease === undefined ? '' : ` on release ${state.currentRelease}`;
    return { originIds, reason: `${list(originIds)} up${on}`, degraded: false };
  }
  if (up.length > 0) {
    const release = newestRelease(state, up) ?? state.origins[up[0]!]?.release;
    const serving = up.filter((id) => state.origins[id]?.release === release);
    const originIds = config.policy === 'priority' ? serving.slice(0, 1) : serving;
    const reason =
      `serving release ${release ?? '(none)'} from ${list(originIds)}: ` +
      `no origin on the current release ${state.currentRelease} is healthy`;
    return { originIds, reason, degraded: true };
  }
  if (unknown.length > 0) return blocked('unknown', `no origin is up yet; waiting for ${list(unknown)}`);
  return blocked('no-healthy-origin', 'no origin is up');
}

/** Applies one event. Deterministic; returns new objects and never touches `state`. */
export function step(
  config: MachineConfig,
  state: MachineState,
  event: MachineEvent,
): { state: MachineState; effects: Effect[] } {
  const s: MachineState = { ...state, origins: { ...state.origins }, active: [...state.active] };
  const out = new Out(event.at);
  switch (event.type) {
    case 'observed':
      s.active = known(config, event.active);
      break;
    case 'health': {
      if (!config.order.includes(event.originId)) return { state: s, effects: [] };
      recordHealth(config, s, event, out);
      break;
    }
    case 'tick':
      break;
    case 'pause':
      if (!s.paused) out.emit('paused', 'automation paused by the operator: health is still tracked');
      s.paused = true;
      break;
    case 'resume':
      if (s.paused) out.emit('resumed', 'automation resumed by the operator');
      s.paused = false;
      break;
    case 'failback': {
      if (s.paused) out.emit('resumed', 'automation resumed by a failback');
      s.paused = false;
      s.awaitingFailback = false;
      const choice = choose(config, s);
      if (choice.blocked) out.emit('failback', `failback requested, but ${choice.reason}: DNS unchanged`);
      else if (sameList(choice.originIds, s.active)) {
        out.emit('failback', `failback requested: already on ${list(s.active)}`);
      } else move(s, choice.originIds, 'failback', `failing back to ${list(choice.originIds)}`, choice, out);
      break;
    }
    case 'force': {
      const ids = known(config, event.originIds);
      if (ids.length === 0) {
        out.emit('forced', `force ignored: ${list(event.originIds)} names no configured origin`);
        break;
      }
      const unfit = ids.filter((id) => healthOf(s, id) !== 'up' || !onCurrentRelease(s, id));
      const warning = unfit.length === 0 ? '' : ` although ${unfit.map((id) => describe(s, id)).join(', ')}`;
      const reason = `forced to ${list(ids)} by the operator${warning}; automation paused`;
      s.paused = true;
      s.degraded = undefined;
      move(s, ids, 'forced', reason, { originIds: ids, reason, degraded: false }, out);
      break;
    }
  }
  evaluate(config, s, event.at, out);
  return { state: s, effects: out.effects };
}

/** Takes a health verdict (or a release seen on a probe) into the state; emits transitions. */
function recordHealth(
  config: MachineConfig,
  s: MachineState,
  event: Extract<MachineEvent, { type: 'health' }>,
  out: Out,
): void {
  const id = event.originId;
  const before = s.origins[id] ?? { id, health: 'unknown' };
  const view: OriginView = { id, health: event.health };
  // A down probe reads no beacon: the origin still holds what it had.
  const release = event.release ?? before.release;
  const deployedAt =
    event.release === undefined || event.release === before.release
      ? (event.deployedAt ?? before.deployedAt)
      : event.deployedAt;
  if (release !== undefined) view.release = release;
  if (deployedAt !== undefined) view.deployedAt = deployedAt;
  s.origins[id] = view;
  if (before.health !== event.health) {
    const pausedNote =
      s.paused && event.health === 'down' && s.active.includes(id)
        ? ': it is active and automation is paused, so DNS is not changed'
        : '';
    out.emit('health', `origin ${id} is ${event.health}${pausedNote}`, {
      originId: id,
      health: event.health,
    });
  }
  const previous = s.currentRelease;
  s.currentRelease = currentReleaseOf(config, s, previous);
  if (s.currentRelease !== previous) {
    const behind = config.order.filter((other) => !onCurrentRelease(s, other));
    const message =
      previous === undefined
        ? `current release is ${s.currentRelease} (seen on ${id})`
        : `new release ${s.currentRelease} seen on ${id} (was ${previous})` +
          (behind.length > 0 ? `; not eligible until they have it: ${list(behind)}` : '');
    out.emit('release', message, { release: s.currentRelease, previous, originId: id });
  }
}

/** Alerts, then the routing decision under the hold-down and failback rules. */
function evaluate(config: MachineConfig, s: MachineState, at: number, out: Out): void {
  const choice = choose(config, s);
  if (choice.blocked === 'no-healthy-origin') {
    if (s.noHealthySince === undefined) {
      out.emit('no-healthy-origin', `no origin is up: DNS left pointing to ${list(s.active)}`, {
        active: s.active,
      });
    }
    s.noHealthySince ??= at;
    s.degraded = undefined;
  } else if (choice.blocked === undefined) s.noHealthySince = undefined;
  if (s.paused) {
    s.reason = `automation paused; the policy would choose: ${choice.reason}`;
    return;
  }
  s.reason = choice.reason;
  if (choice.blocked) return;
  const target = choice.originIds;
  let moved = false;
  if (!sameList(target, s.active)) {
    const failed = s.active.filter((id) => healthOf(s, id) === 'down');
    const stale = s.degraded ? [] : s.active.filter((id) => isStale(s, id));
    if (s.active.length === 0) {
      move(s, target, 'route', `routing to ${list(target)}: ${choice.reason}`, choice, out);
      moved = true;
    } else if (failed.length + stale.length > 0) {
      // all-healthy drops only the bad origins now; adding others is a better choice, held below.
      const kept = config.policy === 'all-healthy' ? target.filter((id) => s.active.includes(id)) : [];
      const to = kept.length > 0 ? kept : target;
      const from = [...failed, ...stale].map((id) => describe(s, id)).join(', ');
      move(s, to, 'failover', `failing over from ${from} to ${list(to)}: ${choice.reason}`, choice, out);
      if (failed.length > 0 && config.failback === 'manual' && !isPreferred(config, to)) {
        s.awaitingFailback = true;
      }
      moved = true;
    }
  }
  if (!sameList(target, s.active)) {
    const until = s.changedAt === undefined ? undefined : s.changedAt + config.holdDownMs;
    if (config.failback === 'manual' && s.awaitingFailback) hold(s, target, undefined, out);
    else if (until !== undefined && (moved || at < until)) hold(s, target, until, out);
    else {
      const kind = s.changedAt === undefined ? 'route' : 'failback';
      const verb = kind === 'route' ? 'routing' : 'failing back';
      move(s, target, kind, `${verb} to ${list(target)}: ${choice.reason}`, choice, out);
    }
  }
  if (choice.degraded && sameList(s.active, target)) {
    const serving: DegradedServing = { originIds: target, currentRelease: s.currentRelease };
    const release = s.origins[target[0] ?? '']?.release;
    if (release !== undefined) serving.release = release;
    // Loud once per situation: a change of origins or releases is news, a tick is not.
    if (!sameServing(serving, s.degraded)) out.emit('degraded', choice.reason, { ...serving });
    s.degraded = serving;
  } else if (!s.active.some((id) => isStale(s, id))) s.degraded = undefined;
  if (isPreferred(config, s.active)) s.awaitingFailback = false;
}

/** Changes `active`: the route effect and its timeline event. */
function move(
  s: MachineState,
  to: string[],
  kind: TimelineEvent['kind'],
  message: string,
  choice: Choice,
  out: Out,
): void {
  const from = s.active;
  s.active = to;
  s.changedAt = out.at;
  s.held = undefined;
  out.effects.push({ type: 'route', originIds: to, reason: choice.reason });
  out.emit(kind, message, { from, to });
}

/** Records a better choice that must wait; announces it once per choice and window. */
function hold(s: MachineState, originIds: string[], until: number | undefined, out: Out): void {
  if (s.held && sameList(s.held.originIds, originIds) && s.held.until === until) return;
  s.held = until === undefined ? { originIds } : { originIds, until };
  const message =
    until === undefined
      ? `${list(originIds)} would be preferred, but failback is manual: run \`outlast failback\``
      : `${list(originIds)} would be preferred; held down until ${iso(until)}`;
  out.emit('held-down', message, until === undefined ? { originIds } : { originIds, until: iso(until) });
}

/** Collects effects for one step; every timeline event carries the step's time. */
class Out {
  readonly effects: Effect[] = [];
  constructor(readonly at: number) {}
  emit(kind: TimelineEvent['kind'], message: string, data?: Record<string, unknown>): void {
    const event: TimelineEvent = { at: iso(this.at), kind, message };
    if (data !== undefined) event.data = data;
    this.effects.push({ type: 'event', event });
  }
}

function blocked(why: 'unknown' | 'no-healthy-origin', reason: string): Choice {
  return { originIds: [], reason, degraded: false, blocked: why };
}

function healthOf(state: MachineState, id: string): Health {
  return state.origins[id]?.health ?? 'unknown';
}

function onCurrentRelease(state: MachineState, id: string): boolean {
  return state.currentRelease === undefined || state.origins[id]?.release === state.currentRelease;
}

/** Up, but serving something other than the current release. */
function isStale(state: MachineState, id: string): boolean {
  return healthOf(state, id) === 'up' && !onCurrentRelease(state, id);
}

/** The most preferred outcome possible: the first origin (priority) or all of them (all-healthy). */
function isPreferred(config: MachineConfig, active: string[]): boolean {
  if (config.policy === 'priority') return active[0] !== undefined && active[0] === config.order[0];
  return config.order.every((id) => active.includes(id));
}

/** The release with the newest deployedAt on any origin; none timed keeps `previous`. */
function currentReleaseOf(config: MachineConfig, s: MachineState, previous?: string): string | undefined {
  return newestRelease(s, config.order, previous) ?? previous;
}

/** The release with the newest deployedAt among `ids`; a tie keeps `previous`, then the first in order. */
function newestRelease(s: MachineState, ids: string[], previous?: string): string | undefined {
  let best: { time: number; release: string } | undefined;
  for (const id of ids) {
    const view = s.origins[id];
    const time = view?.deployedAt === undefined ? Number.NaN : Date.parse(view.deployedAt);
    // A release without a usable time cannot be ordered, so it never becomes current by itself.
    if (view?.release === undefined || Number.isNaN(time)) continue;
    if (!best || time > best.time || (time === best.time && view.release === previous)) {
      best = { time, release: view.release };
    }
  }
  return best?.release;
}

/** The configured ids among `ids`, once each, in preference order. */
function known(config: MachineConfig, ids: string[]): string[] {
  return config.order.filter((id) => ids.includes(id));
}

function describe(s: MachineState, id: string): string {
  const view = s.origins[id];
  if (view?.health !== 'up') return `${id} (${view?.health ?? 'unknown'})`;
  return `${id} (on release ${view.release ?? '(none)'}, not the current ${s.currentRelease})`;
}

function sameServing(a: DegradedServing, b: DegradedServing | undefined): boolean {
  return (
    b !== undefined &&
    sameList(a.originIds, b.originIds) &&
    a.release === b.release &&
    a.currentRelease === b.currentRelease
  );
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((id, index) => id === b[index]);
}

function list(ids: string[]): string {
  return ids.length === 0 ? '(nothing)' : ids.join(', ');
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
