/**
 * Native failover on DNS Made Easy: the A record at the name carries DNS Made Easy's own monitor
 * and failover (`GET`/`PUT monitor/{recordId}`), so DNS Made Easy checks the origins from its own
 * network and answers with a healthy one, with every watcher stopped.
 *
 * - `ip1`…`ip5` are the origins' IPv4 addresses in `failover.order` (the first address of each);
 *   the record's value is `ip1`. DNS Made Easy fails over A records only, one monitor per record:
 *   a cname origin, an origin without an IPv4 address, fewer than two or more than five origins,
 *   `all-healthy`, or origins whose beacon URLs differ in scheme, port, host or path are
 *   `invalid_config` before any request.
 * - The check: `protocolId` HTTP or HTTPS by the URL, its `port`, `httpFqdn` (the origin's
 *   `hostHeader` or the URL's host), `httpFile` (the URL's path + `health.path`: the beacon) and
 *   `httpQueryString`, the current release's match cut to the 16 characters DNS Made Easy takes
 *   (`"release":"r` and the id's first four hex digits). There is one match per record, so the
 *   watcher's second tier (any release when no origin is on the current one) cannot be expressed.
 * - `sensitivity` is `health.fall` rounded to DNS Made Easy's 3, 5 or 8 checks; `autoFailover`
 *   is true for `failover.failback: manual` (DNS Made Easy's true means failback is manual).
 * - `systemDescription` starts with the marker below: a monitor without it is not outlast's.
 *
 * `plan` reads only: the domain's id (once), the records at the name, and the monitor of each A
 * record DNS Made Easy flags as monitored. `apply` deletes the other records at the name (CNAME,
 * AAAA, more A records), creates or updates the A record, then PUTs its monitor. A record or
 * monitor at the name that outlast did not make (not the marker, not an origin's own address) is
 * `foreign`: replaced only with force. `planDestroy` turns off outlast's monitor and failover and
 * deletes its A record; anything else is left as it is.
 */
import { OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { refuseForeign } from '../native/guard.ts';
import type { NativeChange, NativeFailover, NativePlan, NativeSpec, NativeView } from '../native/types.ts';
import { canonicalAddress } from '../plan.ts';
import { createDnsMadeEasyApi, type DmeRecord, type DnsMadeEasyOptions } from './dnsmadeeasy.ts';

const PROVIDER_NAME = 'dnsmadeeasy';
/** The start of `systemDescription` on the monitors outlast makes. */
export const MONITOR_MARKER = 'outlast native failover v1';
const MAX_IPS = 5;
/** The longest `httpQueryString` DNS Made Easy takes. */
export const MAX_QUERY_STRING = 16;
/** `sensitivity`: the checks DNS Made Easy places against an IP before it fails over. */
const SENSITIVITIES = [
  { checks: 3, label: 'High' },
  { checks: 5, label: 'Medium' },
  { checks: 8, label: 'Low' },
] as const;
const PROTOCOL_ID = { 'http:': 3, 'https:': 6 } as const;
const IP_FIELDS = ['ip1', 'ip2', 'ip3', 'ip4', 'ip5'] as const;

/** What outlast PUTs to `monitor/{recordId}` (unused ip slots are sent empty to clear them). */
export interface MonitorBody {
  monitor: boolean;
  failover: boolean;
  autoFailover: boolean;
  systemDescription: string;
  maxEmails: number;
  sensitivity: number;
  protocolId: number;
  port: number;
  httpFqdn: string;
  httpFile: string;
  httpQueryString: string;
  ip1?: string;
  ip2?: string;
  ip3?: string;
  ip4?: string;
  ip5?: string;
}

interface RecordBody {
  id?: number;
  name: string;
  type: 'A';
  value: string;
  ttl: number;
  gtdLocation: 'DEFAULT';
}

/** One write of `apply`, in order; a monitor on `created` is on the record the create made. */
type Step =
  | { kind: 'delete'; ids: number[] }
  | { kind: 'create'; body: RecordBody }
  | { kind: 'update'; id: number; body: RecordBody }
  | { kind: 'monitor'; id: number | 'created'; body: Partial<MonitorBody> };

interface Payload {
  steps: Step[];
}

/** Native failover for one DNS Made Easy domain. Makes no request until used. */
export function createDnsMadeEasyNative(options: DnsMadeEasyOptions): NativeFailover {
  const api = createDnsMadeEasyApi(options);
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone: api.domain, mode: 'native' });
  const describe = () => `dnsmadeeasy ${api.domain} @ ${api.shownUrl} (record monitor and failover)`;

  /** The monitor of each A record DNS Made Easy flags as monitored or failed over. */
  async function monitorsOf(records: DmeRecord[]): Promise<Map<number, Record<string, unknown>>> {
    const monitors = new Map<number, Record<string, unknown>>();
    for (const record of records) {
      if (record.type !== 'A' || !(record.monitor || record.failover)) continue;
      const body = await api.call('GET', `/monitor/${record.id}`, `read the monitor of ${record.id}`, {});
      monitors.set(
        record.id,
        typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {},
      );
    }
    return monitors;
  }

  function planOf(changes: NativeChange[], notes: string[], foreign: string[], steps: Step[]): NativePlan {
    // DNS Made Easy's check interval is its own and not in the API references read: unknown cost.
    return { provider: describe(), changes, notes, foreign, checkerRequestsPerMonth: 0, payload: { steps } };
  }

  async function send(step: Step, created: number | undefined): Promise<number | undefined> {
    const records = `/dns/managed/${await api.domainId({})}/records`;
    const what = `native failover at ${api.domain}`;
    switch (step.kind) {
      case 'delete': {
        if (step.ids.length === 1) await api.call('DELETE', `${records}/${step.ids[0]}`, what, {});
        else {
          const ids = new URLSearchParams(step.ids.map((id): [string, string] => ['ids', String(id)]));
          await api.call('DELETE', `${records}?${ids}`, what, {});
        }
        return created;
      }
      case 'create': {
        const body = (await api.call('POST', records, what, {}, step.body)) as { id?: unknown } | undefined;
        if (typeof body?.id !== 'number') {
          throw new OutlastError('internal', `${what}: the created record has no id`, {
            source: PROVIDER_NAME,
          });
        }
        return body.id;
      }
      case 'update':
        await api.call('PUT', `${records}/${step.id}`, what, {}, step.body);
        return created;
      case 'monitor': {
        const id = step.id === 'created' ? created : step.id;
        if (id === undefined) throw new OutlastError('internal', `${what}: no record for the monitor`);
        await api.call('PUT', `/monitor/${id}`, what, {}, step.body);
        return created;
      }
    }
  }

  return {
    describe,

    async plan(spec) {
      const check = checkOf(spec);
      const wanted = monitorBody(spec, check);
      const held = await api.recordsAt(spec.name, {});
      const monitors = await monitorsOf(held);
      const originAddresses = new Set(
        spec.origins
          .flatMap((origin) =>
            'cname' in origin.target ? [] : [...(origin.target.a ?? []), ...(origin.target.aaaa ?? [])],
          )
          .map(canonicalAddress),
      );
      const isOurs = (record: DmeRecord) =>
        String(monitors.get(record.id)?.systemDescription ?? '').startsWith(MONITOR_MARKER);
      const isWatchers = (record: DmeRecord) =>
        !monitors.has(record.id) &&
        record.type !== 'CNAME' &&
        originAddresses.has(canonicalAddress(record.value));
      const aRecords = held.filter((record) => record.type === 'A');
      const chosen =
        aRecords.find(isOurs) ?? aRecords.find(isWatchers) ?? (aRecords.length > 0 ? aRecords[0] : undefined);
      const changes: NativeChange[] = [];
      const foreign: string[] = [];
      const steps: Step[] = [];

      const others = held.filter((record) => record !== chosen);
      for (const record of others) {
        if (!isWatchers(record) && !isOurs(record)) foreign.push(describeRecord(spec.name, record, monitors));
        changes.push({ action: 'delete', what: `${record.type} ${spec.name}`, detail: record.value });
      }
      if (others.length > 0) steps.push({ kind: 'delete', ids: others.map((record) => record.id) });

      const recordBody = (id?: number): RecordBody => ({
        ...(id === undefined ? {} : { id }),
        name: api.relative(spec.name),
        type: 'A',
        value: check.ips[0]!,
        ttl: spec.ttl,
        gtdLocation: 'DEFAULT',
      });
      const heldMonitor = chosen ? monitors.get(chosen.id) : undefined;
      const monitorDiff = differences(wanted, heldMonitor);
      if (!chosen) {
        changes.push({
          action: 'create',
          what: `A ${spec.name}`,
          detail: `${check.ips[0]} (ip1), ttl ${spec.ttl}`,
        });
        steps.push({ kind: 'create', body: recordBody() });
      } else {
        if (!isOurs(chosen) && !isWatchers(chosen)) foreign.push(describeRecord(spec.name, chosen, monitors));
        // Once failed over, DNS Made Easy may show the IP it answers: the value is compared only
        // when the monitor is not (yet) outlast's or its ip1 moves.
        const valueMatters = !isOurs(chosen) || monitorDiff.includes('ip1');
        const valueDiffers = valueMatters && canonicalAddress(chosen.value) !== check.ips[0];
        if (valueDiffers || chosen.ttl !== spec.ttl) {
          changes.push({
            action: 'update',
            what: `A ${spec.name}`,
            detail: `${valueDiffers ? `${chosen.value} → ${check.ips[0]}` : chosen.value}, ttl ${chosen.ttl} → ${spec.ttl}`,
          });
          steps.push({ kind: 'update', id: chosen.id, body: recordBody(chosen.id) });
        }
      }
      if (monitorDiff.length > 0) {
        changes.push({
          action: heldMonitor ? 'update' : 'create',
          what: `monitor and failover of A ${spec.name}`,
          detail: `${describeRouting(spec, check)}${heldMonitor ? ` (differs: ${monitorDiff.join(', ')})` : ''}`,
        });
        steps.push({ kind: 'monitor', id: chosen?.id ?? 'created', body: wanted });
      }
      return planOf(changes, notesFor(spec, check), foreign, steps);
    },

    async planDestroy(name) {
      const held = await api.recordsAt(name, {});
      const monitors = await monitorsOf(held);
      const changes: NativeChange[] = [];
      const notes: string[] = [];
      const steps: Step[] = [];
      for (const record of held) {
        const monitor = monitors.get(record.id);
        if (!monitor) continue;
        if (!String(monitor.systemDescription ?? '').startsWith(MONITOR_MARKER)) {
          notes.push(`the monitor of A ${name} (${record.value}) was not made by outlast: left as it is`);
          continue;
        }
        changes.push({
          action: 'delete',
          what: `monitor and failover of A ${name}`,
          detail: 'the monitor and failover outlast made (turned off)',
        });
        changes.push({
          action: 'delete',
          what: `A ${name}`,
          detail: `${record.value}, the record outlast made`,
        });
        const off: Partial<MonitorBody> = { monitor: false, failover: false };
        if (typeof monitor.port === 'number') off.port = monitor.port;
        if (typeof monitor.sensitivity === 'number') off.sensitivity = monitor.sensitivity;
        steps.push({ kind: 'monitor', id: record.id, body: off }, { kind: 'delete', ids: [record.id] });
      }
      return planOf(changes, notes, [], steps);
    },

    async apply(plan, { force }) {
      refuseForeign(
        plan,
        force,
        PROVIDER_NAME,
        'check the records at the name in DNS Made Easy; --force replaces them',
      );
      const { steps } = plan.payload as Payload;
      if (steps.length === 0) return;
      log.info({ steps: steps.map((step) => step.kind) }, 'native failover writes');
      let created: number | undefined;
      for (const step of steps) created = await send(step, created);
    },

    async view(spec) {
      // outlast's monitor on the A record at the name (as `plan` finds it), read only.
      const held = await api.recordsAt(spec.name, {});
      const monitors = await monitorsOf(held);
      const ours = held.find(
        (record) =>
          record.type === 'A' &&
          String(monitors.get(record.id)?.systemDescription ?? '').startsWith(MONITOR_MARKER),
      );
      return {
        provider: describe(),
        at: Date.now(),
        origins: ours ? viewOf(spec, monitors.get(ours.id)!) : {},
      };
    },

    async close() {
      await api.close();
    },
  };
}

