/**
 * `route53`: Amazon Route 53 through the AWS SDK (`@aws-sdk/client-route-53`).
 *
 * read  = ListResourceRecordSets from the name, page after page while the sets are at that name.
 * apply = ONE ChangeResourceRecordSets batch: DELETE the exact `before` set and CREATE the `after`
 *         set of every change, all DELETEs first (A → CNAME never has both). Route 53 runs a batch
 *         entirely or not at all and a DELETE must match the stored set exactly, so a set changed
 *         since it was read fails the batch with InvalidChangeBatch: compare-and-set by the server.
 *         CREATE, not UPSERT, so a set created behind our back fails it too.
 *
 * A refused batch is re-read (src/dns/checked.ts) before it is called a `conflict`: when every set is
 * already `after` (the same apply twice, another watcher's same move) there is nothing to do; when
 * the sets are still `before` in another stored form (a CNAME target with its dot, a long IPv6),
 * the batch is sent once more in that form, which the re-read has just recorded.
 *
 * Read, never written: alias sets, as one value `alias:<target>` (TTL 0: an alias has none), and
 * sets with a routing policy (SetIdentifier), as `policy:<SetIdentifier>` per set. A change that
 * would touch them is `invalid_argument` before any request. Writing aliases is not supported.
 *
 * `waitForSync` polls GetChange (1 s, doubling to 10 s, 2 min at most) until the change is INSYNC;
 * past the bound it warns and returns: the change is committed and will be served.
 */
