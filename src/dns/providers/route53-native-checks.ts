/**
 * Route 53 native failover, the health checks (pure, no I/O): the check outlast wants for each
 * origin and tier, how a held check becomes it (UpdateHealthCheck, or replaced when Route 53 keeps
 * the field for life), and the notes on what Route 53 rounds or cannot express, with what the
 * checkers cost. The module comment of `route53-native.ts` says how the checks are used.
 */
import { createHash } from 'node:crypto';
import { BlockList, isIP } from 'node:net';
import type {
  HealthCheck,
  HealthCheckConfig,
  HealthCheckRegion,
  UpdateHealthCheckCommandInput,
} from '@aws-sdk/client-route-53';
import { type ErrorCode, OutlastError } from '../../errors.ts';
import type { NativeOrigin, NativeSpec } from '../native/types.ts';

export const PROVIDER_NAME = 'route53';
/** `outlast-<hash of the name>-<hash of origin and tier>-<nonce>`: a check's CallerReference. */
const REFERENCE = /^outlast-([0-9a-f]{12})-([0-9a-f]{8})-[0-9a-z]+$/;
/** Three regions on three continents: Route 53's minimum, and the least each origin is probed. */
export const REGIONS: HealthCheckRegion[] = ['us-east-1', 'eu-west-1', 'ap-southeast-1'];
const MAX_FAILURE_THRESHOLD = 10;
/** Longest ResourcePath, FullyQualifiedDomainName and SearchString Route 53 takes. */
const MAX_FIELD = 255;
const RECOMMENDED_MAX_TTL = 60;
const SECONDS_PER_MONTH = 30 * 86_400;
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

export type Tier = 'current' | 'any';

/** One health check outlast wants: an origin on a tier. */
export interface Role {
  /** Hash of origin id and tier, in the CallerReference. */
  key: string;
  origin: NativeOrigin;
  tier: Tier;
  config: HealthCheckConfig;
}

/** The start of the CallerReference of every check of `name`: how outlast finds its checks. */
export function referencePrefix(name: string): string {
  return `outlast-${hash(name, 12)}-`;
}

/** A new check's CallerReference; `nonce` because a reference is never reusable. */
export function referenceOf(name: string, role: Role, nonce: string): string {
  return `${referencePrefix(name)}${role.key}-${nonce}`;
}

/** The role key in a check's CallerReference, or '' when it is not one of outlast's. */
export function roleKeyOf(check: HealthCheck): string {
  return REFERENCE.exec(check.CallerReference ?? '')?.[2] ?? '';
}

/** The checks of `spec`: every origin on the current release, then every origin on any release. */
export function rolesOf(spec: NativeSpec): Role[] {
  const tiers: Array<[Tier, string]> = [
    ...(spec.currentMatch === undefined ? [] : [['current', spec.currentMatch] as [Tier, string]]),
    ['any', spec.anyMatch],
  ];
  const interval = requestInterval(spec);
  const threshold = failureThreshold(spec);
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

/** Route 53 checks every 10 or 30 s: the nearer one. */
export function requestInterval(spec: NativeSpec): 10 | 30 {
  return spec.health.intervalMs <= 20_000 ? 10 : 30;
}

/** health.fall within Route 53's 1 to 10; it stands for health.rise too. */
export function failureThreshold(spec: NativeSpec): number {
  return Math.min(MAX_FAILURE_THRESHOLD, Math.max(1, spec.health.fall));
}

/** Why a held check cannot become `want` by UpdateHealthCheck (Route 53 keeps these for life). */
export function mustReplace(have: HealthCheckConfig | undefined, want: HealthCheckConfig): boolean {
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
export function updateOf(held: HealthCheck, want: HealthCheckConfig) {
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

/** Requests per month from Route 53's checkers to each origin. */
export function checkerRequestsPerMonth(spec: NativeSpec): number {
  const tiers = spec.currentMatch === undefined ? 1 : 2;
  return Math.round((tiers * REGIONS.length * SECONDS_PER_MONTH) / requestInterval(spec));
}

/** What Route 53 does instead of what the config asks; `creating` when the plan makes checks. */
export function notesFor(spec: NativeSpec, creating: boolean): string[] {
  const interval = requestInterval(spec);
  const threshold = failureThreshold(spec);
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
  if (creating) {
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

export function showCheck(config: HealthCheckConfig): string {
  const where = config.IPAddress ?? config.FullyQualifiedDomainName;
  const host =
    config.IPAddress && config.FullyQualifiedDomainName ? ` (Host ${config.FullyQualifiedDomainName})` : '';
  return `${config.Type} ${where}:${config.Port}${config.ResourcePath}${host} for ${config.SearchString}, every ${config.RequestInterval} s, ${config.FailureThreshold} in a row, from ${config.Regions!.length} regions`;
}

function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length);
}

export function invalidConfig(
  message: string,
  hint = 'change the origin, or use failover: watcher',
): OutlastError {
  return failure('invalid_config', message, undefined, hint);
}

/** Every error of the native module comes from `route53`. */
export function failure(code: ErrorCode, message: string, cause?: unknown, hint?: string): OutlastError {
  return new OutlastError(code, message, { source: PROVIDER_NAME, cause, ...(hint ? { hint } : {}) });
}

/** One checker's observation, as GetHealthCheckStatus gives it. */
export interface Observation {
  Region?: string;
  StatusReport?: { Status?: string };
}

/** Route 53's rule: an endpoint is healthy when more than 18 % of its checkers say so. */
const HEALTHY_SHARE = 0.18;

/**
 * Route 53's verdict on one check from its checkers' observations, or undefined when no checker
 * has reported yet. A checker reports success when its status text starts with "Success" — the
 * stand-in's format; the real format is UNCONFIRMED (free text in the API reference, see
 * ../shared/notes/native-failover.md).
 */
export function verdictOf(observations: Observation[]): { up: boolean; detail: string } | undefined {
  const said = observations.flatMap((item) => {
    const status = item.StatusReport?.Status?.trim();
    return status ? [status] : [];
  });
  if (said.length === 0) return undefined;
  const successes = said.filter((status) => /^success/i.test(status)).length;
  return {
    up: successes > HEALTHY_SHARE * said.length,
    detail: `${successes} of ${said.length} checkers: ${[...new Set(said)].join(' | ')}`,
  };
}
