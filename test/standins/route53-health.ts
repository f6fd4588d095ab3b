/**
 * The health checks of the stand-in Route 53 (route53.ts): the endpoints, checked as the API
 * reference says (2013-04-01; ../shared/notes/native-failover.md collects the facts), and the
 * checkers, which probe each check's endpoint with Route 53's documented semantics:
 *
 * - HTTP(S) to IPAddress, or to the IPv4 address FullyQualifiedDomainName resolves to (through
 *   `resolve`, the stand-in's DNS; a name it does not know is "DNS resolution failed"), at Port and
 *   ResourcePath, Host = FullyQualifiedDomainName (or the address), `:Port` unless 80/443, SNI when
 *   EnableSNI, the certificate not verified;
 * - healthy = connected within 4 s, a 2xx or 3xx status within 2 s, and for *_STR_MATCH the
 *   SearchString within the first 5,120 bytes of the body (gzip/deflate decoded), which must arrive
 *   within 2 s of the status;
 * - a check changes state after FailureThreshold results in a row that say otherwise; a new check is
 *   healthy until then; Inverted flips it, Disabled keeps it healthy.
 *
 * The stand-in is one vantage point: each round's result stands for every region of the check (so
 * Route 53's "more than 18 % of checkers" rule is met or failed by all of them at once). Rounds come
 * every RequestInterval seconds, or every `probeIntervalMs` when a test sets it.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { BlockList, isIP } from 'node:net';
import { createGunzip, createInflate } from 'node:zlib';
import {
  errorResponse,
  escapeXml,
  expectChildren,
  ok,
  only,
  parseXml,
  type Reply,
  XMLNS,
} from './route53-xml.ts';

const TYPES =
  'HTTP HTTPS HTTP_STR_MATCH HTTPS_STR_MATCH TCP CALCULATED CLOUDWATCH_METRIC RECOVERY_CONTROL'.split(' ');
/** The types the checkers here evaluate. */
const PROBED = new Set(['HTTP', 'HTTPS', 'HTTP_STR_MATCH', 'HTTPS_STR_MATCH']);
const REGIONS =
  'us-east-1 us-west-1 us-west-2 eu-west-1 ap-southeast-1 ap-southeast-2 ap-northeast-1 sa-east-1'.split(' ');
/** HealthCheckConfig's elements in the model's order. */
const CONFIG_ELEMENTS = (
  'Type IPAddress Port ResourcePath FullyQualifiedDomainName SearchString RequestInterval ' +
  'FailureThreshold MeasureLatency Inverted Disabled HealthThreshold ChildHealthChecks EnableSNI ' +
  'Regions AlarmIdentifier InsufficientDataHealthStatus RoutingControlArn'
).split(' ');
const UPDATE_ELEMENTS = (
  'HealthCheckVersion IPAddress Port ResourcePath FullyQualifiedDomainName SearchString ' +
  'FailureThreshold Inverted Disabled HealthThreshold ChildHealthChecks EnableSNI Regions ' +
  'AlarmIdentifier InsufficientDataHealthStatus ResetElements'
).split(' ');
const RESETTABLE = new Set(['FullyQualifiedDomainName', 'Regions', 'ResourcePath', 'ChildHealthChecks']);
const SEARCH_BYTES = 5120;
const CONNECT_MS = 4000;
const ANSWER_MS = 2000;
/** Addresses Route 53 refuses to check (RFC 5735, RFC 6598, RFC 5156). */
const SPECIAL = new BlockList();
for (const subnet of (
  '0.0.0.0/8 10.0.0.0/8 100.64.0.0/10 127.0.0.0/8 169.254.0.0/16 172.16.0.0/12 192.0.0.0/24 ' +
  '192.0.2.0/24 192.88.99.0/24 192.168.0.0/16 198.18.0.0/15 198.51.100.0/24 203.0.113.0/24 ' +
  '224.0.0.0/3 ::/8 2001:db8::/32 fc00::/7 fe80::/10 ff00::/8'
).split(' ')) {
  const [net, bits] = subnet.split('/') as [string, string];
  SPECIAL.addSubnet(net, Number(bits), net.includes(':') ? 'ipv6' : 'ipv4');
}

