/**
 * Native failover on Route 53: health checks and failover record sets, so that Route 53 itself
 * checks the origins and answers with a healthy one, with every watcher stopped.
 *
 * - **Health checks**, one per origin and tier: `HTTP_STR_MATCH`/`HTTPS_STR_MATCH` (by the URL's
 *   scheme) on the origin's beacon URL, `SearchString` the current release's match (first tier) or
 *   the any-release match (second tier), from three regions. An IP address in the URL is checked as
 *   such with `hostHeader` as `FullyQualifiedDomainName` (the Host and the SNI name); a host name is
 *   resolved by Route 53 (IPv4 only). Each check's `CallerReference` is
 *   `outlast-<hash of the name>-<hash of origin and tier>-<nonce>` (a reference is never reusable,
 *   so the nonce), by which it is found again; a `Name` tag says the same for people.
 * - **Failover record sets**, a chain over the legs "o1 current, …, oN current, o1 any, …, oN any":
 *   the name holds PRIMARY = the first leg and SECONDARY = the second leg when there are two, else
 *   an alias (EvaluateTargetHealth) to `_outlast-1.<name>`, which holds the next pair, and so on.
 *   Route 53 answers the first leg whose check passes: an origin on the current release whenever one
 *   is up, one on any release only when none is, and with all down the first origin (a failover set
 *   whose records are all unhealthy answers its primary). SetIdentifiers start `outlast-`.
 *
 * `plan` reads only: the account's health checks (one ListHealthChecks page up to 1,000) and the
 * record sets at the name and below it (one ListResourceRecordSets page, mostly). `apply` creates
 * health checks before the records that use them, sends one ChangeResourceRecordSets batch (DELETEs
 * of the sets as read, then CREATEs), and deletes the checks no longer used last. A failure before
 * the batch is committed deletes the checks this apply created. A plain set at the name equal to
 * an origin's target is the watcher's and is replaced; anything else at the name of a managed type
 * that is not outlast's is `foreign`, replaced only with force.
 */
import { createHash, randomBytes } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import {
  type Change,
  ChangeResourceRecordSetsCommand,
  ChangeTagsForResourceCommand,
  CreateHealthCheckCommand,
  DeleteHealthCheckCommand,
  type HealthCheck,
  type HealthCheckConfig,
  type HealthCheckRegion,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  type RRType,
  UpdateHealthCheckCommand,
  type UpdateHealthCheckCommandInput,
} from '@aws-sdk/client-route-53';
import { type ErrorCode, isOutlastError, OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import type { NativeChange, NativeFailover, NativeOrigin, NativePlan, NativeSpec } from '../native/types.ts';
import { canonicalValues, desiredRecords } from '../plan.ts';
import { MANAGED_TYPES, type ManagedType, normalizeName } from '../provider.ts';
import {
  createClient,
  mapError,
  type Route53Options,
  type Route53Send,
  stripId,
  unescapeName,
  zoneIdByName,
} from './route53.ts';

const PROVIDER_NAME = 'route53';
/** SetIdentifiers of outlast's failover sets start so. */
const SET_PREFIX = 'outlast-';
const NEXT_SET = 'outlast-next';
const REFERENCE = /^outlast-([0-9a-f]{12})-([0-9a-f]{8})-[0-9a-z]+$/;
/** Three regions on three continents: Route 53's minimum, and the least each origin is probed. */
const REGIONS: HealthCheckRegion[] = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];
const MAX_FAILURE_THRESHOLD = 10;
/** Longest ResourcePath, FullyQualifiedDomainName and SearchString Route 53 takes. */
const MAX_FIELD = 255;
const RECOMMENDED_MAX_TTL = 60;
const SECONDS_PER_MONTH = 30 * 86_400;
const MAX_PAGES = 50;
/** Addresses Route 53 does not check (RFC 5735, 6598, 5156): loopback, private, documentation… */
const UNCHECKABLE = new BlockList();
for (const subnet of [
  ...'0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.0.0.0/24'.split(' '),
  ...'192.0.2.0/24 192.88.99.0/24 192.168.0.0/16 198.18.0.0/15 198.51.100.0/24 203.0.113.0/24'.split(' '),
  ...'224.0.0.0/3 ::/8 2001:db8::/32 fc00::/7 fe80::/10 ff00::/8'.split(' '),
]) {
  const [net, bits] = subnet.split('/') as [string, string];
  UNCHECKABLE.addSubnet(net, Number(bits), net.includes(':') ? 'ipv6' : 'ipv4');
}

