// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the file it writes holds ${NAME} references.
/**
 * The `outlast.yaml` that `outlast init` writes, from the answers it gathered: pure, so every
 * origin and DNS type is tested by loading the text with the real loader. The file is commented:
 * each key says what it means, and the optional ones a new user is likely to want are there,
 * commented out. Secrets are never values here, only `${VAR}` references; the variables are
 * returned with what each one is for, to be printed.
 */
import { isIPv6 } from 'node:net';
import { stringify } from 'yaml';

/** The origin types `init` offers (`memory` is for tests only). */
export const ORIGIN_TYPES = ['fs', 's3', 'swift'] as const;
/** The DNS hosts `init` offers (`memory` is for tests only); `none` writes no dns section. */
export const DNS_TYPES = ['route53', 'cloudflare', 'dnsmadeeasy', 'powerdns', 'rfc2136', 'embedded'] as const;
export const SWIFT_AUTH_TYPES = ['rackspace', 'keystone', 'keystone-app', 'tempauth'] as const;
export const TSIG_ALGORITHMS = ['hmac-sha256', 'hmac-sha512'] as const;

export type OriginType = (typeof ORIGIN_TYPES)[number];
export type DnsType = (typeof DNS_TYPES)[number];
export type SwiftAuthType = (typeof SWIFT_AUTH_TYPES)[number];

/** What the DNS name points to while an origin is chosen: a CNAME, or addresses (v4 and v6 mixed). */
export type DnsTargetAnswer = { cname: string } | { addresses: string[] };

interface OriginCommon {
  id: string;
  /** The public URL health checks probe. */
  url: string;
  /** Needed when there is a dns section. */
  target?: DnsTargetAnswer;
  prefix?: string;
}

/** The storage part of an origin: its type and what that type needs. */
export type StorageAnswer =
  | { type: 'fs'; path: string }
  | {
      type: 's3';
      bucket: string;
      region: string;
      endpoint?: string;
      pathStyle?: boolean;
      profile?: string;
      /** Prefix of the credential variables; none: the AWS SDK's standard chain. */
      env?: string;
    }
  | {
      type: 'swift';
      container: string;
      region?: string;
      auth: SwiftAuthType;
      /** Required except for rackspace, which has a default. */
      authUrl?: string;
      env: string;
    };

export type OriginAnswer = OriginCommon & StorageAnswer;

export type DnsAnswer =
  | { type: 'route53'; zone?: string; hostedZoneId?: string; profile?: string }
  | { type: 'cloudflare'; zone?: string; zoneId?: string; env: string }
  | { type: 'dnsmadeeasy'; domain: string; env: string }
  | { type: 'powerdns'; url: string; serverId: string; zone: string; env: string }
  | {
      type: 'rfc2136';
      server: string;
      zone: string;
      tsig?: { name: string; algorithm: (typeof TSIG_ALGORITHMS)[number]; env: string };
    }
  | { type: 'embedded'; zone: string; listen: string[]; nameservers: string[] };

export interface InitAnswers {
  /** The site folder as the file should say it (relative to the file's folder, or absolute). */
  siteDir: string;
  /** `site.hostname` and `dns.name`. */
  name: string;
  origins: OriginAnswer[];
  /** Empty: no dns section (outlast deploys, but does not fail over). */
  dns: DnsAnswer[];
}

/** An environment variable the file refers to. */
export interface EnvVariable {
  name: string;
  /** `origin swift`, `dns cloudflare`. */
  usedBy: string;
  meaning: string;
}

export interface RenderedConfig {
  text: string;
  variables: EnvVariable[];
  /** Other things to set up that are not variables of the file (the AWS credential chain). */
  notes: string[];
}

const COMMENT_COLUMN = 36;

/** Lines of YAML, with trailing comments aligned where they fit. */
class Lines {
  readonly out: string[] = [];
  add(code: string, comment?: string): void {
    if (comment === undefined) this.out.push(code);
    else this.out.push(`${code.padEnd(Math.max(COMMENT_COLUMN, code.length + 2))}# ${comment}`);
  }
}

/** A scalar as YAML writes it (quoted only where needed). */
function scalar(value: string): string {
  return stringify(value, { lineWidth: 0 }).trimEnd();
}

/** `"${NAME}"`, quoted so that it reads as what it is. */
function ref(name: string): string {
  return `"\${${name}}"`;
}

/** A flow list whose items are quoted unless they are plain words. */
function flowList(items: readonly string[]): string {
  return `[${items.map((item) => (/^[A-Za-z0-9._-]+$/.test(item) ? item : JSON.stringify(item))).join(', ')}]`;
}