/**
 * The origins' verdicts from a monitor as GET monitor/{recordId} answers it: `ipNFailed` of each
 * slot, the slot's IP mapped back to the origin with that first IPv4 address (by its place in
 * `failover.order` when the answer does not name the slot's IP). The flags' type at the service is
 * UNCONFIRMED (../shared/notes/native-failover.md §2): booleans, "true"/"false" and 1/0 are read;
 * a slot without a readable flag, or whose IP is no origin's, is left out. Pure.
 */
export function viewOf(spec: NativeSpec, monitor: Record<string, unknown>): NativeView['origins'] {
  const firstIp = (origin: NativeSpec['origins'][number]) => {
    const first = 'cname' in origin.target ? undefined : origin.target.a?.[0];
    return first === undefined ? undefined : canonicalAddress(first);
  };
  const origins: NativeView['origins'] = {};
  IP_FIELDS.forEach((field, index) => {
    const failed = flagOf(monitor[`${field}Failed`]);
    if (failed === undefined) return;
    const ip =
      typeof monitor[field] === 'string' && monitor[field] !== '' ? String(monitor[field]) : undefined;
    const origin =
      ip === undefined
        ? spec.origins[index]
        : spec.origins.find((item) => firstIp(item) === canonicalAddress(ip));
    if (!origin || origins[origin.id]) return;
    origins[origin.id] = {
      up: !failed,
      detail: `${field} ${ip ?? firstIp(origin) ?? '?'}: ${failed ? 'failed' : 'not failed'} (${field}Failed)`,
    };
  });
  return origins;
}

