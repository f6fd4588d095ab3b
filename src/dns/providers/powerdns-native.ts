/**
 * Native failover on PowerDNS: LUA records that check the origins from the DNS server itself.
 *
 * The managed name gets one LUA record per type (A and AAAA, or CNAME) whose code asks
 * `ifurlextup` (tested on 4.7) about each origin's beacon URL and answers with the chosen origin's targets:
 *
 *   - **two tiers, release-aware**: first the origins whose beacon is of the current release
 *     (`stringmatch` on `"release":"<id>"`), and only when none of them is up, those on any release;
 *   - **priority**: one group per origin in `failover.order`, so the first group with an origin up
 *     wins; **all-healthy**: one group of all origins, every one that is up (`selector='all'`);
 *   - `ifurlextup` falls back to all addresses when nothing is up (`backupSelector='all'`); a probe
 *     key whose URL never answers (`127.0.0.1:1`) in a group of its own tells that case apart, and
 *     then the next tier is asked; with every origin down the first one is answered.
 *
 * The keys handed to `ifurlextup` are placeholders (`0.0.0.N`, never probed: the URL is); the
 * code maps them back to the origin's addresses or CNAME target, so an origin may have several
 * addresses, and CNAME origins work too. The code never contains a double quote (the record's
 * content is a quoted string, so `"` is built with `string.char(34)`), and URLs are percent-encoded.
 * The first bytes, `--[[outlast …]]`, mark a record as outlast's: `destroy` removes only those.
 *
 * What PowerDNS 4.7 cannot express is said in the plan's notes: the check interval is the server's
 * `lua-health-checks-interval`, one failed check makes an origin down and one passing check up
 * (no fall/rise), no Host header of our choosing, certificates are not verified, only HTTP 200
 * passes, failback is always automatic, and right after a change or a restart every check starts
 * as down, so the first answers may name the first origin whatever its health.
 */
import { OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { refuseForeign } from '../native/guard.ts';
import type { NativeChange, NativeFailover, NativeOrigin, NativePlan, NativeSpec } from '../native/types.ts';
import { desiredRecords } from '../plan.ts';
import type { ManagedType } from '../provider.ts';
import type { ServerAddress } from '../wire.ts';
import { createPowerDnsApi, type PowerDnsOptions, type Rrset } from './powerdns-api.ts';
import { askPowerDns, dnsAddressOf, viewOfAnswer, viewType } from './powerdns-native-view.ts';

const PROVIDER_NAME = 'powerdns';
/** Marks the LUA records outlast writes; the version says which code generator wrote them. */
export const LUA_MARKER = '--[[outlast native failover v1]]';
/** A key whose check never passes: its presence in an answer means every origin is down. */
const NONE_UP_KEY = '0.0.0.0';
const NONE_UP_URL = 'http://127.0.0.1:1/';
const SECONDS_PER_MONTH = 30 * 86_400;
/** PowerDNS's own default, when the server does not tell. */
const DEFAULT_CHECK_INTERVAL_S = 5;

/** What `apply` sends: one PATCH of these rrsets (empty: nothing to do). */
interface Payload {
  rrsets: Array<{
    name: string;
    type: string;
    changetype: 'REPLACE' | 'DELETE';
    ttl?: number;
    records?: Array<{ content: string; disabled: boolean }>;
  }>;
}

/** Native failover for one zone of one PowerDNS server. Makes no request until used. */
export function createPowerDnsNative(options: PowerDnsOptions & { dnsAddress?: string }): NativeFailover {
  const api = createPowerDnsApi(options);
  let dnsServer: ServerAddress | undefined;
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone: api.zone, mode: 'native' });
  const describe = () => `powerdns ${api.zone} @ ${api.shownUrl} (LUA records)`;
  const failure = (code: 'invalid_config', message: string, hint?: string) =>
    new OutlastError(code, message, { source: PROVIDER_NAME, ...(hint ? { hint } : {}) });

  /** The server's LUA settings; invalid_config when it does not serve LUA records. */
  async function luaSettings(): Promise<{ intervalS: number; settings: Map<string, string> }> {
    const body = await api.call('GET', `${api.serverUrl}/config`, 'read the server settings', {});
    const settings = new Map(
      (Array.isArray(body) ? (body as Array<{ name?: unknown; value?: unknown }>) : []).map(
        (item) => [String(item.name), String(item.value)] as const,
      ),
    );
    const enabled = settings.get('enable-lua-records');
    if (enabled !== 'yes' && enabled !== 'shared' && !(await zoneEnablesLua())) {
      throw failure(
        'invalid_config',
        `the PowerDNS server at ${api.shownUrl} does not serve LUA records (enable-lua-records=${enabled ?? 'no'}), which failover: native needs`,
        `set enable-lua-records=yes in pdns.conf (or run pdnsutil set-meta ${api.zone} ENABLE-LUA-RECORDS 1), or use failover: watcher`,
      );
    }
    const interval = Number(settings.get('lua-health-checks-interval'));
    return {
      intervalS: Number.isFinite(interval) && interval > 0 ? interval : DEFAULT_CHECK_INTERVAL_S,
      settings,
    };
  }

  /** The zone's ENABLE-LUA-RECORDS metadata (4.7's API cannot read it: then false). */
  async function zoneEnablesLua(): Promise<boolean> {
    try {
      const body = (await api.call(
        'GET',
        `${api.zoneUrl}/metadata/ENABLE-LUA-RECORDS`,
        'read metadata',
        {},
      )) as { metadata?: unknown } | undefined;
      return Array.isArray(body?.metadata) && body.metadata.includes('1');
    } catch {
      return false;
    }
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
      const { intervalS } = await luaSettings();
      const wanted = luaRecords(spec);
      const held = await api.rrsetsAt(spec.name, {});
      const changes: NativeChange[] = [];
      const foreign: string[] = [];
      const payload: Payload = { rrsets: [] };
      const lua = held.find((rrset) => rrset.type === 'LUA');
      const wantedContents = wanted.map((record) => record.content);
      const heldContents = lua?.records.map((record) => record.content) ?? [];
      if (!lua || lua.ttl !== spec.ttl || !sameList(heldContents, wantedContents)) {
        if (lua && !heldContents.every(isOurs)) {
          foreign.push(`LUA records at ${spec.name} that outlast did not write (${heldContents.length})`);
        }
        changes.push({
          action: lua ? 'update' : 'create',
          what: `LUA ${wanted.map((record) => record.type).join('+')} ${spec.name}`,
          detail: describeRouting(spec),
        });
        payload.rrsets.push({
          name: `${spec.name}.`,
          type: 'LUA',
          changetype: 'REPLACE',
          ttl: spec.ttl,
          records: wantedContents.map((content) => ({ content, disabled: false })),
        });
      }
      // Plain sets of the managed types would be answered beside (or instead of) the LUA record.
      for (const rrset of held.filter(
        (item) => item.type === 'A' || item.type === 'AAAA' || item.type === 'CNAME',
      )) {
        const values = rrset.records.map((record) => record.content);
        if (!writtenByWatcher(spec, rrset)) {
          foreign.push(`${rrset.type} ${spec.name} (${values.join(', ')}), not any origin's target`);
        }
        changes.push({ action: 'delete', what: `${rrset.type} ${spec.name}`, detail: values.join(', ') });
        payload.rrsets.push({ name: `${spec.name}.`, type: rrset.type, changetype: 'DELETE' });
      }
      const tiers = spec.currentMatch === undefined ? 1 : 2;
      return planOf(
        changes,
        notesFor(spec, intervalS),
        foreign,
        Math.round((tiers * SECONDS_PER_MONTH) / intervalS),
        payload,
      );
    },

    async planDestroy(name) {
      const held = await api.rrsetsAt(name, {});
      const lua = held.find((rrset) => rrset.type === 'LUA');
      const ours = lua?.records.every((record) => isOurs(record.content)) ?? false;
      const notes =
        lua && !ours ? [`the LUA records at ${name} were not written by outlast: left as they are`] : [];
      const payload: Payload = { rrsets: [] };
      const changes: NativeChange[] = [];
      if (lua && ours) {
        changes.push({
          action: 'delete',
          what: `LUA ${name}`,
          detail: 'the native failover records outlast wrote',
        });
        payload.rrsets.push({ name: `${name}.`, type: 'LUA', changetype: 'DELETE' });
      }
      return planOf(changes, notes, [], 0, payload);
    },

    async apply(plan, { force }) {
      refuseForeign(plan, force, PROVIDER_NAME, 'check the records at the name; --force replaces them');
      const payload = plan.payload as Payload;
      if (payload.rrsets.length === 0) return;
      log.info(
        { rrsets: payload.rrsets.map((rrset) => `${rrset.changetype} ${rrset.type}`) },
        'native failover patch',
      );
      await api.call('PATCH', api.zoneUrl, `native failover at ${api.zone}`, {}, payload);
    },

    async view(spec) {
      // The address is read once: the server's settings do not change while it runs.
      dnsServer ??= dnsAddressOf(options.dnsAddress, (await luaSettings()).settings, options.url);
      const type = viewType(spec);
      const answered = await askPowerDns(dnsServer, spec.name, type);
      return { provider: describe(), at: Date.now(), origins: viewOfAnswer(spec, type, answered) };
    },

    async close() {
      await api.close();
    },
  };
}

/** The LUA records for `spec`: A and AAAA for address origins, or one CNAME. */
export function luaRecords(spec: NativeSpec): Array<{ type: ManagedType; content: string }> {
  const cnames = spec.origins.filter((origin) => 'cname' in origin.target);
  if (cnames.length > 0 && cnames.length < spec.origins.length) {
    throw new OutlastError(
      'invalid_config',
      `failover: native on PowerDNS needs every origin's dns to be addresses or every one a cname (${cnames.map((origin) => origin.id).join(', ')} use cname, the others addresses)`,
      {
        source: PROVIDER_NAME,
        hint: 'give every origin the same kind of dns target, or use failover: watcher',
      },
    );
  }
  const types: ManagedType[] = cnames.length > 0 ? ['CNAME'] : ['A', 'AAAA'];
  return types.flatMap((type) => {
    const values = new Map<NativeOrigin, string[]>();
    for (const origin of spec.origins) {
      const targets = desiredRecords(spec.name, spec.ttl, [origin.target]).find((set) => set.type === type);
      if (targets) values.set(origin, targets.values);
    }
    if (values.size === 0) return [];
    return [{ type, content: `${type} "${luaCode(spec, type, values)}"` }];
  });
}

