/**
 * A stand-in Route 53 on 127.0.0.1, written from the Route 53 API reference (2013-04-01), for the
 * route53 provider's tests. It keeps hosted zones and their record sets in memory and checks every
 * request as the service would:
 *
 * - SigV4: the Authorization header is recomputed with @smithy/signature-v4 over what arrived
 *   (service `route53`, region us-east-1, the signed headers, the body), the date must be within
 *   5 minutes; otherwise 403 SignatureDoesNotMatch / InvalidClientTokenId, as Route 53 answers.
 * - paths and query parameters of the operations the providers use (the record sets, and for
 *   native failover the health checks of route53-health.ts and TestDNSAnswer); anything else is a
 *   violation (recorded) and an error answer.
 * - ChangeResourceRecordSets: the XML body is parsed and validated element by element, in the
 *   XSD's order; the batch runs on a copy of the zone, change by change, and is saved only when
 *   every change succeeds. A DELETE must match the stored set exactly (TTL, values in any order,
 *   alias target, set identifier), a CREATE must not find the set, a CNAME cannot sit beside other
 *   data; failures answer InvalidChangeBatch with Route 53's messages, in either XML form.
 * - failover sets: a SetIdentifier, a health check that exists, an alias with EvaluateTargetHealth
 *   to a set of the same type in the zone, and after the batch exactly one PRIMARY and one
 *   SECONDARY per name and type.
 * - TestDNSAnswer answers as Route 53 would: aliases followed, and of a failover pair the primary
 *   while it is healthy (its health check passes and, for an alias that evaluates target health,
 *   some set at the target is healthy), else the secondary while it is, else the primary.
 *
 * `violations` lists requests the real service would refuse for their shape: tests assert it is
 * empty, so the provider is proven to send only what Route 53 takes.
 */
import { createHash, createHmac } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { isIP } from 'node:net';
import { SignatureV4 } from '@smithy/signature-v4';
import { HealthChecks } from './route53-health.ts';
import {
  errorResponse,
  escapeXml,
  expectChildren,
  ok,
  only,
  parseXml,
  type Reply,
  XMLNS,
  type XmlNode,
} from './route53-xml.ts';

export { errorResponse, type Reply } from './route53-xml.ts';

const REGION = 'us-east-1';
const SERVICE = 'route53';
const MAX_CLOCK_SKEW_MS = 5 * 60_000;
const RR_TYPES = new Set([
  'SOA',
  'A',
  'TXT',
  'NS',
  'CNAME',
  'MX',
  'NAPTR',
  'PTR',
  'SRV',
  'SPF',
  'AAAA',
  'CAA',
  'DS',
  'TLSA',
  'SSHFP',
  'SVCB',
  'HTTPS',
]);
/** ResourceRecordSet's elements in the order of Route 53's XSD (a sequence). */
const SET_ELEMENTS = [
  'Name',
  'Type',
  'SetIdentifier',
  'Weight',
  'Region',
  'GeoLocation',
  'Failover',
  'MultiValueAnswer',
  'TTL',
  'ResourceRecords',
  'AliasTarget',
  'HealthCheckId',
  'TrafficPolicyInstanceId',
  'CidrRoutingConfig',
  'GeoProximityLocation',
];

/** The elements that make a set one of several at a name and type (each needs a SetIdentifier). */
const ROUTING_ELEMENTS = [
  'Weight',
  'Region',
  'GeoLocation',
  'Failover',
  'MultiValueAnswer',
  'CidrRoutingConfig',
  'GeoProximityLocation',
];
/** The types a failover record set may have. */
const FAILOVER_TYPES = new Set(['A', 'AAAA', 'CAA', 'CNAME', 'MX', 'NAPTR', 'PTR', 'SPF', 'SRV', 'TXT']);

export interface StoredSet {
  /** Lowercase, with the trailing dot. */
  name: string;
  type: string;
  ttl?: number;
  values?: string[];
  setIdentifier?: string;
  weight?: number;
  failover?: 'PRIMARY' | 'SECONDARY';
  alias?: { hostedZoneId: string; dnsName: string; evaluateTargetHealth: boolean };
  healthCheckId?: string;
}

export interface StandInZone {
  id: string;
  /** Lowercase, with the trailing dot. */
  name: string;
  private: boolean;
  sets: StoredSet[];
}

export interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Node's crypto as the signer's hash constructor (a key makes it an HMAC). */
class Sha256 {
  private hash;
  constructor(secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = secret === undefined ? createHash('sha256') : createHmac('sha256', bytesOf(secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(bytesOf(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {}
}

export class Route53StandIn {
  readonly requests: Recorded[] = [];
  /** Requests the real service would refuse for their shape; tests expect none. */
  readonly violations: string[] = [];
  readonly zones = new Map<string, StandInZone>();
  accessKeyId = 'AKIDOUTLASTR53';
  secretAccessKey = 'route53-stand-in-secret-0123456789';
  /** `messages`: `<InvalidChangeBatch><Messages>…`; `error-response`: `<ErrorResponse><Error>…`. */
  invalidChangeBatchForm: 'messages' | 'error-response' = 'messages';
  /** GetChange answers PENDING this many times per change, then INSYNC. */
  syncAfterPolls = 2;
  /** Answers given to the next requests (after the signature check) instead of the normal ones. */
  readonly nextReplies: Reply[] = [];
  endpoint = '';
  /** The account's health checks and their checkers (route53-health.ts). */
  readonly health: HealthChecks = new HealthChecks(
    this.violations,
    (id) => [...this.zones.values()].some((zone) => zone.sets.some((set) => set.healthCheckId === id)),
    () => this.endpoint,
  );
  private server: Server | undefined;
  private changes = new Map<string, { polls: number; submittedAt: string }>();
  private changeCounter = 0;

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        void this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, Buffer.concat(chunks)).then(
          (reply) => {
            res.writeHead(reply.status, { 'content-type': 'text/xml', ...reply.headers });
            res.end(reply.body);
          },
          (error: unknown) => {
            res.writeHead(500);
            res.end(String(error));
          },
        );
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as { port: number };
    this.endpoint = `http://127.0.0.1:${port}`;
    this.health.start();
  }

  async stop(): Promise<void> {
    await this.health.stop();
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  /** A hosted zone with Route 53's own SOA and NS sets at the apex. */
  addZone(id: string, name: string, options: { private?: boolean } = {}): StandInZone {
    const apex = absolute(name);
    const zone: StandInZone = {
      id,
      name: apex,
      private: options.private ?? false,
      sets: [
        { name: apex, type: 'NS', ttl: 172800, values: ['ns-1.awsdns-01.org.', 'ns-2.awsdns-02.net.'] },
        {
          name: apex,
          type: 'SOA',
          ttl: 900,
          values: ['ns-1.awsdns-01.org. awsdns-hostmaster.amazon.com. 1 7200 900 1209600 86400'],
        },
      ],
    };
    this.zones.set(id, zone);
    return zone;
  }

  /** Removes every set but the apex SOA and NS. */
  reset(zoneId: string): void {
    const zone = this.zones.get(zoneId)!;
    zone.sets = zone.sets.filter(
      (set) => set.name === zone.name && (set.type === 'SOA' || set.type === 'NS'),
    );
  }

  /** Writes (or deletes, without values) one plain set, as another writer would. */
  put(zoneId: string, name: string, type: string, ttl: number, values: string[] | undefined): void {
    const zone = this.zones.get(zoneId)!;
    const at = absolute(name);
    zone.sets = zone.sets.filter((set) => !(set.name === at && set.type === type));
    if (values) zone.sets.push({ name: at, type, ttl, values });
  }

  /** Adds a set of any shape (alias, routing policy). */
  add(zoneId: string, set: StoredSet): void {
    this.zones.get(zoneId)!.sets.push({ ...set, name: absolute(set.name) });
  }

  /** What the zone serves at `name` for `type`: the values of its plain set ([] when none). */
  served(zoneId: string, name: string, type: string): string[] {
    const at = absolute(name);
    const set = this.zones.get(zoneId)?.sets.find((item) => item.name === at && item.type === type);
    return (set?.values ?? []).map((value) => (type === 'CNAME' ? value.replace(/\.$/, '') : value));
  }

  /** The recorded requests of one operation, e.g. `POST rrset`. */
  calls(method: string, pathEnd: RegExp): Recorded[] {
    return this.requests.filter((request) => request.method === method && pathEnd.test(request.path));
  }

  private async handle(
    method: string,
    url: string,
    headers: IncomingHttpHeaders,
    raw: Buffer,
  ): Promise<Reply> {
    const parsed = new URL(url, 'http://stand-in');
    const query: Record<string, string> = {};
    for (const [key, value] of parsed.searchParams) {
      if (key in query) this.violations.push(`${method} ${parsed.pathname}: query parameter ${key} twice`);
      query[key] = value;
    }
    const request: Recorded = { method, path: parsed.pathname, query, headers, body: raw.toString('utf8') };
    this.requests.push(request);
    const refused = await this.checkSignature(request, url, raw);
    if (refused) return refused;
    const next = this.nextReplies.shift();
    if (next) return next;
    return this.route(request);
  }

  /** Recomputes SigV4 over what arrived; a mismatch is Route 53's 403. */
  private async checkSignature(request: Recorded, url: string, body: Buffer): Promise<Reply | undefined> {
    const authorization = String(request.headers.authorization ?? '');
    const match =
      /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
        authorization,
      );
    if (!match) return errorResponse(403, 'MissingAuthenticationToken', 'Missing Authentication Token');
    const [, keyId, day, region, service, signedHeaders, signature] = match;
    if (keyId !== this.accessKeyId) {
      return errorResponse(
        403,
        'InvalidClientTokenId',
        'The security token included in the request is invalid.',
      );
    }
    if (region !== REGION || service !== SERVICE) {
      return errorResponse(
        403,
        'SignatureDoesNotMatch',
        `Credential should be scoped to a valid region and service, not '${region}/${service}'.`,
      );
    }
    const names = signedHeaders!.split(';');
    if (!names.includes('host') || !names.includes('x-amz-date')) {
      return errorResponse(403, 'IncompleteSignature', 'host and x-amz-date must be signed');
    }
    const amzDate = String(request.headers['x-amz-date'] ?? '');
    const signingDate = new Date(
      `${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`,
    );
    if (Number.isNaN(signingDate.getTime()) || amzDate.slice(0, 8) !== day) {
      return errorResponse(403, 'IncompleteSignature', 'bad x-amz-date');
    }
    if (Math.abs(Date.now() - signingDate.getTime()) > MAX_CLOCK_SKEW_MS) {
      return errorResponse(
        403,
        'SignatureDoesNotMatch',
        `Signature expired: ${amzDate} is now earlier than the allowed time.`,
      );
    }
    const signed: Record<string, string> = {};
    for (const name of names) signed[name] = String(request.headers[name] ?? '');
    const signer = new SignatureV4({
      credentials: { accessKeyId: this.accessKeyId, secretAccessKey: this.secretAccessKey },
      region: REGION,
      service: SERVICE,
      sha256: Sha256,
    });
    const expected = await signer.sign(
      {
        method: request.method,
        protocol: 'http:',
        hostname: '127.0.0.1',
        path: new URL(url, 'http://stand-in').pathname,
        query: request.query,
        headers: signed,
        body,
      },
      { signingDate, signableHeaders: new Set(names) },
    );
    const expectedSignature = /Signature=([0-9a-f]{64})/.exec(String(expected.headers.authorization))?.[1];
    if (expectedSignature !== signature) {
      return errorResponse(
        403,
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      );
    }
    return undefined;
  }

  /** What Route 53 answers for `name` and `type` now (TestDNSAnswer's RecordData). */
  answer(zoneId: string, name: string, type: string): string[] {
    return this.resolve(this.zones.get(zoneId)!, absolute(name), type, 0);
  }

  private route(request: Recorded): Reply {
    const { method, path, query } = request;
    if (method === 'GET' && path === '/2013-04-01/hostedzonesbyname') return this.listZones(request, query);
    if (method === 'GET' && path === '/2013-04-01/testdnsanswer') return this.testDnsAnswer(request);
    const checks = this.health.route(request);
    if (checks) return checks;
    const hostedZone = /^\/2013-04-01\/hostedzone\/([A-Z0-9]+)$/.exec(path);
    if (hostedZone && method === 'GET') {
      this.onlyQuery(request, []);
      const zone = this.zones.get(hostedZone[1]!);
      if (!zone)
        return errorResponse(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${hostedZone[1]}`);
      const delegation = zone.private
        ? '<VPCs><VPC><VPCRegion>us-east-1</VPCRegion><VPCId>vpc-1</VPCId></VPC></VPCs>'
        : '<DelegationSet><NameServers><NameServer>ns-1.awsdns-01.org</NameServer><NameServer>ns-2.awsdns-02.net</NameServer></NameServers></DelegationSet>';
      return ok(
        `<GetHostedZoneResponse xmlns="${XMLNS}">${zoneXml(zone)}${delegation}</GetHostedZoneResponse>`,
      );
    }
    const rrset = /^\/2013-04-01\/hostedzone\/([A-Z0-9]+)\/rrset\/?$/.exec(path);
    if (rrset) {
      const zone = this.zones.get(rrset[1]!);
      if (method === 'GET') {
        if (!zone) return errorResponse(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${rrset[1]}`);
        return this.listSets(request, zone);
      }
      if (method === 'POST') {
        if (!zone) return errorResponse(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${rrset[1]}`);
        return this.changeSets(request, zone);
      }
    }
    const changeId = /^\/2013-04-01\/change\/([A-Z0-9]+)$/.exec(path);
    if (changeId && method === 'GET') {
      this.onlyQuery(request, []);
      const change = this.changes.get(changeId[1]!);
      if (!change)
        return errorResponse(404, 'NoSuchChange', `A change with the specified change ID does not exist.`);
      change.polls++;
      const status = change.polls > this.syncAfterPolls ? 'INSYNC' : 'PENDING';
      return ok(
        `<GetChangeResponse xmlns="${XMLNS}"><ChangeInfo><Id>/change/${changeId[1]}</Id><Status>${status}</Status><SubmittedAt>${change.submittedAt}</SubmittedAt></ChangeInfo></GetChangeResponse>`,
      );
    }
    this.violations.push(`${method} ${path}: not an operation the provider should call`);
    return errorResponse(404, 'UnknownOperationException', `Unknown operation ${method} ${path}`);
  }

  private onlyQuery(request: Recorded, allowed: string[]): void {
    for (const key of Object.keys(request.query)) {
      if (!allowed.includes(key))
        this.violations.push(`${request.method} ${request.path}: unknown query parameter ${key}`);
    }
  }

  private invalidInput(request: Recorded, message: string): Reply {
    this.violations.push(`${request.method} ${request.path}: ${message}`);
    return errorResponse(400, 'InvalidInput', message);
  }

  private listZones(request: Recorded, query: Record<string, string>): Reply {
    this.onlyQuery(request, ['dnsname', 'hostedzoneid', 'maxitems']);
    if (query.hostedzoneid !== undefined && query.dnsname === undefined) {
      return this.invalidInput(request, 'hostedzoneid requires dnsname');
    }
    const max = query.maxitems === undefined ? 100 : Number(query.maxitems);
    if (!Number.isInteger(max) || max < 1 || max > 100)
      return this.invalidInput(request, 'maxitems must be 1 to 100');
    const zones = [...this.zones.values()].sort(
      (a, b) => compare(sortName(a.name), sortName(b.name)) || compare(a.id, b.id),
    );
    const from = query.dnsname === undefined ? '' : sortName(absolute(query.dnsname));
    const startId = query.hostedzoneid;
    const listed = zones.filter((zone) => {
      const order = compare(sortName(zone.name), from);
      return order > 0 || (order === 0 && (startId === undefined || zone.id >= startId));
    });
    const page = listed.slice(0, max);
    const next = listed[max];
    const nextXml = next
      ? `<NextDNSName>${next.name}</NextDNSName><NextHostedZoneId>${next.id}</NextHostedZoneId>`
      : '';
    const dnsName = query.dnsname === undefined ? '' : `<DNSName>${escapeXml(query.dnsname)}</DNSName>`;
    return ok(
      `<ListHostedZonesByNameResponse xmlns="${XMLNS}"><HostedZones>${page.map(zoneXml).join('')}</HostedZones>${dnsName}<IsTruncated>${next !== undefined}</IsTruncated><MaxItems>${max}</MaxItems>${nextXml}</ListHostedZonesByNameResponse>`,
    );
  }

  private listSets(request: Recorded, zone: StandInZone): Reply {
    const { query } = request;
    this.onlyQuery(request, ['name', 'type', 'identifier', 'maxitems']);
    if (query.type !== undefined && query.name === undefined)
      return this.invalidInput(request, 'type requires name');
    if (query.identifier !== undefined && query.type === undefined)
      return this.invalidInput(request, 'identifier requires type');
    if (query.type !== undefined && !RR_TYPES.has(query.type))
      return this.invalidInput(request, `bad type ${query.type}`);
    const max = query.maxitems === undefined ? 300 : Number(query.maxitems);
    if (!Number.isInteger(max) || max < 1 || max > 300)
      return this.invalidInput(request, 'maxitems must be 1 to 300');
    const sorted = [...zone.sets].sort(
      (a, b) =>
        compare(sortName(a.name), sortName(b.name)) ||
        compare(a.type, b.type) ||
        compare(a.setIdentifier ?? '', b.setIdentifier ?? ''),
    );
    const from = query.name === undefined ? undefined : sortName(absolute(query.name));
    const listed = sorted.filter((set) => {
      if (from === undefined) return true;
      const byName = compare(sortName(set.name), from);
      if (byName !== 0 || query.type === undefined) return byName >= 0;
      const byType = compare(set.type, query.type);
      if (byType !== 0 || query.identifier === undefined) return byType >= 0;
      return compare(set.setIdentifier ?? '', query.identifier) >= 0;
    });
    const page = listed.slice(0, max);
    const next = listed[max];
    const nextXml = next
      ? `<NextRecordName>${next.name}</NextRecordName><NextRecordType>${next.type}</NextRecordType>${next.setIdentifier === undefined ? '' : `<NextRecordIdentifier>${escapeXml(next.setIdentifier)}</NextRecordIdentifier>`}`
      : '';
    return ok(
      `<ListResourceRecordSetsResponse xmlns="${XMLNS}"><ResourceRecordSets>${page.map(setXml).join('')}</ResourceRecordSets><IsTruncated>${next !== undefined}</IsTruncated><MaxItems>${max}</MaxItems>${nextXml}</ListResourceRecordSetsResponse>`,
    );
  }

  private changeSets(request: Recorded, zone: StandInZone): Reply {
    this.onlyQuery(request, []);
    let root: XmlNode;
    try {
      root = parseXml(request.body);
    } catch (error) {
      return this.invalidInput(request, `Invalid XML ; ${(error as Error).message}`);
    }
    let changes: Array<{ action: string; set: StoredSet }>;
    try {
      changes = readChangeBatch(root);
    } catch (error) {
      return this.invalidInput(request, (error as Error).message);
    }
    const work = zone.sets.map((set) => ({ ...set }));
    const messages: string[] = [];
    for (const { action, set } of changes) {
      const problem =
        applyChange(work, zone.name, action, set) ??
        (action === 'DELETE' ? undefined : this.checkReferences(work, zone, set));
      if (problem) messages.push(problem);
    }
    if (messages.length === 0) messages.push(...failoverPairs(work));
    if (messages.length > 0) return this.invalidChangeBatch(messages);
    zone.sets = work;
    const id = `C${String(++this.changeCounter).padStart(12, '0')}`;
    const submittedAt = new Date().toISOString();
    this.changes.set(id, { polls: 0, submittedAt });
    return ok(
      `<ChangeResourceRecordSetsResponse xmlns="${XMLNS}"><ChangeInfo><Id>/change/${id}</Id><Status>PENDING</Status><SubmittedAt>${submittedAt}</SubmittedAt><Comment>outlast</Comment></ChangeInfo></ChangeResourceRecordSetsResponse>`,
    );
  }

  /** A set's health check must exist, an alias to this zone must find its target (as written so far). */
  private checkReferences(sets: StoredSet[], zone: StandInZone, set: StoredSet): string | undefined {
    if (set.healthCheckId !== undefined && !this.health.checks.has(set.healthCheckId)) {
      return `Tried to create resource record set [name='${set.name}', type='${set.type}'] with health check ${set.healthCheckId}, but no such health check exists`;
    }
    const alias = set.alias;
    if (!alias || alias.hostedZoneId.replace(/^\/hostedzone\//, '') !== zone.id) return undefined;
    if (alias.dnsName !== zone.name && !alias.dnsName.endsWith(`.${zone.name}`)) {
      return `Tried to create an alias that targets ${alias.dnsName}, type ${set.type} in zone ${zone.id}, but the alias target name does not lie within the target zone`;
    }
    if (!sets.some((held) => held.name === alias.dnsName && held.type === set.type)) {
      return `Tried to create an alias that targets ${alias.dnsName}, type ${set.type} in zone ${zone.id}, but that target was not found`;
    }
    return undefined;
  }

  private testDnsAnswer(request: Recorded): Reply {
    const { query } = request;
    this.onlyQuery(request, [
      'hostedzoneid',
      'recordname',
      'recordtype',
      'resolverip',
      'edns0clientsubnetip',
      'edns0clientsubnetmask',
    ]);
    if (!query.hostedzoneid || !query.recordname || !query.recordtype) {
      return this.invalidInput(request, 'hostedzoneid, recordname and recordtype are required');
    }
    if (!RR_TYPES.has(query.recordtype))
      return this.invalidInput(request, `bad recordtype ${query.recordtype}`);
    const zone = this.zones.get(query.hostedzoneid);
    if (!zone)
      return errorResponse(404, 'NoSuchHostedZone', `No hosted zone found with ID: ${query.hostedzoneid}`);
    if (zone.private) return this.invalidInput(request, 'TestDNSAnswer supports only public hosted zones');
    const name = absolute(query.recordname);
    const exists = zone.sets.some((set) => set.name === name || set.name.endsWith(`.${name}`));
    const data = this.resolve(zone, name, query.recordtype, 0);
    const entries = data.map((value) => `<RecordDataEntry>${escapeXml(value)}</RecordDataEntry>`).join('');
    return ok(
      `<TestDNSAnswerResponse xmlns="${XMLNS}"><Nameserver>ns-1.awsdns-01.org</Nameserver><RecordName>${escapeXml(query.recordname)}</RecordName><RecordType>${query.recordtype}</RecordType><RecordData>${entries}</RecordData><ResponseCode>${exists ? 'NOERROR' : 'NXDOMAIN'}</ResponseCode><Protocol>UDP</Protocol></TestDNSAnswerResponse>`,
    );
  }

  /** The values Route 53 answers: aliases followed, failover chosen by health. */
  private resolve(zone: StandInZone, name: string, type: string, depth: number): string[] {
    const sets = zone.sets.filter((set) => set.name === name && set.type === type);
    if (sets.length === 0 || depth > 16) return [];
    const primary = sets.find((set) => set.failover === 'PRIMARY');
    const secondary = sets.find((set) => set.failover === 'SECONDARY');
    let chosen = sets[0]!;
    if (primary || secondary) {
      // When no record is healthy, all are: the primary is answered.
      chosen =
        [primary, secondary].find((set) => set && this.healthy(zone, set, depth)) ?? (primary ?? secondary)!;
    }
    const alias = chosen.alias;
    if (!alias) return chosen.values ?? [];
    return alias.hostedZoneId.replace(/^\/hostedzone\//, '') === zone.id
      ? this.resolve(zone, alias.dnsName, type, depth + 1)
      : [];
  }

  /** A set is healthy while its check passes and, when it evaluates its target's health, some set there is. */
  private healthy(zone: StandInZone, set: StoredSet, depth: number): boolean {
    // A check that does not exist (deleted under the set) is unpredictable at Route 53: here, unhealthy.
    if (set.healthCheckId !== undefined && this.health.healthy(set.healthCheckId) !== true) return false;
    const alias = set.alias;
    if (!alias?.evaluateTargetHealth || depth > 16) return true;
    return zone.sets.some(
      (target) =>
        target.name === alias.dnsName && target.type === set.type && this.healthy(zone, target, depth + 1),
    );
  }

  private invalidChangeBatch(messages: string[]): Reply {
    if (this.invalidChangeBatchForm === 'error-response') {
      return errorResponse(400, 'InvalidChangeBatch', messages.join(', '));
    }
    const listed = messages.map((message) => `<Message>${escapeXml(message)}</Message>`).join('');
    return {
      status: 400,
      body: `<?xml version="1.0" encoding="UTF-8"?>\n<InvalidChangeBatch xmlns="${XMLNS}"><Messages>${listed}</Messages><RequestId>standin-request</RequestId></InvalidChangeBatch>`,
    };
  }
}

/** The ChangeBatch's changes, validated as Route 53's XSD and API reference say. */
function readChangeBatch(root: XmlNode): Array<{ action: string; set: StoredSet }> {
  if (root.name !== 'ChangeResourceRecordSetsRequest')
    throw new Error(`unexpected root element ${root.name}`);
  if (root.attributes.xmlns !== XMLNS) throw new Error(`the root element must be in namespace ${XMLNS}`);
  const batch = only(root, 'ChangeBatch');
  expectChildren(batch, ['Changes', 'Comment']);
  const comment = batch.children.find((child) => child.name === 'Comment');
  if (comment && comment.text.length > 256) throw new Error('Comment is longer than 256 characters');
  const list = only(batch, 'Changes');
  if (list.children.length === 0 || list.children.length > 1000)
    throw new Error('Changes must hold 1 to 1000 Change');
  return list.children.map((change) => {
    if (change.name !== 'Change') throw new Error(`unexpected element ${change.name} in Changes`);
    expectChildren(change, ['Action', 'ResourceRecordSet']);
    const action = only(change, 'Action').text;
    if (!['CREATE', 'DELETE', 'UPSERT'].includes(action)) throw new Error(`bad Action ${action}`);
    return { action, set: readSet(only(change, 'ResourceRecordSet')) };
  });
}

function readSet(node: XmlNode): StoredSet {
  expectChildren(node, SET_ELEMENTS);
  const text = (name: string) => node.children.find((child) => child.name === name)?.text;
  const name = text('Name');
  const type = text('Type');
  if (!name || !type) throw new Error('a ResourceRecordSet needs Name and Type');
  if (!RR_TYPES.has(type)) throw new Error(`bad Type ${type}`);
  const set: StoredSet = { name: absolute(name), type };
  const ttl = text('TTL');
  if (ttl !== undefined) {
    if (!/^\d+$/.test(ttl) || Number(ttl) > 2147483647) throw new Error(`bad TTL ${ttl}`);
    set.ttl = Number(ttl);
  }
  const records = node.children.find((child) => child.name === 'ResourceRecords');
  if (records) {
    if (records.children.length === 0)
      throw new Error('ResourceRecords must hold at least one ResourceRecord');
    set.values = records.children.map((record) => {
      if (record.name !== 'ResourceRecord')
        throw new Error(`unexpected element ${record.name} in ResourceRecords`);
      expectChildren(record, ['Value']);
      return only(record, 'Value').text;
    });
  }
  const alias = node.children.find((child) => child.name === 'AliasTarget');
  if (alias) {
    expectChildren(alias, ['HostedZoneId', 'DNSName', 'EvaluateTargetHealth']);
    set.alias = {
      hostedZoneId: only(alias, 'HostedZoneId').text,
      dnsName: absolute(only(alias, 'DNSName').text),
      evaluateTargetHealth: only(alias, 'EvaluateTargetHealth').text === 'true',
    };
  }
  const identifier = text('SetIdentifier');
  if (identifier !== undefined) set.setIdentifier = identifier;
  const weight = text('Weight');
  if (weight !== undefined) set.weight = Number(weight);
  const failover = text('Failover');
  if (failover !== undefined) {
    if (failover !== 'PRIMARY' && failover !== 'SECONDARY') throw new Error(`bad Failover ${failover}`);
    if (!FAILOVER_TYPES.has(type)) throw new Error(`failover record sets cannot be of type ${type}`);
    set.failover = failover;
  }
  const healthCheckId = text('HealthCheckId');
  if (healthCheckId !== undefined) set.healthCheckId = healthCheckId;
  if (identifier !== undefined && (identifier.length < 1 || identifier.length > 128)) {
    throw new Error('SetIdentifier must be 1 to 128 characters');
  }
  const policies = ROUTING_ELEMENTS.filter((element) =>
    node.children.some((child) => child.name === element),
  );
  if ((identifier !== undefined) !== policies.length > 0 || policies.length > 1) {
    throw new Error(
      'a SetIdentifier goes with a routing policy (Weight, Region, GeoLocation, Failover, …) and only with one',
    );
  }
  if (set.failover && set.alias && !set.alias.evaluateTargetHealth) {
    throw new Error('a failover alias record set must have EvaluateTargetHealth true');
  }
  if (set.alias && (set.ttl !== undefined || set.values))
    throw new Error('an alias set has neither TTL nor ResourceRecords');
  if (!set.alias && (set.ttl === undefined || !set.values))
    throw new Error('a set without AliasTarget needs TTL and ResourceRecords');
  return set;
}

/** One change on the working copy; Route 53's message when it cannot be made. */
function applyChange(
  sets: StoredSet[],
  zoneName: string,
  action: string,
  set: StoredSet,
): string | undefined {
  const where = `[name='${set.name}', type='${set.type}'${set.setIdentifier === undefined ? '' : `, set-identifier='${set.setIdentifier}'`}]`;
  if (set.name !== zoneName && !set.name.endsWith(`.${zoneName}`)) {
    return `RRSet with DNS name ${set.name} is not permitted in zone ${zoneName}`;
  }
  const index = sets.findIndex(
    (held) => held.name === set.name && held.type === set.type && held.setIdentifier === set.setIdentifier,
  );
  if (action === 'DELETE') {
    if (index < 0) return `Tried to delete resource record set ${where} but it was not found`;
    if (!sameStored(sets[index]!, set)) {
      return `Tried to delete resource record set ${where} but the values provided do not match the current values`;
    }
    sets.splice(index, 1);
    return undefined;
  }
  if (action === 'CREATE' && index >= 0)
    return `Tried to create resource record set ${where} but it already exists`;
  const invalid = invalidValues(set);
  if (invalid) return invalid;
  const others = sets.filter((held, at) => held.name === set.name && at !== index);
  if (
    set.type === 'CNAME' &&
    others.some((held) => held.type !== 'CNAME' || held.setIdentifier === set.setIdentifier)
  ) {
    return `RRSet of type CNAME with DNS name ${set.name} is not permitted as it conflicts with other records with the same DNS name in zone ${zoneName}`;
  }
  if (set.type !== 'CNAME' && others.some((held) => held.type === 'CNAME')) {
    return `RRSet of type ${set.type} with DNS name ${set.name} is not permitted because a conflicting RRSet of type  CNAME with the same DNS name already exists in zone ${zoneName}`;
  }
  if (
    others.some(
      (held) =>
        held.type === set.type && (held.setIdentifier === undefined) !== (set.setIdentifier === undefined),
    )
  ) {
    return `RRSet with DNS name ${set.name}, type ${set.type} cannot be created as other RRSets exist with the same name and type.`;
  }
  if (index >= 0) sets.splice(index, 1, set);
  else sets.push(set);
  return undefined;
}

/** After a batch: failover sets come as exactly one PRIMARY and one SECONDARY per name and type. */
function failoverPairs(sets: StoredSet[]): string[] {
  const groups = new Map<string, StoredSet[]>();
  for (const set of sets.filter((item) => item.failover)) {
    const key = `${set.name} ${set.type}`;
    groups.set(key, [...(groups.get(key) ?? []), set]);
  }
  const messages: string[] = [];
  for (const [key, group] of groups) {
    const roles = group.map((set) => set.failover).sort();
    if (roles.join() !== 'PRIMARY,SECONDARY') {
      messages.push(
        `The failover record sets for ${key} must be one PRIMARY and one SECONDARY, not ${roles.join(', ')}`,
      );
    }
  }
  const kinds = new Map<string, string>();
  for (const set of sets.filter((item) => item.setIdentifier !== undefined)) {
    const key = `${set.name} ${set.type}`;
    const kind = set.failover ? 'failover' : set.weight !== undefined ? 'weighted' : 'other';
    if ((kinds.get(key) ?? kind) !== kind) messages.push(`RRSet ${key} mixes routing policies`);
    kinds.set(key, kind);
  }
  return messages;
}

function invalidValues(set: StoredSet): string | undefined {
  const values = set.values ?? [];
  const seen = new Set<string>();
  for (const value of values) {
    if (seen.has(value)) return `[Duplicate Resource Record: '${value}']`;
    seen.add(value);
    if (set.type === 'A' && isIP(value) !== 4) {
      return `[Invalid Resource Record: 'FATAL problem: ARRDATAIllegalIPv4Address (Value is not a valid IPv4 address) encountered with '${value}'']`;
    }
    if (set.type === 'AAAA' && isIP(value) !== 6) {
      return `[Invalid Resource Record: 'FATAL problem: AAAARRDATAIllegalIPv6Address (Value is not a valid IPv6 address) encountered with '${value}'']`;
    }
    if (set.type === 'CNAME' && !/^[a-z0-9_.-]+$/i.test(value)) {
      return `[Invalid Resource Record: 'FATAL problem: DomainLabelEmpty (Domain label is empty) encountered with '${value}'']`;
    }
  }
  if (set.type === 'CNAME' && values.length > 1) {
    return `[RRSet of type CNAME with DNS name ${set.name} has more than one resource record]`;
  }
  return undefined;
}

/** A DELETE matches only the set exactly as stored: TTL, values (any order), alias, policy. */
function sameStored(held: StoredSet, given: StoredSet): boolean {
  const values = (set: StoredSet) => JSON.stringify([...(set.values ?? [])].sort());
  return (
    held.ttl === given.ttl &&
    values(held) === values(given) &&
    JSON.stringify(held.alias ?? null) === JSON.stringify(given.alias ?? null) &&
    held.weight === given.weight &&
    held.failover === given.failover &&
    held.healthCheckId === given.healthCheckId
  );
}

function zoneXml(zone: StandInZone): string {
  const count = zone.sets.length;
  return `<HostedZone><Id>/hostedzone/${zone.id}</Id><Name>${zone.name}</Name><CallerReference>stand-in-${zone.id}</CallerReference><Config><PrivateZone>${zone.private}</PrivateZone></Config><ResourceRecordSetCount>${count}</ResourceRecordSetCount></HostedZone>`;
}

function setXml(set: StoredSet): string {
  const parts = [`<Name>${escapeXml(set.name)}</Name>`, `<Type>${set.type}</Type>`];
  if (set.setIdentifier !== undefined)
    parts.push(`<SetIdentifier>${escapeXml(set.setIdentifier)}</SetIdentifier>`);
  if (set.weight !== undefined) parts.push(`<Weight>${set.weight}</Weight>`);
  if (set.failover !== undefined) parts.push(`<Failover>${set.failover}</Failover>`);
  if (set.ttl !== undefined) parts.push(`<TTL>${set.ttl}</TTL>`);
  if (set.values) {
    const records = set.values.map(
      (value) => `<ResourceRecord><Value>${escapeXml(value)}</Value></ResourceRecord>`,
    );
    parts.push(`<ResourceRecords>${records.join('')}</ResourceRecords>`);
  }
  if (set.alias) {
    parts.push(
      `<AliasTarget><HostedZoneId>${set.alias.hostedZoneId}</HostedZoneId><DNSName>${escapeXml(set.alias.dnsName)}</DNSName><EvaluateTargetHealth>${set.alias.evaluateTargetHealth}</EvaluateTargetHealth></AliasTarget>`,
    );
  }
  if (set.healthCheckId !== undefined)
    parts.push(`<HealthCheckId>${escapeXml(set.healthCheckId)}</HealthCheckId>`);
  return `<ResourceRecordSet>${parts.join('')}</ResourceRecordSet>`;
}

/** `example.com` → `example.com.`, lowercase. */
function absolute(name: string): string {
  const lower = name.toLowerCase();
  return lower.endsWith('.') ? lower : `${lower}.`;
}

/** Route 53 orders names by their labels reversed: `www.example.com.` sorts as `com.example.www`. */
function sortName(name: string): string {
  return name.replace(/\.$/, '').split('.').reverse().join('.');
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function bytesOf(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}