function flagOf(value: unknown): boolean | undefined {
  if (value === true || value === 'true' || value === 1 || value === '1') return true;
  if (value === false || value === 'false' || value === 0 || value === '0') return false;
  return undefined;
}

/** The one check DNS Made Easy runs against every IP of the record. */
interface Check {
  ips: string[];
  protocolId: number;
  port: number;
  httpFqdn: string;
  httpFile: string;
  /** The origins with more than one IPv4 address or with IPv6 addresses: only the first IPv4 is used. */
  extraAddresses: string[];
}

function invalid(message: string, hint = 'use failover: watcher for this provider'): OutlastError {
  return new OutlastError('invalid_config', `failover: native on DNS Made Easy: ${message}`, {
    source: PROVIDER_NAME,
    hint,
  });
}

/** The monitor's check for `spec`, or invalid_config for what DNS Made Easy cannot fail over. Pure. */
export function checkOf(spec: NativeSpec): Check {
  const cnames = spec.origins.filter((origin) => 'cname' in origin.target).map((origin) => origin.id);
  if (cnames.length > 0) {
    throw invalid(
      `DNS Made Easy fails over A records only, and ${cnames.join(', ')} ${cnames.length > 1 ? 'have' : 'has'} a cname as dns`,
      'give every origin dns: { a: [...] }, or use failover: watcher for this provider',
    );
  }
  const ips: string[] = [];
  const extraAddresses: string[] = [];
  for (const origin of spec.origins) {
    const target = origin.target as { a?: string[]; aaaa?: string[] };
    const first = target.a?.[0];
    if (first === undefined) {
      throw invalid(`DNS Made Easy fails over A records only, and ${origin.id} has no IPv4 address (dns.a)`);
    }
    ips.push(canonicalAddress(first));
    if ((target.a?.length ?? 0) > 1 || (target.aaaa?.length ?? 0) > 0) extraAddresses.push(origin.id);
  }
  if (ips.length < 2 || ips.length > MAX_IPS) {
    throw invalid(
      `DNS Made Easy's failover takes 2 to ${MAX_IPS} IPs (ip1…ip5), and there are ${ips.length} origins`,
    );
  }
  if (new Set(ips).size !== ips.length)
    throw invalid(`two origins have the same IPv4 address (${ips.join(', ')})`);
  if (spec.policy === 'all-healthy') {
    throw invalid(
      'DNS Made Easy answers one IP, so failover.policy all-healthy cannot be expressed',
      'use failover.policy priority, or failover: watcher for this provider',
    );
  }
  const checks = spec.origins.map((origin) => {
    const url = new URL(origin.checkUrl);
    const protocol = url.protocol as keyof typeof PROTOCOL_ID;
    if (!(protocol in PROTOCOL_ID)) throw invalid(`${origin.id}'s url is not http or https`);
    return {
      protocolId: PROTOCOL_ID[protocol],
      port: url.port === '' ? (protocol === 'https:' ? 443 : 80) : Number(url.port),
      httpFqdn: origin.hostHeader ?? url.hostname,
      httpFile: `${url.pathname}${url.search}`,
    };
  });
  const first = checks[0]!;
  for (const field of ['protocolId', 'port', 'httpFqdn', 'httpFile'] as const) {
    if (checks.some((item) => item[field] !== first[field])) {
      throw invalid(
        `DNS Made Easy checks every IP of the record with one monitor, and the origins' beacon URLs differ in ${{ protocolId: 'scheme', port: 'port', httpFqdn: 'host (or hostHeader)', httpFile: 'path' }[field]} (${checks.map((item) => item[field]).join(', ')})`,
      );
    }
  }
  return { ips, ...first, extraAddresses };
}