type Tier = 'current' | 'any';

/** One health check outlast wants: an origin on a tier. */
interface Role {
  /** Hash of origin id and tier, in the CallerReference. */
  key: string;
  origin: NativeOrigin;
  tier: Tier;
  config: HealthCheckConfig;
}

/** What `apply` does, in this order. */
interface Payload {
  zoneId: string;
  creates: Array<{ role: string; reference: string; label: string; config: HealthCheckConfig }>;
  updates: UpdateHealthCheckCommandInput[];
  /** DELETEs, then CREATEs; a HealthCheckId `new:<role>` is the check this apply creates for it. */
  batch: Change[];
  /** Health checks to delete once the batch no longer uses them. */
  deletes: string[];
}

/** Native failover in one hosted zone. Makes no request until used. */
export function createRoute53Native(options: Route53Options): NativeFailover {
  const configuredId = options.hostedZoneId === undefined ? undefined : stripId(options.hostedZoneId);
  const zoneName = options.zone === undefined ? undefined : normalizeName(options.zone);
  if (configuredId === undefined && zoneName === undefined) {
    throw failure('invalid_config', 'expected hostedZoneId or zone');
  }
  const client = createClient(options);
  const secrets = [options.credentials?.secretAccessKey, options.credentials?.sessionToken];
  const log = componentLogger('dns', {
    provider: PROVIDER_NAME,
    zone: zoneName ?? configuredId,
    mode: 'native',
  });
  let zoneId: Promise<string> | undefined;
  const describe = () =>
    `route53 ${zoneName ?? `hosted zone ${configuredId}`} (health checks and failover records)`;

  const send: Route53Send = async (what, call) => {
    try {
      return await call();
    } catch (error) {
      throw nativeError(error, what, secrets);
    }
  };

  function zone(): Promise<string> {
    if (configuredId !== undefined) return Promise.resolve(configuredId);
    zoneId ??= zoneIdByName(client, zoneName!, send).catch((error: unknown) => {
      zoneId = undefined;
      throw error;
    });
    return zoneId;
  }

  /** outlast's health checks for `name`, from every page of the account's list. */
  async function ourChecks(name: string): Promise<HealthCheck[]> {
    const prefix = `outlast-${hash(name, 12)}-`;
    const checks: HealthCheck[] = [];
    let marker: string | undefined;
    for (let page = 0; page < MAX_PAGES; page++) {
      const out = await send('list health checks', () =>
        client.send(new ListHealthChecksCommand({ MaxItems: 1000, ...(marker ? { Marker: marker } : {}) })),
      );
      checks.push(...(out.HealthChecks ?? []).filter((check) => check.CallerReference?.startsWith(prefix)));
      marker = out.IsTruncated ? out.NextMarker : undefined;
      if (!marker) break;
    }
    return checks;
  }

  /** The sets at `name` and below it: sets are listed by name with the labels reversed. */
  async function setsUnder(hosted: string, name: string): Promise<ResourceRecordSet[]> {
    const sets: ResourceRecordSet[] = [];
    const reversed = reverseLabels(name);
    let from: { name?: string; type?: RRType; id?: string } | undefined = { name: `${name}.` };
    for (let page = 0; from && page < MAX_PAGES; page++) {
      const start: { name?: string; type?: RRType; id?: string } = from;
      const out = await send(`read ${name}`, () =>
        client.send(
          new ListResourceRecordSetsCommand({
            HostedZoneId: hosted,
            StartRecordName: start.name,
            StartRecordType: start.type,
            StartRecordIdentifier: start.id,
            MaxItems: 300,
          }),
        ),
      );
      const listed = out.ResourceRecordSets ?? [];
      // Everything from `name` to the last name whose reversed form starts the same is contiguous.
      const near = listed.filter((set) => reverseLabels(nameOf(set)).startsWith(reversed));
      sets.push(...near.filter((set) => nameOf(set) === name || nameOf(set).endsWith(`.${name}`)));
      from =
        near.length === listed.length && out.IsTruncated
          ? { name: out.NextRecordName, type: out.NextRecordType, id: out.NextRecordIdentifier }
          : undefined;
    }
    return sets;
  }

  function planOf(
    changes: NativeChange[],
    notes: string[],
    foreign: string[],
    perMonth: number,
    payload: Payload,
  ) {
    const plan: NativePlan = {
      provider: describe(),
      changes,
      notes,
      foreign,
      checkerRequestsPerMonth: perMonth,
      payload,
    };
    return plan;
  }

  return {
    describe,

    async plan(spec) {
      const roles = rolesOf(spec);
      const types = typesOf(spec);
      const hosted = await zone();
      const [checks, held] = await Promise.all([ourChecks(spec.name), setsUnder(hosted, spec.name)]);
      const beside = held.filter((set) => nameOf(set) === spec.name && !isManaged(set));
      if (types.includes('CNAME') && beside.length > 0) {
        throw invalidConfig(
          `a CNAME cannot sit beside the ${[...new Set(beside.map((set) => set.Type))].join(', ')} at ${spec.name}, and every origin's dns is a cname`,
          'move those records, give the origins addresses, or manage another name',
        );
      }
      const inUse = new Set(held.flatMap((set) => (set.HealthCheckId ? [set.HealthCheckId] : [])));
      const payload: Payload = { zoneId: hosted, creates: [], updates: [], batch: [], deletes: [] };
      const changes: NativeChange[] = [];
      const checkOf = new Map<string, string>();
      const byRole = new Map<string, HealthCheck[]>();
      for (const check of checks) {
        const role = REFERENCE.exec(check.CallerReference ?? '')?.[2] ?? '';
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
            changes.push({
              action: 'update',
              what: `health check ${kept.Id} (${label})`,
              detail: update.detail,
            });
          }
        } else {
          checkOf.set(role.key, `new:${role.key}`);
          const reference = `outlast-${hash(spec.name, 12)}-${role.key}-${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
          payload.creates.push({ role: role.key, reference, label, config: role.config });
          changes.push({ action: 'create', what: `health check ${label}`, detail: showCheck(role) });
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
      const wanted = failoverSets(spec, hosted, types, roles, (role) => checkOf.get(role.key)!);
      const records = planRecords(spec, held, wanted);
      payload.batch = records.batch;
      changes.push(...records.changes);
      const tiers = spec.currentMatch === undefined ? 1 : 2;
      const interval = requestInterval(spec);
      return planOf(
        changes,
        notesFor(spec, payload),
        records.foreign,
        Math.round((tiers * REGIONS.length * SECONDS_PER_MONTH) / interval),
        payload,
      );
    },

    async planDestroy(name) {
      const host = normalizeName(name);
      const hosted = await zone();
      const [checks, held] = await Promise.all([ourChecks(host), setsUnder(hosted, host)]);
      const sets = held.filter((set) => depthOf(host, nameOf(set)) !== undefined && isManaged(set));
      const ours = sets.filter(isOurs).sort((a, b) => depthOf(host, nameOf(a))! - depthOf(host, nameOf(b))!);
      const changes: NativeChange[] = [
        ...ours.map((set) => ({ action: 'delete' as const, what: showSetName(set), detail: showSet(set) })),
        ...checks.map((check) => ({
          action: 'delete' as const,
          what: `health check ${check.Id}`,
          detail: 'outlast native failover',
        })),
      ];
      const left = sets.filter((set) => !isOurs(set));
      const notes = left.map(
        (set) => `${showSetName(set)} (${showSet(set)}) is not outlast's: left as it is`,
      );
      const payload: Payload = {
        zoneId: hosted,
        creates: [],
        updates: [],
        batch: ours.map((set) => ({ Action: 'DELETE', ResourceRecordSet: set })),
        deletes: checks.map((check) => check.Id!),
      };
      return planOf(changes, notes, [], 0, payload);
    },

    async apply(plan, { force }) {
      if (plan.foreign.length > 0 && !force) {
        throw failure(
          'guard_refused',
          `the plan would replace what outlast did not make: ${plan.foreign.join('; ')}`,
          undefined,
          'check the record sets at the name; --force replaces them',
        );
      }
      const payload = plan.payload as Payload;
      const created = new Map<string, string>();
      try {
        for (const create of payload.creates) {
          const out = await send(`create the health check "${create.label}"`, () =>
            client.send(
              new CreateHealthCheckCommand({
                CallerReference: create.reference,
                HealthCheckConfig: create.config,
              }),
            ),
          );
          const id = out.HealthCheck?.Id;
          if (!id) throw failure('internal', 'CreateHealthCheck answered without an Id');
          created.set(create.role, id);
          await send(`tag health check ${id}`, () =>
            client.send(
              new ChangeTagsForResourceCommand({
                ResourceType: 'healthcheck',
                ResourceId: id,
                AddTags: [{ Key: 'Name', Value: create.label }],
              }),
            ),
          );
        }
        for (const update of payload.updates) {
          await send(`update health check ${update.HealthCheckId}`, () =>
            client.send(new UpdateHealthCheckCommand(update)),
          );
        }
        if (payload.batch.length > 0) {
          log.info({ changes: payload.batch.map(showChange) }, 'native failover batch');
          await send('change the failover record sets', () =>
            client.send(
              new ChangeResourceRecordSetsCommand({
                HostedZoneId: payload.zoneId,
                ChangeBatch: {
                  Comment: 'outlast native failover',
                  Changes: payload.batch.map((change) => withCheckIds(change, created)),
                },
              }),
            ),
          );
        }
      } catch (error) {
        throw await undone(error, [...created.values()]);
      }
      for (const id of payload.deletes) {
        await send(`delete health check ${id}`, () =>
          client.send(new DeleteHealthCheckCommand({ HealthCheckId: id })),
        );
      }
    },

    async close() {
      client.destroy();
    },
  };

  /** `error`, after deleting the checks this apply created, saying whether that worked. */
  async function undone(error: unknown, ids: string[]): Promise<unknown> {
    if (ids.length === 0) return error;
    const left: string[] = [];
    for (const id of ids) {
      await send(`delete health check ${id}`, () =>
        client.send(new DeleteHealthCheckCommand({ HealthCheckId: id })),
      ).catch(() => left.push(id));
    }
    if (!isOutlastError(error)) return error;
    const said =
      left.length === 0
        ? `the ${ids.length} health check(s) this apply created were deleted again`
        : `health checks ${left.join(', ')} could not be deleted again (outlast dns apply or destroy removes them)`;
    return new OutlastError(error.code, `${error.message.replace(/^route53: /, '')}; ${said}`, {
      source: PROVIDER_NAME,
      cause: error,
      ...(error.hint ? { hint: error.hint } : {}),
    });
  }
}