/** A health check's settings, as Route 53 keeps them (its defaults filled in). */
export interface CheckConfig {
  type: string;
  ipAddress?: string;
  port?: number;
  resourcePath?: string;
  fqdn?: string;
  searchString?: string;
  requestInterval: number;
  failureThreshold: number;
  measureLatency: boolean;
  inverted: boolean;
  disabled: boolean;
  enableSni?: boolean;
  regions?: string[];
}

export interface StoredCheck {
  id: string;
  reference: string;
  config: CheckConfig;
  version: number;
  tags: Map<string, string>;
  /** What the checkers think: the state, and how many results in a row said otherwise. */
  healthy: boolean;
  against: number;
  lastStatus?: { status: string; at: string };
  probedAt: number;
  /** The number of probes this check has sent. */
  probes: number;
}

/** A request as the stand-in recorded it. */
export interface CheckRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  body: string;
}

export class HealthChecks {
  readonly checks = new Map<string, StoredCheck>();
  /** Every CallerReference ever used, with its check's id (kept after the check is deleted). */
  readonly references = new Map<string, string>();
  /** The account's quota of active health checks: one more is TooManyHealthChecks. */
  maxHealthChecks = 200;
  /** Milliseconds between a check's probes instead of its RequestInterval (tests). */
  probeIntervalMs: number | undefined;
  /** The DNS the checkers resolve FullyQualifiedDomainName with: name → IPv4 address. */
  readonly resolve = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private round: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly violations: string[],
    /** Whether a record set uses the check (Route 53 lets it be deleted anyway; outlast must not). */
    private readonly inUse: (id: string) => boolean,
    private readonly endpoint: () => string,
  ) {}

  /** Is the check healthy for DNS answers? undefined when there is no such check. */
  healthy(id: string): boolean | undefined {
    return this.checks.get(id)?.healthy;
  }

  start(): void {
    this.stopped = false;
    const tick = () => {
      if (this.stopped) return;
      this.round = this.probeDue().finally(() => {
        if (!this.stopped)
          this.timer = setTimeout(tick, Math.min(this.probeIntervalMs ?? 1000, 1000)).unref();
      });
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }

  /** Answers the health-check and tag operations; undefined for any other path. */
  route(request: CheckRequest): Reply | undefined {
    const { method, path } = request;
    if (path === '/2013-04-01/healthcheck') {
      if (method === 'POST') return this.create(request);
      if (method === 'GET') return this.list(request);
    }
    const one = /^\/2013-04-01\/healthcheck\/([0-9a-f-]+)(\/status)?$/.exec(path);
    if (one) {
      const check = this.checks.get(one[1]!);
      this.onlyQuery(request, []);
      if (!check)
        return errorResponse(404, 'NoSuchHealthCheck', `No health check exists with the ID ${one[1]}`);
      if (one[2] && method === 'GET') return this.status(check);
      if (!one[2] && method === 'GET')
        return ok(`<GetHealthCheckResponse xmlns="${XMLNS}">${checkXml(check)}</GetHealthCheckResponse>`);
      if (!one[2] && method === 'POST') return this.update(request, check);
      if (!one[2] && method === 'DELETE') return this.delete(check);
    }
    const tags = /^\/2013-04-01\/tags\/healthcheck(?:\/([0-9a-f-]+))?$/.exec(path);
    if (tags) {
      this.onlyQuery(request, []);
      if (tags[1] === undefined && method === 'POST') return this.listTagsOf(request);
      const check = tags[1] === undefined ? undefined : this.checks.get(tags[1]);
      if (tags[1] !== undefined && !check)
        return errorResponse(404, 'NoSuchHealthCheck', `No health check exists with the ID ${tags[1]}`);
      if (check && method === 'POST') return this.changeTags(request, check);
      if (check && method === 'GET')
        return ok(
          `<ListTagsForResourceResponse xmlns="${XMLNS}">${tagSetXml(check)}</ListTagsForResourceResponse>`,
        );
    }
    return undefined;
  }

  private create(request: CheckRequest): Reply {
    const parsed = this.parse(request, 'CreateHealthCheckRequest', ['CallerReference', 'HealthCheckConfig']);
    if ('status' in parsed) return parsed;
    let config: CheckConfig;
    try {
      const reference = only(parsed, 'CallerReference').text;
      if (reference.length < 1 || reference.length > 64)
        throw new Error('CallerReference must be 1 to 64 characters');
      const node = only(parsed, 'HealthCheckConfig');
      expectChildren(node, CONFIG_ELEMENTS);
      const text = (name: string) => node.children.find((child) => child.name === name)?.text;
      const type = text('Type') ?? '';
      if (!TYPES.includes(type)) throw new Error(`bad Type ${type}`);
      if (!PROBED.has(type))
        this.violations.push(`CreateHealthCheck: the stand-in does not model ${type} checks`);
      config = {
        type,
        requestInterval: 30,
        failureThreshold: 3,
        measureLatency: false,
        inverted: false,
        disabled: false,
        ...settings(node, [
          'IPAddress',
          'Port',
          'ResourcePath',
          'FullyQualifiedDomainName',
          'SearchString',
          'FailureThreshold',
          'Inverted',
          'Disabled',
          'EnableSNI',
          'Regions',
        ]),
      };
      const interval = text('RequestInterval');
      if (interval !== undefined) {
        if (interval !== '10' && interval !== '30') throw new Error('RequestInterval must be 10 or 30');
        config.requestInterval = Number(interval);
      }
      if (text('MeasureLatency') !== undefined) config.measureLatency = bool(text('MeasureLatency')!);
      validate(config);
      const existing = this.references.get(reference);
      if (existing !== undefined) {
        const same = this.checks.get(existing);
        if (same && JSON.stringify(same.config) === JSON.stringify(config)) return this.created(same);
        return errorResponse(
          409,
          'HealthCheckAlreadyExists',
          `A health check with the CallerReference ${reference} already exists or existed.`,
        );
      }
      if (this.checks.size >= this.maxHealthChecks) {
        return errorResponse(
          400,
          'TooManyHealthChecks',
          "This health check can't be created because the current account has reached the limit on the number of active health checks.",
        );
      }
      const stored: StoredCheck = {
        id: randomUUID(),
        reference,
        config,
        version: 1,
        tags: new Map(),
        healthy: !config.inverted,
        against: 0,
        probedAt: 0,
        probes: 0,
      };
      this.checks.set(stored.id, stored);
      this.references.set(reference, stored.id);
      return this.created(stored);
    } catch (error) {
      return this.invalid(request, (error as Error).message);
    }
  }

  private created(check: StoredCheck): Reply {
    return {
      ...ok(`<CreateHealthCheckResponse xmlns="${XMLNS}">${checkXml(check)}</CreateHealthCheckResponse>`),
      status: 201,
      headers: { location: `${this.endpoint()}/2013-04-01/healthcheck/${check.id}` },
    };
  }

  private update(request: CheckRequest, check: StoredCheck): Reply {
    const parsed = this.parse(request, 'UpdateHealthCheckRequest', UPDATE_ELEMENTS);
    if ('status' in parsed) return parsed;
    try {
      const version = parsed.children.find((child) => child.name === 'HealthCheckVersion')?.text;
      if (version !== undefined && Number(version) !== check.version) {
        return errorResponse(
          409,
          'HealthCheckVersionMismatch',
          `The value of HealthCheckVersion in the request (${version}) doesn't match the value of HealthCheckVersion in the health check (${check.version}).`,
        );
      }
      const config: CheckConfig = {
        ...check.config,
        ...settings(parsed, [
          'IPAddress',
          'Port',
          'ResourcePath',
          'FullyQualifiedDomainName',
          'SearchString',
          'FailureThreshold',
          'Inverted',
          'Disabled',
          'EnableSNI',
          'Regions',
        ]),
      };
      const reset = parsed.children.find((child) => child.name === 'ResetElements');
      for (const element of reset?.children ?? []) {
        if (element.name !== 'ResettableElementName' || !RESETTABLE.has(element.text))
          throw new Error(`bad ResetElements entry ${element.text}`);
        const key = (
          { FullyQualifiedDomainName: 'fqdn', Regions: 'regions', ResourcePath: 'resourcePath' } as const
        )[element.text as 'Regions'];
        if (key) delete config[key];
      }
      validate(config);
      check.config = config;
      check.version++;
      return ok(`<UpdateHealthCheckResponse xmlns="${XMLNS}">${checkXml(check)}</UpdateHealthCheckResponse>`);
    } catch (error) {
      return this.invalid(request, (error as Error).message);
    }
  }

  private delete(check: StoredCheck): Reply {
    if (this.inUse(check.id)) {
      this.violations.push(
        `DeleteHealthCheck ${check.id}: record sets still use it (Route 53 allows it; their failover becomes unpredictable)`,
      );
    }
    this.checks.delete(check.id);
    return ok(`<DeleteHealthCheckResponse xmlns="${XMLNS}"></DeleteHealthCheckResponse>`);
  }

  private list(request: CheckRequest): Reply {
    this.onlyQuery(request, ['marker', 'maxitems']);
    const max = Math.min(1000, request.query.maxitems === undefined ? 100 : Number(request.query.maxitems));
    if (!Number.isInteger(max) || max < 1)
      return this.invalid(request, 'maxitems must be a positive integer');
    const all = [...this.checks.values()];
    const marker = request.query.marker;
    const from = marker === undefined ? 0 : all.findIndex((item) => item.id === marker);
    if (from < 0) return this.invalid(request, `marker ${marker} is not a health check`);
    const page = all.slice(from, from + max);
    const next = all[from + max];
    return ok(
      `<ListHealthChecksResponse xmlns="${XMLNS}"><HealthChecks>${page.map(checkXml).join('')}</HealthChecks><Marker>${escapeXml(marker ?? '')}</Marker><IsTruncated>${next !== undefined}</IsTruncated><MaxItems>${max}</MaxItems>${next ? `<NextMarker>${next.id}</NextMarker>` : ''}</ListHealthChecksResponse>`,
    );
  }

  private status(check: StoredCheck): Reply {
    const observations = (check.config.regions ?? REGIONS).map((region) => {
      const report = check.lastStatus
        ? `<StatusReport><Status>${escapeXml(check.lastStatus.status)}</Status><CheckedTime>${check.lastStatus.at}</CheckedTime></StatusReport>`
        : '';
      return `<HealthCheckObservation><Region>${region}</Region><IPAddress>127.0.0.1</IPAddress>${report}</HealthCheckObservation>`;
    });
    return ok(
      `<GetHealthCheckStatusResponse xmlns="${XMLNS}"><HealthCheckObservations>${observations.join('')}</HealthCheckObservations></GetHealthCheckStatusResponse>`,
    );
  }

  private changeTags(request: CheckRequest, check: StoredCheck): Reply {
    const parsed = this.parse(request, 'ChangeTagsForResourceRequest', ['AddTags', 'RemoveTagKeys']);
    if ('status' in parsed) return parsed;
    try {
      const add = parsed.children.find((child) => child.name === 'AddTags')?.children ?? [];
      const remove = parsed.children.find((child) => child.name === 'RemoveTagKeys')?.children ?? [];
      if (add.length > 10 || remove.length > 10) throw new Error('at most 10 tags to add and 10 to remove');
      const tags = new Map(check.tags);
      for (const key of remove) tags.delete(key.text);
      for (const tag of add) {
        if (tag.name !== 'Tag') throw new Error(`unexpected element ${tag.name} in AddTags`);
        expectChildren(tag, ['Key', 'Value']);
        const key = only(tag, 'Key').text;
        const value = tag.children.find((child) => child.name === 'Value')?.text ?? '';
        if (key.length < 1 || key.length > 128 || value.length > 256)
          throw new Error('tag keys are 1 to 128 characters, values at most 256');
        tags.set(key, value);
      }
      if (tags.size > 50) throw new Error('a resource has at most 50 tags');
      check.tags = tags;
      return ok(`<ChangeTagsForResourceResponse xmlns="${XMLNS}"></ChangeTagsForResourceResponse>`);
    } catch (error) {
      return this.invalid(request, (error as Error).message);
    }
  }

  private listTagsOf(request: CheckRequest): Reply {
    const parsed = this.parse(request, 'ListTagsForResourcesRequest', ['ResourceIds']);
    if ('status' in parsed) return parsed;
    const ids = only(parsed, 'ResourceIds').children.map((child) => child.text);
    if (ids.length < 1 || ids.length > 10) return this.invalid(request, 'ResourceIds must hold 1 to 10 ids');
    const missing = ids.find((id) => !this.checks.has(id));
    if (missing)
      return errorResponse(404, 'NoSuchHealthCheck', `No health check exists with the ID ${missing}`);
    const sets = ids.map((id) => tagSetXml(this.checks.get(id)!)).join('');
    return ok(
      `<ListTagsForResourcesResponse xmlns="${XMLNS}"><ResourceTagSets>${sets}</ResourceTagSets></ListTagsForResourcesResponse>`,
    );
  }

  /** The request's XML root, checked; or the InvalidInput answer. */
  private parse(request: CheckRequest, root: string, elements: string[]) {
    try {
      const node = parseXml(request.body);
      if (node.name !== root) throw new Error(`unexpected root element ${node.name}`);
      if (node.attributes.xmlns !== XMLNS) throw new Error(`the root element must be in namespace ${XMLNS}`);
      expectChildren(node, elements);
      return node;
    } catch (error) {
      return this.invalid(request, `Invalid XML ; ${(error as Error).message}`);
    }
  }

  private invalid(request: CheckRequest, message: string): Reply {
    this.violations.push(`${request.method} ${request.path}: ${message}`);
    return errorResponse(400, 'InvalidInput', message);
  }

  private onlyQuery(request: CheckRequest, allowed: string[]): void {
    for (const key of Object.keys(request.query)) {
      if (!allowed.includes(key))
        this.violations.push(`${request.method} ${request.path}: unknown query parameter ${key}`);
    }
  }

  /** One round: every check whose interval has passed is probed, all at once. */
  private async probeDue(): Promise<void> {
    const now = Date.now();
    const due = [...this.checks.values()].filter(
      (item) =>
        !item.config.disabled &&
        PROBED.has(item.config.type) &&
        now - item.probedAt >= (this.probeIntervalMs ?? item.config.requestInterval * 1000),
    );
    await Promise.all(
      due.map(async (item) => {
        item.probedAt = now;
        item.probes++;
        const result = await probe(item.config, this.resolve);
        item.lastStatus = { status: result.status, at: new Date().toISOString() };
        const healthy = item.config.inverted ? !result.ok : result.ok;
        item.against = healthy === item.healthy ? 0 : item.against + 1;
        if (item.against >= item.config.failureThreshold) {
          item.healthy = healthy;
          item.against = 0;
        }
      }),
    );
  }
}