import {
  type Change,
  ChangeResourceRecordSetsCommand,
  GetChangeCommand,
  GetHostedZoneCommand,
  ListHostedZonesByNameCommand,
  ListResourceRecordSetsCommand,
  type ResourceRecordSet,
  Route53Client,
  type Route53ClientConfig,
  type RRType,
} from '@aws-sdk/client-route-53';
// Comes with the AWS SDK (its default credential chain uses it); declared in package.json.
import { fromIni } from '@aws-sdk/credential-provider-ini';
import { type ErrorCode, isOutlastError, OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { checkedDnsProvider } from '../checked.ts';
import { parseRetryAfter } from '../host-http.ts';
import { canonicalValues, sameSet } from '../plan.ts';
import type { DnsCallOptions, DnsChange, DnsProvider, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES, normalizeName } from '../provider.ts';
import { stripId, unescapeName } from './route53-names.ts';
import { ROUTE53_CAPABILITIES } from './route53-options.ts';

export interface Route53Options {
  /** The hosted zone's id (`Z0123456789ABC` or `/hostedzone/Z0123456789ABC`). */
  hostedZoneId?: string;
  /** The zone's name; without `hostedZoneId` the zone is found by it (a public zone first). */
  zone?: string;
  /** Signing region (default `us-east-1`; Route 53 is global, other partitions differ). */
  region?: string;
  /** Another endpoint, e.g. a local stand-in. */
  endpoint?: string;
  /** An AWS shared-config profile instead of the default credential chain. */
  profile?: string;
  /** Static credentials (tests); otherwise the profile or the default chain. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** After a change, wait until Route 53 reports it INSYNC. */
  waitForSync?: boolean;
  /** Longest wait for INSYNC (default 120 s). */
  waitForSyncTimeoutMs?: number;
  /** First GetChange poll after this long, then doubling up to 10 s (default 1 s). */
  syncPollMs?: number;
  /** Per request, connect to last byte (default 10 s). */
  timeoutMs?: number;
}

const PROVIDER_NAME = 'route53';
const DEFAULT_TIMEOUT_MS = 10_000;
const MAX_SYNC_POLL_MS = 10_000;
/** Sets per ListResourceRecordSets page (Route 53 allows 300); a name has a handful, or routed ones. */
const PAGE_SIZE = 100;
const MAX_PAGES = 50;
/** Values that stand for sets outlast reads but does not manage. */
const FOREIGN_VALUE = /^(alias|policy):/;
/** InvalidChangeBatch messages that mean "the sets are not what the batch expected". */
const STALE_MESSAGE =
  /but it was not found|values provided do not match|but it already exists|conflicts with other records|conflicting RRSet|other RRSets exist/i;

const capabilities = ROUTE53_CAPABILITIES;

/** What an AWS SDK error carries, as far as it is used here (network errors carry only `code`). */
interface AwsErrorShape {
  name?: string;
  message?: string;
  code?: string;
  $fault?: string;
  $metadata?: { httpStatusCode?: number };
  $response?: { headers?: Record<string, string | undefined> };
  /** InvalidChangeBatch in the `<ErrorResponse>` form. */
  messages?: string[];
  /** InvalidChangeBatch in the `<InvalidChangeBatch><Messages>` form, which the SDK cannot name. */
  Messages?: { Message?: string | string[] };
}

interface ZoneInfo {
  id: string;
  name: string;
}

/** A provider for one Route 53 hosted zone. Makes no request until used. */
export function createRoute53Provider(options: Route53Options): DnsProvider {
  const configuredId = options.hostedZoneId?.replace(/^\/hostedzone\//, '');
  const configuredZone = options.zone === undefined ? undefined : normalizeName(options.zone);
  if (configuredId === undefined && configuredZone === undefined) {
    throw failure('invalid_config', 'expected hostedZoneId or zone');
  }
  const secrets = [options.credentials?.secretAccessKey, options.credentials?.sessionToken];
  const client = createClient(options);
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone: configuredZone ?? configuredId });
  /** The stored form of the plain sets last read, so that a DELETE repeats it exactly. */
  const stored = new Map<string, ResourceRecordSet>();
  let zoneInfo: Promise<ZoneInfo> | undefined;
  let resolved: ZoneInfo | undefined;

  /** One SDK call; every error becomes an OutlastError naming `what`. */
  async function send<T>(what: string, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    try {
      return await call();
    } catch (error) {
      if (signal?.aborted) {
        throw failure('cancelled', `${what}: aborted`, error);
      }
      throw mapError(error, what, secrets);
    }
  }

  /** The hosted zone, looked up once (again after a failure). */
  function zone(): Promise<ZoneInfo> {
    zoneInfo ??= findZone().catch((error: unknown) => {
      zoneInfo = undefined;
      throw error;
    });
    return zoneInfo;
  }

  async function findZone(): Promise<ZoneInfo> {
    if (configuredId !== undefined) {
      let name = configuredZone;
      if (name === undefined) {
        const out = await send(`hosted zone ${configuredId}`, () =>
          client.send(new GetHostedZoneCommand({ Id: configuredId })),
        );
        name = normalizeName(unescapeName(out.HostedZone?.Name ?? ''));
      }
      resolved = { id: configuredId, name };
      return resolved;
    }
    const name = configuredZone!;
    resolved = { id: await zoneIdByName(client, name, send), name };
    return resolved;
  }

  /** Every set at `host` (any type, any routing policy): sets are listed by name, then type. */
  async function listAt(
    host: string,
    hosted: ZoneInfo,
    { signal }: DnsCallOptions,
  ): Promise<ResourceRecordSet[]> {
    const sets: ResourceRecordSet[] = [];
    type Start = { name?: string; type?: string; id?: string };
    let from: Start | undefined = { name: `${host}.` };
    for (let page = 0; from && page < MAX_PAGES; page++) {
      const start: Start = from;
      const out = await send(
        `read ${host}`,
        () =>
          client.send(
            new ListResourceRecordSetsCommand({
              HostedZoneId: hosted.id,
              StartRecordName: start.name,
              StartRecordType: start.type as RRType | undefined,
              StartRecordIdentifier: start.id,
              MaxItems: PAGE_SIZE,
            }),
            { abortSignal: signal },
          ),
        signal,
      );
      const here = (out.ResourceRecordSets ?? []).filter((set) => atName(set.Name, host));
      sets.push(...here);
      const more = here.length === (out.ResourceRecordSets ?? []).length && out.IsTruncated;
      from =
        more && atName(out.NextRecordName, host)
          ? { name: out.NextRecordName, type: out.NextRecordType, id: out.NextRecordIdentifier }
          : undefined;
    }
    return sets;
  }

  async function readSets(host: string, hosted: ZoneInfo, options: DnsCallOptions): Promise<RecordSet[]> {
    const all = await listAt(host, hosted, options);
    const sets: RecordSet[] = [];
    for (const type of MANAGED_TYPES) {
      stored.delete(keyOf(host, type));
      const ofType = all.filter((set) => set.Type === type);
      const routed = ofType.filter((set) => set.SetIdentifier !== undefined);
      const set = ofType[0];
      if (!set) continue;
      if (routed.length > 0) {
        const values = routed.map((item) => `policy:${item.SetIdentifier}`).sort();
        sets.push({ name: host, type, ttl: routed[0]!.TTL ?? 0, values });
      } else if (set.AliasTarget) {
        const values = [`alias:${normalizeName(unescapeName(set.AliasTarget.DNSName ?? ''))}`];
        sets.push({ name: host, type, ttl: 0, values });
      } else {
        stored.set(keyOf(host, type), set);
        sets.push(fromRoute53(host, type, set));
      }
    }
    return sets;
  }

  /** The exact set to DELETE: the stored form when it is still `before`, else `before` as written. */
  function deletion(before: RecordSet): ResourceRecordSet {
    const held = stored.get(keyOf(before.name, before.type));
    if (held && sameSet(fromRoute53(before.name, before.type, held), before)) {
      return { Name: held.Name, Type: held.Type, TTL: held.TTL, ResourceRecords: held.ResourceRecords };
    }
    return toRoute53(before);
  }

  /** One ChangeResourceRecordSets; the change's id. */
  async function sendBatch(
    changes: DnsChange[],
    hosted: ZoneInfo,
    what: string,
    { signal }: DnsCallOptions,
  ): Promise<string | undefined> {
    // All DELETEs first: Route 53 applies a batch in order, and a CNAME must never meet the A it
    // replaces, not even inside the batch.
    const batch: Change[] = [
      ...changes.flatMap((item) =>
        item.before ? [{ Action: 'DELETE' as const, ResourceRecordSet: deletion(item.before) }] : [],
      ),
      ...changes.flatMap((item) =>
        item.after ? [{ Action: 'CREATE' as const, ResourceRecordSet: toRoute53(item.after) }] : [],
      ),
    ];
    log.debug(
      { changes: batch.map((item) => `${item.Action} ${item.ResourceRecordSet?.Name}`) },
      'dns batch',
    );
    const out = await send(
      what,
      () =>
        client.send(
          new ChangeResourceRecordSetsCommand({
            HostedZoneId: hosted.id,
            ChangeBatch: { Comment: 'outlast', Changes: batch },
          }),
          { abortSignal: signal },
        ),
      signal,
    );
    return out.ChangeInfo?.Id;
  }

  async function waitForSync(changeId: string): Promise<void> {
    const deadline = Date.now() + (options.waitForSyncTimeoutMs ?? 120_000);
    for (
      let delay = options.syncPollMs ?? 1000;
      Date.now() < deadline;
      delay = Math.min(delay * 2, MAX_SYNC_POLL_MS)
    ) {
      await new Promise((done) => setTimeout(done, Math.min(delay, Math.max(0, deadline - Date.now()))));
      try {
        const out = await send(`wait for ${changeId}`, () =>
          client.send(new GetChangeCommand({ Id: changeId })),
        );
        if (out.ChangeInfo?.Status === 'INSYNC') return;
      } catch (error) {
        if (isOutlastError(error, 'rate_limited')) continue;
        // The change is committed: not knowing when it is served is worth a warning, not a failure.
        log.warn(
          { change: changeId, error: (error as Error).message },
          'cannot tell whether the change is in sync',
        );
        return;
      }
    }
    log.warn({ change: changeId }, 'change not INSYNC in time; Route 53 will serve it shortly');
  }

  return checkedDnsProvider({
    name: PROVIDER_NAME,
    capabilities,
    settleConflicts: true,

    describe() {
      const { name, id } = resolved ?? { name: configuredZone, id: configuredId };
      return name && id ? `route53 ${name} (${id})` : `route53 ${name ?? `hosted zone ${id}`}`;
    },

    zone: async () => (await zone()).name,

    async fetch(host, call) {
      return readSets(host, await zone(), call);
    },

    foreign(set) {
      const marker = set.values.find((value) => FOREIGN_VALUE.test(value));
      if (marker === undefined) return undefined;
      const what = marker.startsWith('alias:')
        ? `an alias record (${marker.slice('alias:'.length)})`
        : `record sets with a routing policy (${set.values.join(', ')})`;
      return { what, hint: 'delete it in Route 53, or let outlast manage another name' };
    },

    async write(changes, _held, call) {
      const hosted = await zone();
      const what = `apply ${[...new Set(changes.map((change) => change.name))].join(', ')}`;
      const changeId = await sendBatch(changes, hosted, what, call);
      if (options.waitForSync && changeId) await waitForSync(changeId);
    },

    async close() {
      client.destroy();
    },
  });
}