/** The checks of `spec`: every origin on the current release, then every origin on any release. */
function rolesOf(spec: NativeSpec): Role[] {
  const tiers: Array<[Tier, string]> = [
    ...(spec.currentMatch === undefined ? [] : [['current', spec.currentMatch] as [Tier, string]]),
    ['any', spec.anyMatch],
  ];
  const interval = requestInterval(spec);
  const threshold = Math.min(MAX_FAILURE_THRESHOLD, Math.max(1, spec.health.fall));
  return tiers.flatMap(([tier, match]) =>
    spec.origins.map((origin) => {
      const url = new URL(origin.checkUrl);
      const https = url.protocol === 'https:';
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const family = isIP(host);
      if (family !== 0 && UNCHECKABLE.check(host, family === 4 ? 'ipv4' : 'ipv6')) {
        throw invalidConfig(
          `${origin.id}'s url has the address ${host}, which Route 53 does not check (loopback, private or reserved)`,
        );
      }
      const fqdn = family === 0 ? host : origin.hostHeader?.replace(/:\d+$/, '');
      const path = `${url.pathname}${url.search}`;
      for (const [field, value] of [
        ['ResourcePath', path],
        ['FullyQualifiedDomainName', fqdn],
        ['SearchString', match],
      ]) {
        if (value !== undefined && value.length > MAX_FIELD) {
          throw invalidConfig(
            `${origin.id}: the check's ${field} would be ${value.length} characters, more than Route 53's ${MAX_FIELD}`,
          );
        }
      }
      const config: HealthCheckConfig = {
        Type: https ? 'HTTPS_STR_MATCH' : 'HTTP_STR_MATCH',
        ...(family === 0 ? {} : { IPAddress: host }),
        Port: url.port === '' ? (https ? 443 : 80) : Number(url.port),
        ResourcePath: path,
        ...(fqdn === undefined ? {} : { FullyQualifiedDomainName: fqdn }),
        SearchString: match,
        RequestInterval: interval,
        FailureThreshold: threshold,
        ...(https && fqdn !== undefined ? { EnableSNI: true } : {}),
        Regions: REGIONS,
      };
      return { key: hash(`${origin.id}|${tier}`, 8), origin, tier, config };
    }),
  );
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

/** Route 53 checks every 10 or 30 s: the nearer one. */
function requestInterval(spec: NativeSpec): 10 | 30 {
  return spec.health.intervalMs <= 20_000 ? 10 : 30;
}

/** The failover chain of every type (see the module comment). */
function failoverSets(
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
function planRecords(spec: NativeSpec, held: ResourceRecordSet[], wanted: ResourceRecordSet[]) {
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

/** Why a held check cannot become `want` by UpdateHealthCheck (Route 53 keeps these for life). */
function mustReplace(have: HealthCheckConfig | undefined, want: HealthCheckConfig): boolean {
  return (
    have === undefined ||
    have.Type !== want.Type ||
    (have.RequestInterval ?? 30) !== want.RequestInterval ||
    have.MeasureLatency === true ||
    // IPAddress can be changed but not removed.
    (have.IPAddress !== undefined && want.IPAddress === undefined)
  );
}

/** The UpdateHealthCheck that makes `held` what `want` says, or undefined when it already is. */
function updateOf(held: HealthCheck, want: HealthCheckConfig) {
  const have = held.HealthCheckConfig!;
  const input: UpdateHealthCheckCommandInput = {
    HealthCheckId: held.Id,
    HealthCheckVersion: held.HealthCheckVersion,
  };
  const said: string[] = [];
  for (const key of [
    'IPAddress',
    'Port',
    'ResourcePath',
    'FullyQualifiedDomainName',
    'SearchString',
    'FailureThreshold',
    'EnableSNI',
  ] as const) {
    if (want[key] !== undefined && want[key] !== have[key]) {
      Object.assign(input, { [key]: want[key] });
      said.push(`${key} ${JSON.stringify(have[key] ?? null)} → ${JSON.stringify(want[key])}`);
    }
  }
  if (want.FullyQualifiedDomainName === undefined && have.FullyQualifiedDomainName !== undefined) {
    input.ResetElements = ['FullyQualifiedDomainName'];
    said.push(`FullyQualifiedDomainName ${have.FullyQualifiedDomainName} → none`);
  }
  for (const key of ['Inverted', 'Disabled'] as const) {
    if (have[key] === true) {
      input[key] = false;
      said.push(`${key} true → false`);
    }
  }
  if ([...(have.Regions ?? [])].sort().join() !== [...want.Regions!].sort().join()) {
    input.Regions = want.Regions;
    said.push(`Regions ${(have.Regions ?? ['all']).join(',')} → ${want.Regions!.join(',')}`);
  }
  return said.length === 0 ? undefined : { input, detail: said.join('; ') };
}

/** The change with the ids of the checks this apply created in place of `new:<role>`. */
function withCheckIds(change: Change, created: Map<string, string>): Change {
  const id = change.ResourceRecordSet?.HealthCheckId;
  if (!id?.startsWith('new:')) return change;
  return {
    ...change,
    ResourceRecordSet: { ...change.ResourceRecordSet!, HealthCheckId: created.get(id.slice(4)) },
  };
}

/** What Route 53 does instead of what the config asks, and what it costs. */
function notesFor(spec: NativeSpec, payload: Payload): string[] {
  const interval = requestInterval(spec);
  const threshold = Math.min(MAX_FAILURE_THRESHOLD, Math.max(1, spec.health.fall));
  const notes: string[] = [];
  if (spec.health.intervalMs !== interval * 1000) {
    notes.push(
      `checks every ${interval} s (Route 53 takes 10 or 30; health.interval is ${spec.health.intervalMs / 1000} s)`,
    );
  }
  notes.push(
    `FailureThreshold ${threshold}: an origin goes down after ${threshold} failed checks in a row and up after ${threshold} passing ones` +
      (spec.health.fall > MAX_FAILURE_THRESHOLD
        ? ` (health.fall ${spec.health.fall} is more than Route 53's 10)`
        : '') +
      (spec.health.rise !== threshold ? ` (health.rise ${spec.health.rise} cannot be set apart)` : ''),
    `checked from ${REGIONS.join(', ')}; an origin is healthy while more than 18 % of Route 53's checkers find it so`,
    `Route 53's own timeouts: 4 s to connect, then 2 s for the answer (health.timeout ${spec.health.timeoutMs / 1000} s cannot be set)`,
    `each origin gets ${spec.currentMatch === undefined ? 'one check (any release)' : 'two checks (the current release, and any release)'} from each checker region; Route 53 may run several checkers per region`,
  );
  if (spec.currentMatch === undefined) notes.push('no origin names a release yet: any release passes');
  if (spec.health.expectStatus.some((status) => status !== 200)) {
    notes.push(
      `any 2xx or 3xx status with the match in its first 5,120 bytes passes (health.expectStatus is not sent)`,
    );
  }
  if (spec.policy === 'all-healthy')
    notes.push(
      'policy all-healthy cannot be expressed with failover sets: the first healthy origin is answered',
    );
  if (spec.failback === 'manual')
    notes.push('failback is automatic: Route 53 returns to the first origin once its check passes');
  if (spec.ttl > RECOMMENDED_MAX_TTL)
    notes.push(`TTL ${spec.ttl} s: Route 53 recommends ${RECOMMENDED_MAX_TTL} s or less with health checks`);
  if (payload.creates.length > 0) {
    notes.push(
      'a new health check counts as healthy until it has results: right after it is created its origin may be answered whatever its health',
    );
  }
  for (const origin of spec.origins) {
    const url = new URL(origin.checkUrl);
    if (origin.hostHeader && isIP(url.hostname.replace(/^\[|\]$/g, '')) === 0) {
      notes.push(
        `${origin.id}: Route 53 sends Host ${url.hostname}, not ${origin.hostHeader} (a Host of our choosing needs an IP address in the url)`,
      );
    }
    if (url.protocol === 'https:') notes.push(`${origin.id}: Route 53 does not verify the certificate`);
  }
  return notes;
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

function nameOf(set: ResourceRecordSet): string {
  return normalizeName(unescapeName(set.Name ?? ''));
}

function reverseLabels(name: string): string {
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

function showChange(change: Change): string {
  return `${change.Action} ${change.ResourceRecordSet ? showSetName(change.ResourceRecordSet) : ''}`;
}

function showCheck(role: Role): string {
  const { config } = role;
  const where = config.IPAddress ?? config.FullyQualifiedDomainName;
  const host =
    config.IPAddress && config.FullyQualifiedDomainName ? ` (Host ${config.FullyQualifiedDomainName})` : '';
  return `${config.Type} ${where}:${config.Port}${config.ResourcePath}${host} for ${config.SearchString}, every ${config.RequestInterval} s, ${config.FailureThreshold} in a row, from ${config.Regions!.length} regions`;
}

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

/** Health-check errors by name; the rest as the route53 provider maps them. */
const CHECK_ERRORS = new Map<string, ErrorCode>([
  ['NoSuchHealthCheck', 'not_found'],
  ['HealthCheckVersionMismatch', 'conflict'],
  ['HealthCheckAlreadyExists', 'conflict'],
  ['HealthCheckInUse', 'conflict'],
]);

function nativeError(error: unknown, what: string, secrets: Array<string | undefined>): OutlastError {
  const name = (error as { name?: string } | undefined)?.name ?? '';
  const message = (error as { message?: string } | undefined)?.message ?? '';
  if (name === 'TooManyHealthChecks') {
    return failure(
      'invalid_config',
      `${what}: the AWS account has reached its quota of active health checks (TooManyHealthChecks)`,
      error,
      'delete health checks it no longer needs, or ask for more in Service Quotas (Amazon Route 53, health checks); or use failover: watcher',
    );
  }
  const code = CHECK_ERRORS.get(name);
  const said = secrets.reduce<string>(
    (text, secret) => (secret ? text.split(secret).join('***') : text),
    message,
  );
  if (code) return failure(code, `${what}: ${name}: ${said}`, error);
  const mapped = mapError(error, what, secrets);
  if (mapped.code !== 'permission_denied') return mapped;
  return failure(
    'permission_denied',
    mapped.message.replace(/^route53: /, ''),
    error,
    'failover: native needs route53:ListHealthChecks, CreateHealthCheck, UpdateHealthCheck, DeleteHealthCheck, ChangeTagsForResource, ListResourceRecordSets and ChangeResourceRecordSets',
  );
}

function invalidConfig(message: string, hint = 'change the origin, or use failover: watcher'): OutlastError {
  return failure('invalid_config', message, undefined, hint);
}

function failure(code: ErrorCode, message: string, cause?: unknown, hint?: string): OutlastError {
  return new OutlastError(code, message, { source: PROVIDER_NAME, cause, ...(hint ? { hint } : {}) });
}