/** The settings among `names` that `node` holds, validated one by one. */
function settings(node: ReturnType<typeof parseXml>, names: string[]): Partial<CheckConfig> {
  const out: Partial<CheckConfig> = {};
  for (const child of node.children) {
    if (!names.includes(child.name)) continue;
    const value = child.text;
    switch (child.name) {
      case 'IPAddress': {
        const family = isIP(value);
        if (family === 0) throw new Error(`IPAddress ${value} is not an IP address`);
        if (SPECIAL.check(value, family === 4 ? 'ipv4' : 'ipv6'))
          throw new Error(`IP address ${value} is in a range Route 53 does not check`);
        out.ipAddress = value;
        break;
      }
      case 'Port':
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 65535)
          throw new Error(`bad Port ${value}`);
        out.port = Number(value);
        break;
      case 'FailureThreshold':
        if (!/^\d+$/.test(value) || Number(value) < 1 || Number(value) > 10)
          throw new Error('FailureThreshold must be 1 to 10');
        out.failureThreshold = Number(value);
        break;
      case 'ResourcePath':
      case 'FullyQualifiedDomainName':
      case 'SearchString': {
        if (value.length > 255) throw new Error(`${child.name} is longer than 255 characters`);
        const key = (
          {
            ResourcePath: 'resourcePath',
            FullyQualifiedDomainName: 'fqdn',
            SearchString: 'searchString',
          } as const
        )[child.name];
        out[key] = value;
        break;
      }
      case 'Inverted':
      case 'Disabled':
      case 'EnableSNI':
        out[({ Inverted: 'inverted', Disabled: 'disabled', EnableSNI: 'enableSni' } as const)[child.name]] =
          bool(value);
        break;
      case 'Regions': {
        const regions = child.children.map((region) => {
          if (region.name !== 'Region' || !REGIONS.includes(region.text))
            throw new Error(`bad region ${region.text}`);
          return region.text;
        });
        if (regions.length < 3 || regions.length > 64)
          throw new Error('Regions must hold at least 3 regions');
        if (new Set(regions).size !== regions.length) throw new Error('Regions lists a region twice');
        out.regions = regions;
        break;
      }
    }
  }
  return out;
}

