/**
 * Route 53 native failover, the planner (pure, no I/O): from the spec and what the zone and the
 * account hold, the health checks to create, update and delete, the failover chain, the one
 * ChangeResourceRecordSets batch that makes the sets at the name the chain, and what the plan
 * would replace that outlast did not make. `route53-native.ts` reads, calls it, and applies; its
 * module comment says what the chain is.
 */
import type {
  Change,
  HealthCheck,
  HealthCheckConfig,
  ResourceRecordSet,
  UpdateHealthCheckCommandInput,
} from '@aws-sdk/client-route-53';
import type { NativeChange, NativeSpec } from '../native/types.ts';
import { canonicalValues, desiredRecords } from '../plan.ts';
import { MANAGED_TYPES, type ManagedType, normalizeName } from '../provider.ts';
import { stripId, unescapeName } from './route53-names.ts';
import {
  checkerRequestsPerMonth,
  invalidConfig,
  mustReplace,
  notesFor,
  type Role,
  referenceOf,
  roleKeyOf,
  rolesOf,
  showCheck,
  updateOf,
} from './route53-native-checks.ts';

/** SetIdentifiers of outlast's failover sets start so. */
const SET_PREFIX = 'outlast-';
const NEXT_SET = 'outlast-next';

/** What `apply` does, in this order. */
export interface Payload {
  zoneId: string;
  creates: Array<{ role: string; reference: string; label: string; config: HealthCheckConfig }>;
  updates: UpdateHealthCheckCommandInput[];
  /** DELETEs, then CREATEs; a HealthCheckId `new:<role>` is the check this apply creates for it. */
  batch: Change[];
  /** Health checks to delete once the batch no longer uses them. */
  deletes: string[];
}

/** What the spec asks, checked before anything is read: invalid_config for what Route 53 cannot do. */
export interface Intent {
  roles: Role[];
  types: ManagedType[];
}

/** What the hosted zone and the account hold for the name, as read. */
export interface Held {
  zoneId: string;
  /** outlast's health checks for the name (by their CallerReference). */
  checks: HealthCheck[];
  /** The record sets at the name and below it. */
  sets: ResourceRecordSet[];
}

/** A native plan but for `provider`, which the shell adds. */
export interface Planned {
  changes: NativeChange[];
  notes: string[];
  foreign: string[];
  checkerRequestsPerMonth: number;
  payload: Payload;
}

export function intentOf(spec: NativeSpec): Intent {
  const roles = rolesOf(spec);
  return { roles, types: typesOf(spec) };
}