/** The one hosted zone named `name` that these credentials see (a public one before a private one). */
export async function zoneIdByName(client: Route53Client, name: string, send: Route53Send): Promise<string> {
  // Zones are listed in name order from `name`, so those named so come first.
  const out = await send(`find hosted zone ${name}`, () =>
    client.send(new ListHostedZonesByNameCommand({ DNSName: name, MaxItems: 100 })),
  );
  const found = (out.HostedZones ?? []).filter(
    (item) => normalizeName(unescapeName(item.Name ?? '')) === name,
  );
  // A private zone answers only inside its VPCs: it is taken only when it is the one zone there is.
  const publicZones = found.filter((item) => !item.Config?.PrivateZone);
  const candidates = (publicZones.length > 0 ? publicZones : found).map((item) => stripId(item.Id ?? ''));
  if (candidates.length === 0) {
    throw failure('not_found', `no hosted zone named ${name} is visible to these credentials`, undefined, {
      hint: 'check the zone name, or set hostedZoneId',
    });
  }
  if (candidates.length > 1) {
    throw failure(
      'invalid_config',
      `several hosted zones are named ${name} (${candidates.join(', ')})`,
      undefined,
      {
        hint: 'set hostedZoneId to the one to manage',
      },
    );
  }
  return candidates[0]!;
}