/** What must hold of a whole config, created or updated. */
function validate(config: CheckConfig): void {
  const matches = config.type.endsWith('_STR_MATCH');
  if (matches && !config.searchString) throw new Error(`${config.type} health checks need a SearchString`);
  if (!matches && config.searchString !== undefined)
    throw new Error('SearchString is only for *_STR_MATCH health checks');
  if (PROBED.has(config.type) && config.ipAddress === undefined && config.fqdn === undefined) {
    throw new Error('an endpoint health check needs IPAddress or FullyQualifiedDomainName');
  }
}

function bool(text: string): boolean {
  if (text !== 'true' && text !== 'false') throw new Error(`expected true or false, not ${text}`);
  return text === 'true';
}

/** One probe, as a Route 53 checker makes it. */
async function probe(
  config: CheckConfig,
  resolve: Map<string, string>,
): Promise<{ ok: boolean; status: string }> {
  const address = config.ipAddress ?? resolve.get(config.fqdn!.toLowerCase());
  if (address === undefined) return { ok: false, status: 'Failure: DNS resolution failed' };
  const https = config.type.startsWith('HTTPS');
  const port = config.port ?? (https ? 443 : 80);
  const name = config.fqdn ?? config.ipAddress!;
  const host = port === (https ? 443 : 80) ? name : `${name}:${port}`;
  return new Promise((done) => {
    let settled = false;
    const finish = (ok: boolean, status: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      request.destroy();
      done({ ok, status });
    };
    let timer = setTimeout(() => finish(false, 'Failure: the connection timed out'), CONNECT_MS);
    const options = {
      host: address,
      port,
      path: config.resourcePath ?? '/',
      headers: { host, 'user-agent': 'Amazon-Route53-Health-Check-Service (outlast stand-in)' },
      agent: false as const,
    };
    const request = https
      ? httpsRequest({
          ...options,
          rejectUnauthorized: false,
          ...(config.enableSni && config.fqdn ? { servername: config.fqdn } : {}),
        })
      : httpRequest(options);
    request.on('socket', (socket) =>
      socket.once(https ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        timer = setTimeout(() => finish(false, 'Failure: no answer within 2 seconds'), ANSWER_MS);
      }),
    );
    request.on('error', (error) => finish(false, `Failure: ${error.message}`));
    request.on('response', (response: IncomingMessage) => {
      const status = response.statusCode ?? 0;
      const line = `HTTP Status Code ${status}, ${response.statusMessage ?? ''}`;
      if (status < 200 || status >= 400) return finish(false, `Failure: ${line}`);
      if (!config.searchString) return finish(true, `Success: ${line}`);
      clearTimeout(timer);
      timer = setTimeout(() => finish(false, 'Failure: the body did not arrive within 2 seconds'), ANSWER_MS);
      const encoding = response.headers['content-encoding'];
      const body =
        encoding === 'gzip'
          ? response.pipe(createGunzip())
          : encoding === 'deflate'
            ? response.pipe(createInflate())
            : response;
      const wanted = Buffer.from(config.searchString, 'utf8');
      let seen = Buffer.alloc(0);
      const judge = () => {
        const found = seen.subarray(0, SEARCH_BYTES).includes(wanted);
        finish(
          found,
          found
            ? `Success: ${line}`
            : `Failure: the search string was not found in the first ${SEARCH_BYTES} bytes`,
        );
      };
      body.on('data', (chunk: Buffer) => {
        seen = Buffer.concat([seen, chunk]);
        if (seen.length >= SEARCH_BYTES) judge();
      });
      body.on('end', judge);
      body.on('error', (error: Error) => finish(false, `Failure: ${error.message}`));
    });
    request.end();
  });
}