/** The plan that makes `held` match `spec`; `nonce()` makes each new check's reference unique. */
export function planFailover(spec: NativeSpec, intent: Intent, held: Held, nonce: () => string): Planned {
  const { roles, types } = intent;
  const beside = held.sets.filter((set) => nameOf(set) === spec.name && !isManaged(set));
  if (types.includes('CNAME') && beside.length > 0) {
    throw invalidConfig(
      `a CNAME cannot sit beside the ${[...new Set(beside.map((set) => set.Type))].join(', ')} at ${spec.name}, and every origin's dns is a cname`,
      'move those records, give the origins addresses, or manage another name',
    );
  }
  const inUse = new Set(held.sets.flatMap((set) => (set.HealthCheckId ? [set.HealthCheckId] : [])));
  const payload: Payload = { zoneId: held.zoneId, creates: [], updates: [], batch: [], deletes: [] };
  const changes: NativeChange[] = [];
  const checkOf = new Map<string, string>();
  const byRole = new Map<string, HealthCheck[]>();
  for (const check of held.checks) {
    const role = roleKeyOf(check);
    byRole.set(role, [...(byRole.get(role) ?? []), check]);
  }
  for (const role of roles) {
    const label = `outlast ${spec.name} ${role.origin.id} ${role.tier}`.slice(0, 256);
    // Prefer the check the records use; the others of the role are left from a failed apply.
    const candidates = (byRole.get(role.key) ?? []).sort(
      (a, b) => Number(inUse.has(b.Id!)) - Number(inUse.has(a.Id!)),
    );
    byRole.delete(role.key);
    const kept = candidates.find((check) => !mustReplace(check.HealthCheckConfig, role.config));
    for (const check of candidates.filter((item) => item !== kept)) {
      payload.deletes.push(check.Id!);
      changes.push({ action: 'delete', what: `health check ${check.Id}`, detail: `${label}, replaced` });
    }
    if (kept) {
      checkOf.set(role.key, kept.Id!);
      const update = updateOf(kept, role.config);
      if (update) {
        payload.updates.push(update.input);
        changes.push({ action: 'update', what: `health check ${kept.Id} (${label})`, detail: update.detail });
      }
    } else {
      checkOf.set(role.key, `new:${role.key}`);
      const reference = referenceOf(spec.name, role, nonce());
      payload.creates.push({ role: role.key, reference, label, config: role.config });
      changes.push({ action: 'create', what: `health check ${label}`, detail: showCheck(role.config) });
    }
  }
  for (const check of [...byRole.values()].flat()) {
    payload.deletes.push(check.Id!);
    changes.push({
      action: 'delete',
      what: `health check ${check.Id}`,
      detail: 'no origin of the config uses it',
    });
  }
  const wanted = failoverSets(spec, held.zoneId, types, roles, (role) => checkOf.get(role.key)!);
  const records = planRecords(spec, held.sets, wanted);
  payload.batch = records.batch;
  changes.push(...records.changes);
  return {
    changes,
    notes: notesFor(spec, payload.creates.length > 0),
    foreign: records.foreign,
    checkerRequestsPerMonth: checkerRequestsPerMonth(spec),
    payload,
  };
}

/** The plan that removes exactly what outlast made at `host`; other sets there are noted, left. */
export function planRemoval(host: string, held: Held): Planned {
  const sets = held.sets.filter((set) => depthOf(host, nameOf(set)) !== undefined && isManaged(set));
  const ours = sets.filter(isOurs).sort((a, b) => depthOf(host, nameOf(a))! - depthOf(host, nameOf(b))!);
  const changes: NativeChange[] = [
    ...ours.map((set) => ({ action: 'delete' as const, what: showSetName(set), detail: showSet(set) })),
    ...held.checks.map((check) => ({
      action: 'delete' as const,
      what: `health check ${check.Id}`,
      detail: 'outlast native failover',
    })),
  ];
  const left = sets.filter((set) => !isOurs(set));
  const notes = left.map((set) => `${showSetName(set)} (${showSet(set)}) is not outlast's: left as it is`);
  const payload: Payload = {
    zoneId: held.zoneId,
    creates: [],
    updates: [],
    batch: ours.map((set) => ({ Action: 'DELETE', ResourceRecordSet: set })),
    deletes: held.checks.map((check) => check.Id!),
  };
  return { changes, notes, foreign: [], checkerRequestsPerMonth: 0, payload };
}

/** A or AAAA (address origins) or CNAME: never both. */
function typesOf(spec: NativeSpec): ManagedType[] {
  const cnames = spec.origins.filter((origin) => 'cname' in origin.target);
  if (cnames.length > 0 && cnames.length < spec.origins.length) {
    throw invalidConfig(
      `failover: native on Route 53 needs every origin's dns to be addresses or every one a cname (${cnames.map((origin) => origin.id).join(', ')} use cname, the others addresses)`,
      'give every origin the same kind of dns target, or use failover: watcher',
    );
  }
  return cnames.length > 0 ? ['CNAME'] : ['A', 'AAAA'];
}