/** One SDK call, its errors as OutlastErrors naming `what`. */
export type Route53Send = <T>(what: string, call: () => Promise<T>) => Promise<T>;

export function createClient(options: Route53Options): Route53Client {
  // The SDK's only switch for its Node < 22 notice, which a CLI user can do nothing about.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const config: Route53ClientConfig = {
    region: options.region ?? 'us-east-1',
    // One attempt per call: the DNS writer retries with backoff and counts every attempt.
    maxAttempts: 1,
    requestHandler: { connectionTimeout: timeoutMs, requestTimeout: timeoutMs, throwOnRequestTimeout: true },
    // The SDK would print to the console; outlast reports errors itself.
    logger: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
    ...(options.endpoint === undefined ? {} : { endpoint: options.endpoint }),
  };
  if (options.credentials) config.credentials = { ...options.credentials };
  // Only the profile, as asked: the default chain would let environment keys win.
  else if (options.profile) config.credentials = fromIni({ profile: options.profile });
  return new Route53Client(config);
}

function toRoute53(set: RecordSet): ResourceRecordSet {
  const records = set.values.map((value) => ({ Value: value }));
  return { Name: `${set.name}.`, Type: set.type, TTL: set.ttl, ResourceRecords: records };
}

function fromRoute53(host: string, type: ManagedType, set: ResourceRecordSet): RecordSet {
  const values = (set.ResourceRecords ?? []).map((record) => record.Value ?? '');
  return {
    name: host,
    type,
    ttl: set.TTL ?? 0,
    values: canonicalValues({ name: host, type, ttl: 0, values }),
  };
}