/** `health.fall` as DNS Made Easy's sensitivity: the nearest of 3, 5 and 8 checks (ties: fewer). */
export function sensitivityOf(fall: number): (typeof SENSITIVITIES)[number] {
  let best: (typeof SENSITIVITIES)[number] = SENSITIVITIES[0];
  for (const item of SENSITIVITIES)
    if (Math.abs(item.checks - fall) < Math.abs(best.checks - fall)) best = item;
  return best;
}

/** The body match DNS Made Easy can hold: the current release's, cut to 16 characters. */
export function queryStringOf(spec: NativeSpec): string {
  return (spec.currentMatch ?? spec.anyMatch).slice(0, MAX_QUERY_STRING);
}

function monitorBody(spec: NativeSpec, check: Check): MonitorBody {
  const body: MonitorBody = {
    monitor: true,
    failover: true,
    autoFailover: spec.failback === 'manual',
    systemDescription: `${MONITOR_MARKER}: ${spec.name}`,
    maxEmails: 1,
    sensitivity: sensitivityOf(spec.health.fall).checks,
    protocolId: check.protocolId,
    port: check.port,
    httpFqdn: check.httpFqdn,
    httpFile: check.httpFile,
    httpQueryString: queryStringOf(spec),
  };
  IP_FIELDS.forEach((field, index) => {
    body[field] = check.ips[index] ?? '';
  });
  return body;
}

/** The fields of `wanted` that `held` (a monitor as read) does not have; all of them without one. */
function differences(wanted: MonitorBody, held: Record<string, unknown> | undefined): string[] {
  return (Object.keys(wanted) as Array<keyof MonitorBody>).filter((field) => {
    const want = wanted[field];
    const have = held?.[field];
    // An empty ip slot reads back as absent, null or empty.
    if (want === '') return have !== undefined && have !== null && have !== '';
    return held === undefined || String(have) !== String(want);
  });
}

function describeRecord(
  name: string,
  record: DmeRecord,
  monitors: Map<number, Record<string, unknown>>,
): string {
  const monitor = monitors.get(record.id);
  if (monitor) {
    return `${record.type} ${name} (${record.value}) with a monitor outlast did not make (${JSON.stringify(String(monitor.systemDescription ?? ''))})`;
  }
  return `${record.type} ${name} (${record.value}), not any origin's address`;
}

function describeRouting(spec: NativeSpec, check: Check): string {
  const order = spec.origins.map((origin, index) => `${origin.id} (${check.ips[index]})`).join(' → ');
  const scheme = check.protocolId === PROTOCOL_ID['https:'] ? 'https' : 'http';
  return `the first healthy of ${order}; ${scheme}://${check.httpFqdn}:${check.port}${check.httpFile} must contain ${JSON.stringify(queryStringOf(spec))}`;
}

/** What DNS Made Easy does instead of what the config asks. */
function notesFor(spec: NativeSpec, check: Check): string[] {
  const sensitivity = sensitivityOf(spec.health.fall);
  const match = queryStringOf(spec);
  const notes = [
    spec.currentMatch === undefined
      ? `no origin names a release yet: the check matches any release (${JSON.stringify(match)})`
      : `the match is cut to DNS Made Easy's ${MAX_QUERY_STRING} characters: ${JSON.stringify(match)} (release ${spec.currentRelease} by its first ${match.length - '"release":"'.length} characters)`,
    'only the current release passes: DNS Made Easy holds one match per record, so an origin on an older release is never answered as a fallback (the watcher would)',
    `fails over after ${sensitivity.checks} failed checks (sensitivity ${sensitivity.label}${sensitivity.checks === spec.health.fall ? '' : `; health.fall is ${spec.health.fall}`})`,
    `the check interval is DNS Made Easy's own (health.interval ${spec.health.intervalMs / 1000} s, health.timeout and health.rise ${spec.health.rise} cannot be expressed); the requests a month it costs each origin are not published in the API references`,
    spec.failback === 'manual'
      ? 'failback is manual (autoFailover): DNS Made Easy stays on the IP it moved to until someone moves it back'
      : 'failback is automatic: DNS Made Easy returns to ip1 once it passes again',
    "DNS Made Easy notifies the account's default contact list of failover events (maxEmails 1)",
  ];
  if (spec.health.expectStatus.some((status) => status !== 200)) {
    notes.push(
      `health.expectStatus (${spec.health.expectStatus.join(', ')}) cannot be expressed: DNS Made Easy decides which statuses pass`,
    );
  }
  if (check.extraAddresses.length > 0) {
    notes.push(
      `${check.extraAddresses.join(', ')}: only the first IPv4 address is failed over (DNS Made Easy takes one IP per origin, A records only)`,
    );
  }
  return notes;
}