/** The failover chain of every type (see the module comment of `route53-native.ts`). */
export function failoverSets(
  spec: NativeSpec,
  zoneId: string,
  types: ManagedType[],
  roles: Role[],
  checkOf: (role: Role) => string,
): ResourceRecordSet[] {
  const sets: ResourceRecordSet[] = [];
  for (const type of types) {
    const legs = roles.flatMap((role) => {
      const values = desiredRecords(spec.name, spec.ttl, [role.origin.target]).find(
        (set) => set.type === type,
      )?.values;
      return values ? [{ role, values }] : [];
    });
    const leg = (
      at: string,
      index: number,
      failover: 'PRIMARY' | 'SECONDARY',
      checked = true,
    ): ResourceRecordSet => ({
      Name: `${at}.`,
      Type: type,
      SetIdentifier: `${SET_PREFIX}${legs[index]!.role.origin.id}-${checked ? legs[index]!.role.tier : 'fallback'}`,
      Failover: failover,
      TTL: spec.ttl,
      ResourceRecords: legs[index]!.values.map((value) => ({ Value: value })),
      ...(checked ? { HealthCheckId: checkOf(legs[index]!.role) } : {}),
    });
    if (legs.length === 1) {
      // One origin, no release yet: answered whatever its health (a failover set needs a pair).
      sets.push(leg(spec.name, 0, 'PRIMARY'), leg(spec.name, 0, 'SECONDARY', false));
      continue;
    }
    for (let depth = 0; depth < legs.length - 1; depth++) {
      const at = nestedName(spec.name, depth);
      sets.push(leg(at, depth, 'PRIMARY'));
      sets.push(
        depth === legs.length - 2
          ? leg(at, depth + 1, 'SECONDARY')
          : {
              Name: `${at}.`,
              Type: type,
              SetIdentifier: NEXT_SET,
              Failover: 'SECONDARY',
              AliasTarget: {
                HostedZoneId: zoneId,
                DNSName: `${nestedName(spec.name, depth + 1)}.`,
                EvaluateTargetHealth: true,
              },
            },
      );
    }
  }
  return sets;
}

/** The batch that makes the sets at the name and outlast's nested names `wanted`. */
export function planRecords(spec: NativeSpec, held: ResourceRecordSet[], wanted: ResourceRecordSet[]) {
  const relevant = held.filter((set) => isManaged(set) && depthOf(spec.name, nameOf(set)) !== undefined);
  const wantedByKey = new Map(wanted.map((set) => [keyOf(set), set]));
  const deletes: ResourceRecordSet[] = [];
  const creates: ResourceRecordSet[] = [];
  const changes: NativeChange[] = [];
  const foreign: string[] = [];
  for (const set of relevant) {
    const want = isOurs(set) ? wantedByKey.get(keyOf(set)) : undefined;
    if (want) wantedByKey.delete(keyOf(set));
    if (want && fingerprint(want) === fingerprint(set)) continue;
    deletes.push(set);
    if (want) {
      creates.push(want);
      changes.push({
        action: 'update',
        what: showSetName(want),
        detail: `${showSet(set)} → ${showSet(want)}`,
      });
      continue;
    }
    changes.push({ action: 'delete', what: showSetName(set), detail: showSet(set) });
    if (!isOurs(set) && !writtenByWatcher(spec, set))
      foreign.push(`${showSetName(set)} (${showSet(set)}), not outlast's`);
  }
  for (const want of wantedByKey.values()) {
    creates.push(want);
    changes.push({ action: 'create', what: showSetName(want), detail: showSet(want) });
  }
  // An alias is deleted before the sets it points at, and created after them.
  const depth = (set: ResourceRecordSet) => depthOf(spec.name, nameOf(set))!;
  const batch: Change[] = [
    ...deletes
      .sort((a, b) => depth(a) - depth(b))
      .map((set) => ({ Action: 'DELETE' as const, ResourceRecordSet: set })),
    ...creates
      .sort((a, b) => depth(b) - depth(a))
      .map((set) => ({ Action: 'CREATE' as const, ResourceRecordSet: set })),
  ];
  return { batch, changes, foreign };
}