export function renderConfig(answers: InitAnswers): RenderedConfig {
  const lines = new Lines();
  const variables: EnvVariable[] = [];
  const notes: string[] = [];
  /** What uses the AWS SDK's credential chain (no variables in the file). */
  const awsChain: string[] = [];
  /** A `${VAR}` for a secret (or an identity that belongs beside it), remembered for the list. */
  const secret = (name: string, usedBy: string, meaning: string): string => {
    if (!variables.some((variable) => variable.name === name)) variables.push({ name, usedBy, meaning });
    return ref(name);
  };
  const add = lines.add.bind(lines);

  add('# outlast.yaml: what to publish, where to, and how the name fails over. Written by');
  add('# `outlast init`; edit it freely, then `outlast check` tells whether it is ready. Every key is');
  add("# described in the Configuration section of outlast's README.");
  add('# "${NAME}" is read from the environment each time outlast runs: secrets stay out of this file.');
  add("# Relative paths are relative to this file's folder.");
  add('');
  add('site:');
  add(`  dir: ${scalar(answers.siteDir)}`, 'the built site to publish (edit if your build writes elsewhere)');
  add(`  hostname: ${scalar(answers.name)}`, 'the name users type');
  add('  # errorDocument: 404.html', 'served with status 404 for a missing page, if the site has one');
  add('  # keepReleases: 3', 'releases each origin keeps for `outlast rollback`');
  add('  # headers:', 'for each header, the first rule that matches and sets it wins');
  add('  #   - { match: "assets/**", cacheControl: "public, max-age=31536000, immutable" }');
  add('  #   - { match: "**/*.html", cacheControl: "public, max-age=60" }');
  add('');
  add('# Each origin holds the whole site and serves it at its url. The first one is preferred while');
  add('# it is healthy (failover.order).');
  add('origins:');
  for (const origin of answers.origins) {
    renderOrigin(lines, origin, answers, secret, awsChain);
  }

  const dns = answers.dns;
  if (dns.length === 0) {
    add('# No dns section: outlast deploys to every origin but does not fail over. To add one, see');
    add('# the Configuration section of the README (dns: name, providers) and give each origin a');
    add('# dns: target (what the name points to while that origin is chosen).');
  } else {
    add('dns:');
    add(`  name: ${scalar(answers.name)}`, 'the name that moves between origins');
    add('  ttl: 60', 'of the records outlast writes, in seconds: low, so a move is seen soon');
    add('  providers:', 'every decision is written to each of them');
    for (const provider of dns) renderProvider(lines, provider, secret, awsChain);
    add('');
    add('failover:');
    add('  policy: priority', 'the first healthy origin of order gets the name');
    add(`  order: ${flowList(answers.origins.map((origin) => origin.id))}`, 'the most preferred first');
    add('  failback: auto', 'back to a preferred origin once it is healthy again (or manual)');
    add('  holdDown: 60s', 'after a move, how long before moving to a better origin');
    add('');
    add('# health:', 'how origins are probed; these are the defaults');
    add('#   interval: 5s', 'between probes of an origin that passes');
    add('#   timeout: 2s');
    add('#   fall: 3', 'failures in a row that make an origin down');
    add('#   rise: 3', 'passes in a row that bring it back');
    add('');
    add('# watch:', '`outlast watch`: the dashboard, /status, /metrics');
    add('#   listen: 127.0.0.1:8787');
    add('#   stateDir: .outlast/state', 'its state, event log and action token');
  }
  if (awsChain.length > 0) {
    notes.push(
      `AWS credentials for ${awsChain.join(' and ')}: the AWS SDK's standard chain (AWS_PROFILE, or ` +
        'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or an instance or task role)',
    );
  }
  return { text: `${lines.out.join('\n')}\n`, variables, notes };
}

type Secret = (name: string, usedBy: string, meaning: string) => string;