function checkXml(check: StoredCheck): string {
  const c = check.config;
  const parts = [
    `<Type>${c.type}</Type>`,
    c.ipAddress === undefined ? '' : `<IPAddress>${c.ipAddress}</IPAddress>`,
    c.port === undefined ? '' : `<Port>${c.port}</Port>`,
    c.resourcePath === undefined ? '' : `<ResourcePath>${escapeXml(c.resourcePath)}</ResourcePath>`,
    c.fqdn === undefined ? '' : `<FullyQualifiedDomainName>${escapeXml(c.fqdn)}</FullyQualifiedDomainName>`,
    c.searchString === undefined ? '' : `<SearchString>${escapeXml(c.searchString)}</SearchString>`,
    `<RequestInterval>${c.requestInterval}</RequestInterval><FailureThreshold>${c.failureThreshold}</FailureThreshold>`,
    `<MeasureLatency>${c.measureLatency}</MeasureLatency><Inverted>${c.inverted}</Inverted><Disabled>${c.disabled}</Disabled>`,
    c.enableSni === undefined ? '' : `<EnableSNI>${c.enableSni}</EnableSNI>`,
    c.regions === undefined
      ? ''
      : `<Regions>${c.regions.map((region) => `<Region>${region}</Region>`).join('')}</Regions>`,
  ];
  return `<HealthCheck><Id>${check.id}</Id><CallerReference>${escapeXml(check.reference)}</CallerReference><HealthCheckConfig>${parts.join('')}</HealthCheckConfig><HealthCheckVersion>${check.version}</HealthCheckVersion></HealthCheck>`;
}

function tagSetXml(check: StoredCheck): string {
  const tags = [...check.tags].map(
    ([key, value]) => `<Tag><Key>${escapeXml(key)}</Key><Value>${escapeXml(value)}</Value></Tag>`,
  );
  return `<ResourceTagSet><ResourceType>healthcheck</ResourceType><ResourceId>${check.id}</ResourceId><Tags>${tags.join('')}</Tags></ResourceTagSet>`;
}