/** The Lua code of one record (see the module comment). Only single quotes, no backslashes. */
function luaCode(spec: NativeSpec, type: ManagedType, values: Map<NativeOrigin, string[]>): string {
  const origins = [...values.keys()];
  const key = (index: number) => `0.0.0.${index + 1}`;
  const check = (origin: NativeOrigin, index: number) => `['${key(index)}']='${luaSafeUrl(origin.checkUrl)}'`;
  const groups =
    spec.policy === 'all-healthy'
      ? `{${origins.map(check).join(',')}}`
      : origins.map((origin, index) => `{${check(origin, index)}}`).join(',');
  const answers = origins
    .map((origin, index) => {
      const targets = values.get(origin)!;
      return type === 'CNAME'
        ? `['${key(index)}']='${targets[0]}.'`
        : `['${key(index)}']={${targets.map((value) => `'${value}'`).join(',')}}`;
    })
    .join(',');
  const selector = spec.policy === 'all-healthy' ? 'all' : 'random';
  const tiers = [
    ...(spec.currentRelease === undefined ? [] : [`up('${spec.currentRelease}'..q)`]),
    `up('r')`,
    `{'${key(0)}'}`,
  ].join(' or ');
  const answer =
    type === 'CNAME'
      ? 'return O[r[1]]'
      : 'local out={} for _,k in ipairs(r) do for _,a in ipairs(O[k]) do out[#out+1]=a end end return out';
  return [
    `;${LUA_MARKER}`,
    'local q=string.char(34)',
    `local G={${groups},{['${NONE_UP_KEY}']='${NONE_UP_URL}'}}`,
    `local O={${answers}}`,
    'local function up(m)',
    `local r=ifurlextup(G,{stringmatch=q..'release'..q..':'..q..m,selector='${selector}',backupSelector='all',timeout='${Math.max(1, Math.ceil(spec.health.timeoutMs / 1000))}'})`,
    `for _,k in ipairs(r) do if k=='${NONE_UP_KEY}' then return nil end end`,
    'return r end',
    `local r=${tiers}`,
    answer,
  ].join(' ');
}

/** A URL that can sit in a single-quoted Lua string inside a quoted DNS string. */
function luaSafeUrl(url: string): string {
  return new URL(url).href.replace(/'/g, '%27').replace(/\\/g, '%5C').replace(/"/g, '%22');
}

function isOurs(content: string): boolean {
  return content.includes(LUA_MARKER);
}

/** A plain set whose values are one origin's targets: what `outlast watch` writes. */
function writtenByWatcher(spec: NativeSpec, rrset: Rrset): boolean {
  const values = rrset.records.map((record) => record.content.replace(/\.$/, '').toLowerCase()).sort();
  return spec.origins.some((origin) =>
    desiredRecords(spec.name, spec.ttl, [origin.target]).some(
      (set) => set.type === rrset.type && set.values.join(' ') === values.join(' '),
    ),
  );
}

function describeRouting(spec: NativeSpec): string {
  const order = spec.origins.map((origin) => origin.id).join(' → ');
  const release =
    spec.currentRelease === undefined
      ? 'any release (no origin names one yet)'
      : `release ${spec.currentRelease} first, then any release`;
  return `${spec.policy === 'all-healthy' ? 'every healthy origin of' : 'the first healthy of'} ${order}; ${release}`;
}

/** What PowerDNS does instead of what the config asks. */
function notesFor(spec: NativeSpec, intervalS: number): string[] {
  const notes = [
    `checks every ${intervalS} s (the server's lua-health-checks-interval; health.interval is ${spec.health.intervalMs / 1000} s)`,
    `one failed check makes an origin down and one passing check up (health.fall ${spec.health.fall} and rise ${spec.health.rise} cannot be expressed)`,
    `timeout ${Math.max(1, Math.ceil(spec.health.timeoutMs / 1000))} s per check (whole seconds)`,
    'after a change or a restart every check starts as down: until the first checks ran, the first origin is answered',
  ];
  if (spec.failback === 'manual')
    notes.push('failback is automatic: PowerDNS returns to the first origin once it passes');
  if (spec.health.expectStatus.some((status) => status !== 200)) notes.push('only HTTP 200 passes');
  for (const origin of spec.origins) {
    if (origin.hostHeader) {
      notes.push(
        `${origin.id}: the check cannot send Host ${origin.hostHeader}; it fetches ${origin.checkUrl} as is`,
      );
    }
    if (origin.checkUrl.startsWith('https:'))
      notes.push(`${origin.id}: the check does not verify the certificate`);
  }
  return notes;
}

function sameList(a: string[], b: string[]): boolean {
  return a.length === b.length && [...a].sort().join('\n') === [...b].sort().join('\n');
}
