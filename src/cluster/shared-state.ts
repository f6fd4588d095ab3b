/**
 * The failover machine's state as the cluster keeps it in etcd (pure), so that a new leader goes
 * on with the same decision. The machine's times are its own clock's (ms since the epoch); another
 * machine's clock may differ, so the shared form holds durations instead, measured on the writer's
 * clock when it wrote: how long ago `active` changed, how long a hold-down has left, how long no
 * origin has been up. The reader adds them to its own clock. The time between the write and the
 * read is lost, which only makes a hold-down last that much longer.
 */
import type { MachineState } from '../failover/types.ts';

export const SHARED_STATE_VERSION = 1;

export interface SharedState {
  version: typeof SHARED_STATE_VERSION;
  /** The watcher that wrote it (for people). */
  by: string;
  machine: Omit<MachineState, 'changedAt' | 'held' | 'noHealthySince'> & {
    changedAgoMs?: number;
    held?: { originIds: string[]; inMs?: number };
    noHealthyForMs?: number;
  };
}

export function toShared(state: MachineState, now: number, by: string): SharedState {
  const { changedAt, held, noHealthySince, ...rest } = state;
  return {
    version: SHARED_STATE_VERSION,
    by,
    machine: {
      ...rest,
      ...(changedAt === undefined ? {} : { changedAgoMs: Math.max(0, now - changedAt) }),
      ...(held === undefined
        ? {}
        : {
            held: {
              originIds: held.originIds,
              ...(held.until === undefined ? {} : { inMs: Math.max(0, held.until - now) }),
            },
          }),
      ...(noHealthySince === undefined ? {} : { noHealthyForMs: Math.max(0, now - noHealthySince) }),
    },
  };
}

/** The machine state on this machine's clock; undefined for a form it does not know. */
export function fromShared(shared: unknown, now: number): MachineState | undefined {
  const value = shared as Partial<SharedState> | undefined;
  if (!value || value.version !== SHARED_STATE_VERSION || typeof value.machine !== 'object') return undefined;
  const { changedAgoMs, held, noHealthyForMs, ...rest } = value.machine;
  if (!Array.isArray(rest.active) || typeof rest.origins !== 'object') return undefined;
  return {
    ...rest,
    ...(changedAgoMs === undefined ? {} : { changedAt: now - changedAgoMs }),
    ...(held === undefined
      ? {}
      : {
          held: { originIds: held.originIds, ...(held.inMs === undefined ? {} : { until: now + held.inMs }) },
        }),
    ...(noHealthyForMs === undefined ? {} : { noHealthySince: now - noHealthyForMs }),
  };
}