/** The change with the ids of the checks this apply created in place of `new:<role>`. */
export function withCheckIds(change: Change, created: Map<string, string>): Change {
  const id = change.ResourceRecordSet?.HealthCheckId;
  if (!id?.startsWith('new:')) return change;
  return {
    ...change,
    ResourceRecordSet: { ...change.ResourceRecordSet!, HealthCheckId: created.get(id.slice(4)) },
  };
}

/** A plain set whose values are one origin's targets: what `outlast watch` writes. */
function writtenByWatcher(spec: NativeSpec, set: ResourceRecordSet): boolean {
  if (set.SetIdentifier !== undefined || set.AliasTarget || nameOf(set) !== spec.name) return false;
  const values = canonical(set).join(' ');
  return spec.origins.some((origin) =>
    desiredRecords(spec.name, spec.ttl, [origin.target]).some(
      (want) => want.type === set.Type && want.values.join(' ') === values,
    ),
  );
}

function isOurs(set: ResourceRecordSet): boolean {
  return set.SetIdentifier?.startsWith(SET_PREFIX) ?? false;
}

function isManaged(set: ResourceRecordSet): boolean {
  return (MANAGED_TYPES as readonly string[]).includes(set.Type ?? '');
}

/** 0 for `name`, n for `_outlast-<n>.<name>`, undefined for anything else. */
function depthOf(name: string, at: string): number | undefined {
  if (at === name) return 0;
  const nested = new RegExp(`^_outlast-([1-9][0-9]*)\\.${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`).exec(
    at,
  );
  return nested ? Number(nested[1]) : undefined;
}

function nestedName(name: string, depth: number): string {
  return depth === 0 ? name : `_outlast-${depth}.${name}`;
}

export function nameOf(set: ResourceRecordSet): string {
  return normalizeName(unescapeName(set.Name ?? ''));
}

export function reverseLabels(name: string): string {
  return name.split('.').reverse().join('.');
}

function keyOf(set: ResourceRecordSet): string {
  return `${nameOf(set)}|${set.Type}|${set.SetIdentifier ?? ''}`;
}

function canonical(set: ResourceRecordSet): string[] {
  const values = (set.ResourceRecords ?? []).map((record) => record.Value ?? '');
  return canonicalValues({ name: '', type: set.Type as ManagedType, ttl: 0, values });
}

/** Everything Route 53 compares a set by, in one string. */
function fingerprint(set: ResourceRecordSet): string {
  const alias = set.AliasTarget;
  return JSON.stringify([
    keyOf(set),
    set.Failover ?? null,
    set.TTL ?? null,
    canonical(set),
    alias
      ? [
          stripId(alias.HostedZoneId ?? ''),
          normalizeName(alias.DNSName ?? ''),
          alias.EvaluateTargetHealth === true,
        ]
      : null,
    set.HealthCheckId ?? null,
  ]);
}

function showSetName(set: ResourceRecordSet): string {
  const routing = set.Failover ? ` ${set.Failover}` : set.SetIdentifier ? ' routed' : '';
  return `${set.Type} ${nameOf(set)}${routing}${set.SetIdentifier ? ` "${set.SetIdentifier}"` : ''}`;
}

function showSet(set: ResourceRecordSet): string {
  if (set.AliasTarget) {
    return `alias to ${normalizeName(set.AliasTarget.DNSName ?? '')}${set.AliasTarget.EvaluateTargetHealth ? ' (evaluate target health)' : ''}`;
  }
  const check = set.HealthCheckId?.startsWith('new:') ? 'a new health check' : set.HealthCheckId;
  return `${canonical(set).join(', ')}, TTL ${set.TTL}${check ? `, checked by ${check}` : ''}`;
}

export function showChange(change: Change): string {
  return `${change.Action} ${change.ResourceRecordSet ? showSetName(change.ResourceRecordSet) : ''}`;
}