function atName(name: string | undefined, host: string): boolean {
  return normalizeName(unescapeName(name ?? '')) === host;
}

function keyOf(name: string, type: ManagedType): string {
  return `${name}|${type}`;
}

/** AWS error names onto outlast's codes (InvalidChangeBatch is decided by its messages). */
const CODE_BY_NAME = new Map<string, ErrorCode>(
  Object.entries({
    not_found: 'NoSuchHostedZone HostedZoneNotFound NoSuchChange',
    rate_limited: 'Throttling ThrottlingException PriorRequestNotComplete TooManyRequestsException',
    permission_denied:
      'AccessDenied AccessDeniedException NotAuthorizedException InvalidClientTokenId SignatureDoesNotMatch ' +
      'UnrecognizedClientException IncompleteSignature InvalidSignatureException MissingAuthenticationToken ' +
      'ExpiredToken ExpiredTokenException RequestExpired CredentialsProviderError',
    invalid_argument: 'InvalidInput InvalidArgument InvalidDomainName',
    unavailable: 'InternalFailure ServiceUnavailable',
    timeout: 'TimeoutError RequestTimeout',
  }).flatMap(([code, names]) => names.split(' ').map((name) => [name, code as ErrorCode] as const)),
);
/** Node's network errors: no answer at all. */
const NETWORK_UNAVAILABLE = /^(ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EPIPE)$/;

/** What the SDK threw, as an OutlastError naming `what`; secrets are cut out of every message. */
export function mapError(error: unknown, what: string, secrets: Array<string | undefined>): OutlastError {
  if (isOutlastError(error)) return error;
  const shape = (error ?? {}) as AwsErrorShape;
  const { name = '', $metadata, $response } = shape;
  const status = $metadata?.httpStatusCode;
  const scrub = (text: string) =>
    secrets.reduce<string>((out, secret) => (secret ? out.split(secret).join('***') : out), text);
  const said = scrub(shape.message ?? String(error));
  // InvalidChangeBatch comes as <ErrorResponse> (named) or as <InvalidChangeBatch><Messages> (unnamed).
  const listed =
    name === 'InvalidChangeBatch'
      ? shape.messages?.length
        ? shape.messages
        : [said]
      : shape.Messages?.Message;
  if (listed !== undefined) {
    const messages = [listed].flat();
    const code = messages.some((message) => STALE_MESSAGE.test(message)) ? 'conflict' : 'invalid_argument';
    return failure(code, `${what}: Route 53 refused the change batch: ${scrub(messages.join('; '))}`, error);
  }
  let code = CODE_BY_NAME.get(name);
  if (code === undefined && NETWORK_UNAVAILABLE.test(shape.code ?? '')) code = 'unavailable';
  if (code === undefined && status === 400 && /rate exceeded/i.test(said)) code = 'rate_limited';
  if (code === undefined && (status === 401 || status === 403)) code = 'permission_denied';
  if (code === undefined && ((status ?? 0) >= 500 || shape.$fault === 'server')) code = 'unavailable';
  const label = name || status;
  if (code === 'rate_limited') {
    const retryAfterMs = parseRetryAfter($response?.headers?.['retry-after']);
    return new OutlastError(code, `${what}: Route 53 asks to slow down (${label}): ${said}`, {
      source: PROVIDER_NAME,
      cause: error,
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
  if (code === 'permission_denied') {
    return failure(code, `${what}: the AWS credentials were refused (${label}): ${said}`, error, {
      hint: 'needs route53:ListResourceRecordSets, ChangeResourceRecordSets, GetChange and GetHostedZone or ListHostedZonesByName',
    });
  }
  if (code === 'unavailable' && shape.code)
    return failure(code, `${what}: cannot reach Route 53 (${shape.code})`, error);
  return failure(code ?? 'internal', `${what}: ${name ? `${name}: ` : ''}${said}`, error);
}

function failure(
  code: ErrorCode,
  message: string,
  cause?: unknown,
  extra: { hint?: string } = {},
): OutlastError {
  return new OutlastError(code, message, { source: PROVIDER_NAME, cause, ...extra });
}