function renderOrigin(
  lines: Lines,
  origin: OriginAnswer,
  answers: InitAnswers,
  secret: Secret,
  awsChain: string[],
): void {
  const add = lines.add.bind(lines);
  const usedBy = `origin ${origin.id}`;
  add(`  - id: ${scalar(origin.id)}`, `a short name: \`--origin ${origin.id}\`, logs, the dashboard`);
  add('    storage:');
  switch (origin.type) {
    case 'fs':
      add('      type: fs', 'a folder, served by `outlast serve --dir` or any web server');
      add(`      path: ${scalar(origin.path)}`);
      break;
    case 's3':
      add('      type: s3', origin.endpoint ? 'an S3-compatible store' : 'Amazon S3');
      add(
        `      bucket: ${scalar(origin.bucket)}`,
        origin.endpoint ? undefined : 'behind a CNAME, S3 website hosting needs the host name as its name',
      );
      add(`      region: ${scalar(origin.region)}`, "the bucket's region");
      if (origin.endpoint) add(`      endpoint: ${scalar(origin.endpoint)}`);
      if (origin.pathStyle !== undefined) {
        add(
          `      forcePathStyle: ${origin.pathStyle}`,
          'endpoint/bucket/key URLs: most S3-compatible stores need them',
        );
      }
      if (origin.profile) {
        add(`      profile: ${scalar(origin.profile)}`, 'a profile of the AWS shared config (~/.aws/config)');
      } else if (origin.env) {
        add('      credentials:', 'from the environment, never written here');
        add(`        accessKeyId: ${secret(`${origin.env}_ACCESS_KEY_ID`, usedBy, 'access key id')}`);
        add(
          `        secretAccessKey: ${secret(`${origin.env}_SECRET_ACCESS_KEY`, usedBy, 'secret access key')}`,
        );
      } else {
        add("      # credentials: the AWS SDK's standard chain (AWS_PROFILE, AWS_ACCESS_KEY_ID and");
        add('      # AWS_SECRET_ACCESS_KEY, an instance role), or set profile: NAME here');
        awsChain.push(usedBy);
      }
      break;
    case 'swift':
      add('      type: swift', 'OpenStack Swift or Rackspace Cloud Files');
      add(`      container: ${scalar(origin.container)}`);
      if (origin.region) add(`      region: ${scalar(origin.region)}`, 'the region in the service catalog');
      else add('      # region: DFW', 'the region in the service catalog (default: the first one)');
      add('      auth:');
      renderSwiftAuth(lines, origin, secret);
      break;
  }
  if (origin.prefix)
    add(`      prefix: ${scalar(origin.prefix)}`, 'the key prefix of the site inside the store');
  add(`    url: ${scalar(origin.url)}`, 'its public URL, which the health checks probe');
  if (answers.dns.length > 0 && origin.target) {
    add('    dns:', `what ${answers.name} points to while this origin is chosen`);
    if ('cname' in origin.target) {
      add(`      cname: ${scalar(origin.target.cname)}`);
    } else {
      const v4 = origin.target.addresses.filter((address) => !isIPv6(address));
      const v6 = origin.target.addresses.filter((address) => isIPv6(address));
      if (v4.length > 0) add(`      a: ${flowList(v4)}`);
      if (v6.length > 0) add(`      aaaa: ${flowList(v6)}`);
    }
  }
  add('');
}

function renderSwiftAuth(lines: Lines, origin: OriginAnswer & { type: 'swift' }, secret: Secret): void {
  const add = lines.add.bind(lines);
  const usedBy = `origin ${origin.id}`;
  const env = origin.env;
  switch (origin.auth) {
    case 'rackspace':
      add('        type: rackspace', 'Rackspace identity (v2.0): a user name and an API key');
      if (origin.authUrl) add(`        url: ${scalar(origin.authUrl)}`);
      add(`        username: ${secret(`${env}_USERNAME`, usedBy, 'Rackspace user name')}`);
      add(`        apiKey: ${secret(`${env}_API_KEY`, usedBy, 'Rackspace API key')}`);
      break;
    case 'keystone':
      add('        type: keystone', 'OpenStack Keystone v3 with a user and a password');
      add(`        url: ${scalar(origin.authUrl ?? '')}`);
      add(`        username: ${secret(`${env}_USERNAME`, usedBy, 'Keystone user name')}`);
      add(`        password: ${secret(`${env}_PASSWORD`, usedBy, 'Keystone password')}`);
      add(`        project: ${secret(`${env}_PROJECT_NAME`, usedBy, 'Keystone project (tenant) name')}`);
      add('        # domain: Default', 'the domain of the user and the project');
      break;
    case 'keystone-app':
      add('        type: keystone', 'OpenStack Keystone v3 with an application credential');
      add(`        url: ${scalar(origin.authUrl ?? '')}`);
      add(
        `        applicationCredentialId: ${secret(`${env}_APPLICATION_CREDENTIAL_ID`, usedBy, 'application credential id')}`,
      );
      add(
        `        applicationCredentialSecret: ${secret(`${env}_APPLICATION_CREDENTIAL_SECRET`, usedBy, 'application credential secret')}`,
      );
      break;
    case 'tempauth':
      add('        type: tempauth', "Swift's tempauth (v1.0)");
      add(`        url: ${scalar(origin.authUrl ?? '')}`);
      add(`        user: ${secret(`${env}_USER`, usedBy, 'tempauth user, account:user')}`);
      add(`        key: ${secret(`${env}_KEY`, usedBy, 'tempauth key')}`);
      break;
  }
}

