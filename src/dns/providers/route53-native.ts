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
 *
 * This module is the shell (reads, the SDK calls, apply order, cleanup); what to change is decided
 * by the pure planner in `route53-native-plan.ts`, the checks and notes in `route53-native-checks.ts`.
 */
import { randomBytes } from 'node:crypto';
import {
  ChangeResourceRecordSetsCommand,
  ChangeTagsForResourceCommand,
  CreateHealthCheckCommand,
  DeleteHealthCheckCommand,
  GetHealthCheckStatusCommand,
  type HealthCheck,
  ListHealthChecksCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  type RRType,
  UpdateHealthCheckCommand,
} from '@aws-sdk/client-route-53';
import { type ErrorCode, isOutlastError, OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { refuseForeign } from '../native/guard.ts';
import type { NativeFailover, NativePlan, NativeSpec, NativeView } from '../native/types.ts';
import { normalizeName } from '../provider.ts';
import { createClient, mapError, type Route53Options, type Route53Send, zoneIdByName } from './route53.ts';
import { stripId } from './route53-names.ts';
import { failure, PROVIDER_NAME, referencePrefix, roleKeyOf, verdictOf } from './route53-native-checks.ts';
import {
  type Held,
  intentOf,
  nameOf,
  type Payload,
  type Planned,
  planFailover,
  planRemoval,
  reverseLabels,
  showChange,
  withCheckIds,
} from './route53-native-plan.ts';

const MAX_PAGES = 50;

/** A new check's reference must be unique for ever: the time and some randomness. */
function nonce(): string {
  return `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
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
    const prefix = referencePrefix(name);
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

  /** What the hosted zone and the account hold for `name`. */
  async function read(name: string): Promise<Held> {
    const hosted = await zone();
    const [checks, sets] = await Promise.all([ourChecks(name), setsUnder(hosted, name)]);
    return { zoneId: hosted, checks, sets };
  }

  function planOf(planned: Planned): NativePlan {
    return {
      provider: describe(),
      changes: planned.changes,
      notes: planned.notes,
      foreign: planned.foreign,
      checkerRequestsPerMonth: planned.checkerRequestsPerMonth,
      payload: planned.payload,
    };
  }

  return {
    describe,

    async plan(spec: NativeSpec) {
      // Before any request: what Route 53 cannot do is invalid_config, whatever the zone holds.
      const intent = intentOf(spec);
      return planOf(planFailover(spec, intent, await read(spec.name), nonce));
    },

    async planDestroy(name) {
      const host = normalizeName(name);
      return planOf(planRemoval(host, await read(host)));
    },

    async apply(plan, { force }) {
      refuseForeign(plan, force, PROVIDER_NAME, 'check the record sets at the name; --force replaces them');
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

    async view(spec: NativeSpec): Promise<NativeView> {
      // The checks of the first tier (the current release's; the any-release tier when no release
      // is known), found as `plan` finds them: by role, preferring the one the records use.
      const { roles } = intentOf(spec);
      const first = roles.filter((role) => role.tier === roles[0]?.tier);
      const held = await read(spec.name);
      const inUse = new Set(held.sets.flatMap((set) => (set.HealthCheckId ? [set.HealthCheckId] : [])));
      const origins: NativeView['origins'] = {};
      await Promise.all(
        first.map(async (role) => {
          const check = held.checks
            .filter((item) => roleKeyOf(item) === role.key)
            .sort((a, b) => Number(inUse.has(b.Id!)) - Number(inUse.has(a.Id!)))[0];
          if (!check?.Id) return;
          const out = await send(`read the status of health check ${check.Id}`, () =>
            client.send(new GetHealthCheckStatusCommand({ HealthCheckId: check.Id })),
          );
          const verdict = verdictOf(out.HealthCheckObservations ?? []);
          if (verdict) origins[role.origin.id] = verdict;
        }),
      );
      return { provider: describe(), at: Date.now(), origins };
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
    'failover: native needs route53:ListHealthChecks, GetHealthCheckStatus, CreateHealthCheck, UpdateHealthCheck, DeleteHealthCheck, ChangeTagsForResource, ListResourceRecordSets and ChangeResourceRecordSets',
  );
}