function renderProvider(lines: Lines, provider: DnsAnswer, secret: Secret, awsChain: string[]): void {
  const add = lines.add.bind(lines);
  const usedBy = `dns ${provider.type}`;
  switch (provider.type) {
    case 'route53':
      add('    - type: route53', 'Amazon Route 53');
      if (provider.hostedZoneId)
        add(`      hostedZoneId: ${scalar(provider.hostedZoneId)}`, 'the hosted zone');
      else
        add(`      zone: ${scalar(provider.zone ?? '')}`, 'the hosted zone, found by name (or hostedZoneId)');
      if (provider.profile) {
        add(`      profile: ${scalar(provider.profile)}`, 'a profile of the AWS shared config');
      } else {
        add('      # profile: NAME', "default: the AWS SDK's standard credential chain");
        awsChain.push(usedBy);
      }
      break;
    case 'cloudflare':
      add('    - type: cloudflare', 'Cloudflare DNS');
      if (provider.zoneId) add(`      zoneId: ${scalar(provider.zoneId)}`, "on the zone's Overview page");
      else
        add(
          `      zone: ${scalar(provider.zone ?? '')}`,
          'found by name: the token needs Zone › Zone › Read',
        );
      add(
        `      apiToken: ${secret(`${provider.env}_API_TOKEN`, usedBy, 'API token with Zone › DNS › Edit')}`,
        'a token with Zone › DNS › Edit on the zone',
      );
      break;
    case 'dnsmadeeasy':
      add('    - type: dnsmadeeasy', 'DNS Made Easy');
      add(`      domain: ${scalar(provider.domain)}`, 'the domain as managed in DNS Made Easy');
      add(`      apiKey: ${secret(`${provider.env}_API_KEY`, usedBy, 'API key')}`);
      add(`      secretKey: ${secret(`${provider.env}_SECRET_KEY`, usedBy, 'secret key')}`);
      add('      # baseUrl: https://api.sandbox.dnsmadeeasy.com/V2.0', 'the sandbox, for a trial');
      break;
    case 'powerdns':
      add('    - type: powerdns', 'the PowerDNS Authoritative HTTP API');
      add(`      url: ${scalar(provider.url)}`, "the API's base URL (webserver-address in pdns.conf)");
      add(`      serverId: ${scalar(provider.serverId)}`);
      add(`      zone: ${scalar(provider.zone)}`);
      add(`      apiKey: ${secret(`${provider.env}_API_KEY`, usedBy, 'api-key of pdns.conf')}`);
      break;
    case 'rfc2136':
      add('    - type: rfc2136', 'dynamic updates (BIND, Knot, PowerDNS, Windows DNS)');
      add(`      server: ${scalar(provider.server)}`, 'the primary server, HOST:PORT');
      add(`      zone: ${scalar(provider.zone)}`);
      if (provider.tsig) {
        add('      tsig:', 'the key the server lets update the zone');
        add(`        name: ${scalar(provider.tsig.name)}`);
        add(`        algorithm: ${provider.tsig.algorithm}`);
        add(
          `        secret: ${secret(`${provider.tsig.env}_SECRET`, usedBy, `TSIG key ${provider.tsig.name}, base64`)}`,
        );
      } else {
        add(
          '      # tsig: { name: outlast, algorithm: hmac-sha256, secret: "${TSIG_SECRET}" }',
          'unsigned updates: only on a trusted network',
        );
      }
      break;
    case 'embedded':
      add('    - type: embedded', "outlast's own authoritative server, in `outlast watch`");
      add(`      listen: ${flowList(provider.listen)}`, 'UDP and TCP; port 53 needs privileges');
      add(`      zone: ${scalar(provider.zone)}`, 'delegate it to the nameservers below at your registrar');
      add(`      nameservers: ${flowList(provider.nameservers)}`, 'the hosts that run it, absolute names');
      add('      # The other records of the zone, with an address for each nameserver inside it:');
      add(
        '      # records: [{ name: ns1, type: A, value: 192.0.2.53 }, { name: "@", type: MX, value: "10 mail.example.com." }]',
      );
      break;
  }
}
