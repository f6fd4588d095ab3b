// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} in plain strings is the config syntax under test.
/**
 * `outlast init` without I/O: flags (and scripted answers) → answers → the YAML text, which the
 * project's own loader must accept for every origin type and every DNS host; bad flags and
 * missing answers are errors that name the flag.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { gatherAnswers, type InitFlags } from '../../src/cli/init/answers.ts';
import { envPrefix, hostPort, parseTarget, pathForFile, zoneOf } from '../../src/cli/init/checks.ts';
import { type Asker, FlagsOnlyAsker, type Question } from '../../src/cli/init/questions.ts';
import { parseConfig } from '../../src/config/load.ts';
import type { Config } from '../../src/config/schema.ts';
import { renderConfig } from '../../src/config/template.ts';
import { isOutlastError } from '../../src/errors.ts';

const CWD = '/work/site';
const CONTEXT = { cwd: CWD, configDir: CWD };
const FILE = `${CWD}/outlast.yaml`;
const BASE: InitFlags = { site: 'public', name: 'www.example.com' };

/** Flags → the written text, the variables, and the config the loader reads from it (every variable set). */
async function initWith(flags: InitFlags) {
  const answers = await gatherAnswers(flags, new FlagsOnlyAsker(), CONTEXT);
  const rendered = renderConfig(answers);
  const env = Object.fromEntries(
    rendered.variables.map((variable) => [variable.name, `value-of-${variable.name}`]),
  );
  const { config } = parseConfig(rendered.text, FILE, { env });
  return { ...rendered, config, env };
}

/** The message of the `invalid_argument` error gathering throws; fails when it does not throw one. */
async function errorOf(flags: InitFlags): Promise<string> {
  try {
    await gatherAnswers(flags, new FlagsOnlyAsker(), CONTEXT);
  } catch (error) {
    assert.ok(isOutlastError(error, 'invalid_argument'), `expected invalid_argument, got ${String(error)}`);
    return error.message;
  }
  assert.fail(`expected an error for ${JSON.stringify(flags)}`);
}

/** `expected` is a subset of `actual`: every key it names, recursively; arrays and scalars equal. */
function assertSubset(actual: unknown, expected: unknown, path = ''): void {
  if (typeof expected !== 'object' || expected === null || Array.isArray(expected)) {
    assert.deepEqual(actual, expected, `at ${path || 'the top'}`);
    return;
  }
  assert.ok(typeof actual === 'object' && actual !== null, `expected a mapping at ${path}`);
  for (const [key, value] of Object.entries(expected)) {
    if (value === undefined) assert.equal(key in actual, false, `${path}.${key} should be absent`);
    else assertSubset((actual as Record<string, unknown>)[key], value, `${path}.${key}`);
  }
}

type Origin = Config['origins'][number];
type Provider = NonNullable<Config['dns']>['providers'][number];

/** Every origin type, in the forms init offers: the flag, and what the loaded origin must hold. */
const ORIGIN_CASES: Array<{ spec: string; origin: Record<string, unknown> }> = [
  {
    spec: 'fs:/srv/www-a,url=http://192.0.2.10/',
    origin: {
      id: 'fs',
      storage: { type: 'fs', path: '/srv/www-a' },
      url: 'http://192.0.2.10/',
      dns: { a: ['192.0.2.10'] },
    },
  },
  {
    spec: 'fs:mirror,url=http://[2001:db8::10]:8080/,id=mirror,prefix=site/',
    origin: {
      id: 'mirror',
      storage: { type: 'fs', path: `${CWD}/mirror`, prefix: 'site/' },
      dns: { aaaa: ['2001:db8::10'], a: undefined },
    },
  },
  {
    spec: 's3:www.example.com,region=eu-west-1,url=http://www.example.com.s3-website-eu-west-1.amazonaws.com',
    origin: {
      storage: {
        type: 's3',
        bucket: 'www.example.com',
        region: 'eu-west-1',
        credentials: undefined,
        endpoint: undefined,
      },
      dns: { cname: 'www.example.com.s3-website-eu-west-1.amazonaws.com' },
    },
  },
  {
    spec: 's3:site,region=auto,endpoint=https://acct.r2.cloudflarestorage.com,url=https://site.example.net,cname=cdn.example.net',
    origin: {
      storage: {
        type: 's3',
        endpoint: 'https://acct.r2.cloudflarestorage.com',
        forcePathStyle: true,
        credentials: {
          accessKeyId: 'value-of-S3_ACCESS_KEY_ID',
          secretAccessKey: 'value-of-S3_SECRET_ACCESS_KEY',
        },
      },
      dns: { cname: 'cdn.example.net' },
    },
  },
  {
    spec: 's3:site,region=us-east-1,endpoint=http://127.0.0.1:9000,path-style=no,profile=minio,url=http://127.0.0.1:9000/site/',
    origin: { storage: { type: 's3', forcePathStyle: false, profile: 'minio', credentials: undefined } },
  },
  {
    spec: 's3:www.example.com,region=us-west-2,env=AWS,url=https://d111.cloudfront.net,ip=192.0.2.1,ip=2001:db8::1',
    origin: {
      storage: {
        credentials: {
          accessKeyId: 'value-of-AWS_ACCESS_KEY_ID',
          secretAccessKey: 'value-of-AWS_SECRET_ACCESS_KEY',
        },
      },
      dns: { a: ['192.0.2.1'], aaaa: ['2001:db8::1'] },
    },
  },
  {
    spec: 'swift:www,auth=rackspace,region=DFW,url=https://abc.r12.cf1.rackcdn.com',
    origin: {
      id: 'swift',
      storage: {
        type: 'swift',
        container: 'www',
        region: 'DFW',
        auth: {
          type: 'rackspace',
          url: 'https://identity.api.rackspacecloud.com/v2.0',
          username: 'value-of-SWIFT_USERNAME',
          apiKey: 'value-of-SWIFT_API_KEY',
        },
      },
    },
  },
  {
    spec: 'swift:www,auth=rackspace,auth-url=https://lon.identity.api.rackspacecloud.com/v2.0,id=cloudfiles,url=https://cdn.example.net',
    origin: {
      id: 'cloudfiles',
      storage: {
        region: undefined,
        auth: {
          url: 'https://lon.identity.api.rackspacecloud.com/v2.0',
          username: 'value-of-CLOUDFILES_USERNAME',
        },
      },
    },
  },
  {
    spec: 'swift:www,auth=keystone,auth-url=https://keystone.example.net/v3,env=OS,url=https://swift.example.net/v1/AUTH_x/www',
    origin: {
      storage: {
        auth: {
          type: 'keystone',
          url: 'https://keystone.example.net/v3',
          username: 'value-of-OS_USERNAME',
          password: 'value-of-OS_PASSWORD',
          project: 'value-of-OS_PROJECT_NAME',
        },
      },
      dns: { cname: 'swift.example.net' },
    },
  },
  {
    spec: 'swift:www,auth=keystone-app,auth-url=https://keystone.example.net/v3,url=https://swift.example.net/',
    origin: {
      storage: {
        auth: {
          type: 'keystone',
          applicationCredentialId: 'value-of-SWIFT_APPLICATION_CREDENTIAL_ID',
          applicationCredentialSecret: 'value-of-SWIFT_APPLICATION_CREDENTIAL_SECRET',
          username: undefined,
        },
      },
    },
  },
  {
    spec: 'swift:www,auth=tempauth,auth-url=http://127.0.0.1:8080/auth/v1.0,id=dev-1,url=http://127.0.0.1:8080/v1/AUTH_test/www',
    origin: {
      id: 'dev-1',
      storage: { auth: { type: 'tempauth', user: 'value-of-DEV_1_USER', key: 'value-of-DEV_1_KEY' } },
      dns: { a: ['127.0.0.1'] },
    },
  },
];

/** Every DNS host, in the forms init offers; `provider` undefined: no dns section. */
const DNS_CASES: Array<{ spec: string; provider: Record<string, unknown> | undefined }> = [
  { spec: 'none', provider: undefined },
  {
    spec: 'route53',
    provider: { type: 'route53', zone: 'example.com', hostedZoneId: undefined, profile: undefined },
  },
  {
    spec: 'route53,hosted-zone-id=Z0123456789ABC,profile=dns',
    provider: { type: 'route53', hostedZoneId: 'Z0123456789ABC', zone: undefined, profile: 'dns' },
  },
  {
    spec: 'cloudflare',
    provider: { type: 'cloudflare', zone: 'example.com', apiToken: 'value-of-CLOUDFLARE_API_TOKEN' },
  },
  {
    spec: 'cloudflare,zone-id=0123456789abcdef0123456789abcdef,env=CF',
    provider: {
      zoneId: '0123456789abcdef0123456789abcdef',
      zone: undefined,
      apiToken: 'value-of-CF_API_TOKEN',
    },
  },
  {
    spec: 'dnsmadeeasy',
    provider: {
      type: 'dnsmadeeasy',
      domain: 'example.com',
      apiKey: 'value-of-DME_API_KEY',
      secretKey: 'value-of-DME_SECRET_KEY',
    },
  },
  {
    spec: 'powerdns,url=http://127.0.0.1:8081,zone=www.example.com',
    provider: {
      type: 'powerdns',
      url: 'http://127.0.0.1:8081',
      serverId: 'localhost',
      zone: 'www.example.com',
      apiKey: 'value-of-PDNS_API_KEY',
    },
  },
  {
    spec: 'rfc2136,server=192.0.2.53',
    provider: {
      type: 'rfc2136',
      server: '192.0.2.53:53',
      zone: 'example.com',
      tsig: { name: 'outlast', algorithm: 'hmac-sha256', secret: 'value-of-TSIG_SECRET' },
    },
  },
  {
    spec: 'rfc2136,server=[2001:db8::53]:5353,tsig=none',
    provider: { server: '[2001:db8::53]:5353', tsig: undefined },
  },
  {
    spec: 'rfc2136,server=ns.example.com,tsig=update-key,algorithm=hmac-sha512,env=BIND',
    provider: { tsig: { name: 'update-key', algorithm: 'hmac-sha512', secret: 'value-of-BIND_SECRET' } },
  },
  {
    spec: 'embedded,ns=ns1.example.com,ns=ns2.example.net.',
    provider: {
      type: 'embedded',
      zone: 'example.com',
      listen: ['0.0.0.0:53'],
      nameservers: ['ns1.example.com.', 'ns2.example.net.'],
    },
  },
  {
    spec: 'embedded,zone=example.com,listen=127.0.0.1:5353,listen=[::1]:5353,ns=ns1.example.com',
    provider: { listen: ['127.0.0.1:5353', '[::1]:5353'] },
  },
];

/** The keys of the storage and DNS settings that hold a secret (or the identity beside it). */
const SECRET_FIELDS = new Set([
  'accessKeyId',
  'secretAccessKey',
  'username',
  'password',
  'project',
  'apiKey',
  'apiToken',
  'secretKey',
  'applicationCredentialId',
  'applicationCredentialSecret',
  'user',
  'key',
  'secret',
]);

/** Every value under a secret field in the raw YAML (before interpolation). */
function secretValues(raw: unknown, out: string[] = []): string[] {
  if (Array.isArray(raw)) for (const item of raw) secretValues(item, out);
  else if (typeof raw === 'object' && raw !== null) {
    for (const [key, value] of Object.entries(raw)) {
      if (SECRET_FIELDS.has(key) && typeof value === 'string') out.push(value);
      else secretValues(value, out);
    }
  }
  return out;
}

describe('outlast init: the written config, for every origin type and DNS host', () => {
  for (const originCase of ORIGIN_CASES) {
    for (const dnsCase of DNS_CASES) {
      test(`--origin ${originCase.spec} --dns ${dnsCase.spec}`, async () => {
        const { text, variables, config } = await initWith({
          ...BASE,
          origin: [originCase.spec],
          dns: [dnsCase.spec],
        });
        assert.equal(config.site.dir, `${CWD}/public`);
        assert.equal(config.site.hostname, 'www.example.com');
        assert.equal(config.origins.length, 1);
        const origin = config.origins[0] as Origin;
        const expected = { ...originCase.origin };
        // Without a DNS host there is no target to write.
        if (!dnsCase.provider) delete expected.dns;
        assertSubset(origin, expected);
        if (dnsCase.provider) {
          assert.equal(config.dns?.name, 'www.example.com');
          assert.equal(config.dns?.providers.length, 1);
          assertSubset(config.dns?.providers[0] as Provider, dnsCase.provider);
          assert.ok(origin.dns, 'every origin gets a DNS target');
          assert.deepEqual(config.failover.order, [origin.id]);
        } else {
          assert.equal(config.dns, undefined);
          assert.equal(origin.dns, undefined);
        }

        // Every secret is a ${VAR} reference, and the variables listed are exactly those referred to.
        for (const value of secretValues(parse(text))) assert.match(value, /^\$\{[A-Z][A-Z0-9_]*\}$/);
        const referred = [...text.matchAll(/^[^#\n]*\$\{([A-Za-z0-9_]+)\}/gm)].map((match) => match[1]);
        assert.deepEqual(variables.map((variable) => variable.name).sort(), [...new Set(referred)].sort());
        // …and they are real references: without them, the loader names each one.
        if (variables.length > 0) {
          assert.throws(
            () => parseConfig(text, FILE, { env: {} }),
            (error: Error) =>
              variables.every((variable) =>
                error.message.includes(`environment variable ${variable.name} is not set`),
              ),
          );
        }
      });
    }
  }

  test('all origin types and several DNS hosts at once: one valid file, ids unique, order kept', async () => {
    const { config, variables, notes } = await initWith({
      ...BASE,
      origin: ORIGIN_CASES.filter((entry) => !entry.spec.includes('id=')).map((entry) => entry.spec),
      dns: DNS_CASES.filter((entry) => entry.provider && !entry.spec.includes('env=')).map(
        (entry) => entry.spec,
      ),
    });
    const ids = config.origins.map((origin) => origin.id);
    assert.deepEqual(ids, ['fs', 's3', 's3-2', 's3-3', 's3-4', 'swift', 'swift-2', 'swift-3']);
    assert.deepEqual(config.failover.order, ids);
    assert.equal(config.dns?.providers.length, 9);
    assert.equal(new Set(variables.map((variable) => variable.name)).size, variables.length);
    assert.match(notes.join('\n'), /AWS credentials for origin s3 and dns route53: the AWS SDK's/);
  });

  test('paths are written relative to the config file, which may be elsewhere', async () => {
    const answers = await gatherAnswers(
      { ...BASE, site: 'build/out', origin: ['fs:/srv/a,url=http://192.0.2.1/'], dns: ['none'] },
      new FlagsOnlyAsker(),
      { cwd: CWD, configDir: `${CWD}/build` },
    );
    assert.equal(answers.siteDir, './out');
    const elsewhere = await gatherAnswers(
      { ...BASE, site: 'public', origin: ['fs:/srv/a,url=http://192.0.2.1/'], dns: ['none'] },
      new FlagsOnlyAsker(),
      { cwd: CWD, configDir: '/etc/outlast' },
    );
    assert.equal(elsewhere.siteDir, `${CWD}/public`);
    const { config } = parseConfig(renderConfig(answers).text, `${CWD}/build/site.yaml`, { env: {} });
    assert.equal(config.site.dir, `${CWD}/build/out`);
  });
});

describe('outlast init: bad flag values are errors naming the flag', () => {
  const ok = { ...BASE, origin: ['fs:/srv/a,url=http://192.0.2.1/'], dns: ['none'] };
  const cases: Array<[string, InitFlags, RegExp]> = [
    [
      'unknown origin type',
      { ...ok, origin: ['s4:x'] },
      /^--origin "s4": expected a type among fs, s3, swift \(did you mean s3\?\)/,
    ],
    [
      'no location',
      { ...ok, origin: ['s3'] },
      /^--origin s3:: expected s3:BUCKET, e.g. s3:www\.example\.com/,
    ],
    [
      'misspelt key',
      { ...ok, origin: ['s3:bucket,regoin=x'] },
      /^--origin s3:bucket: unknown key "regoin" \(did you mean "region"\?\); the keys of s3 are/,
    ],
    [
      'a key of another type',
      { ...ok, origin: ['fs:/a,region=x'] },
      /^--origin fs:\/a: unknown key "region"; the keys of fs are id, url, cname, ip, prefix$/,
    ],
    [
      'not a URL',
      { ...ok, origin: ['s3:bucket,region=eu-west-1,url=ftp://x'] },
      /^--origin s3:bucket: url=ftp:\/\/x: expected an http:\/\/ or https:\/\/ URL/,
    ],
    [
      'an empty value',
      { ...ok, origin: ['s3:bucket,region='] },
      /^--origin s3:bucket: region=: expected a value/,
    ],
    [
      'unknown auth',
      { ...ok, origin: ['swift:www,auth=ldap'] },
      /^--origin swift:www: auth=ldap: expected one of rackspace, keystone, keystone-app, tempauth/,
    ],
    [
      'a key twice',
      { ...ok, origin: ['s3:bucket,region=a,region=b'] },
      /^--origin s3:bucket: region= is given twice/,
    ],
    [
      'cname and ip',
      { ...ok, origin: ['fs:/a,url=http://x/,ip=192.0.2.1,cname=a.example.net'] },
      /^--origin fs:\/a: cname= and ip= exclude each other/,
    ],
    [
      'a bad address',
      { ...ok, origin: ['fs:/a,url=http://x/,ip=999.1.1.1'] },
      /^--origin fs:\/a: ip=999\.1\.1\.1: expected an IPv4 or IPv6 address/,
    ],
    [
      'env and profile',
      { ...ok, origin: ['s3:bucket,region=a,env=A,profile=b'] },
      /env= and profile= exclude each other/,
    ],
    [
      'a bad id',
      { ...ok, origin: ['fs:/a,id=Bad!'] },
      /^--origin fs:\/a: id=Bad!: expected lowercase letters/,
    ],
    [
      'the same id twice',
      { ...ok, origin: ['fs:/a,id=a,url=http://x/', 'fs:/b,id=a,url=http://y/'] },
      /^--origin fs:\/b: id=a: another origin already has the id a/,
    ],
    [
      'a bad variable prefix',
      { ...ok, origin: ['swift:www,auth=rackspace,env=1X'] },
      /^--origin swift:www: env=1X: expected a variable name prefix/,
    ],
    ['a bad bucket', { ...ok, origin: ['s3:a b,region=x'] }, /^--origin s3:a b: expected a bucket name/],
    [
      'an origin inside the site',
      { ...ok, origin: ['fs:public/mirror,url=http://x/'] },
      /^--origin fs:public\/mirror: the folder public\/mirror overlaps the site folder/,
    ],
    ['a site inside an origin', { ...ok, origin: ['fs:.,url=http://x/'] }, /overlaps the site folder/],
    [
      'a bad name',
      { ...ok, name: 'not a host' },
      /^--name "not a host": expected a host name such as www\.example\.com/,
    ],
    ['an empty site', { ...ok, site: ' ' }, /^--site " ": expected a folder/],
    [
      'unknown DNS type',
      { ...ok, dns: ['route54'] },
      /^--dns "route54": expected a type among route53, .*none \(did you mean route53\?\)/,
    ],
    [
      'none and another',
      { ...ok, dns: ['none', 'route53'] },
      /^--dns none: cannot be combined with another --dns/,
    ],
    [
      'a zone without the name',
      { ...ok, dns: ['cloudflare,zone=example.org'] },
      /^--dns cloudflare: zone=example\.org: www\.example\.com is not inside the zone example\.org/,
    ],
    [
      'a bad server',
      { ...ok, dns: ['rfc2136,server=a:b'] },
      /^--dns rfc2136: server=a:b: expected HOST or HOST:PORT/,
    ],
    [
      'a listen without port',
      { ...ok, dns: ['embedded,ns=ns1.example.com,listen=0.0.0.0'] },
      /^--dns embedded: listen=0\.0\.0\.0: expected HOST:PORT/,
    ],
    [
      'a bad zone id',
      { ...ok, dns: ['cloudflare,zone-id=xyz'] },
      /^--dns cloudflare: zone-id=xyz: expected a zone id of 32 hex digits/,
    ],
    [
      'a bad algorithm',
      { ...ok, dns: ['rfc2136,server=192.0.2.1,algorithm=md5'] },
      /algorithm=md5: expected one of hmac-sha256, hmac-sha512/,
    ],
  ];
  for (const [what, flags, expected] of cases) {
    test(what, async () => {
      assert.match(await errorOf(flags), expected);
    });
  }

  test('a secret given as a key is refused, and its value is not repeated', async () => {
    for (const spec of [
      ['--dns', 'cloudflare,api-token=s3cr3t-value'],
      ['--dns', 'powerdns,url=http://127.0.0.1:8081,apiKey=s3cr3t-value'],
      ['--dns', 'rfc2136,server=192.0.2.1,secret=s3cr3t-value'],
      ['--origin', 'swift:www,auth=keystone,password=s3cr3t-value'],
      ['--origin', 's3:bucket,region=x,secret-access-key=s3cr3t-value'],
    ] as const) {
      const flags = spec[0] === '--dns' ? { ...ok, dns: [spec[1]] } : { ...ok, origin: [spec[1]] };
      const message = await errorOf(flags);
      assert.match(message, /looks like a secret: secrets are neither given to init nor written in the file/);
      assert.doesNotMatch(message, /s3cr3t-value/);
    }
  });
});

describe('outlast init: missing answers without a terminal', () => {
  /** The flags the error lists, in order. */
  async function missingFlags(flags: InitFlags): Promise<string[]> {
    const message = await errorOf(flags);
    assert.match(
      message,
      /^init needs answers that the command line did not give, and stdin is not a terminal/,
    );
    return message
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s{2,}/)[0] ?? '');
  }
  const cases: Array<[string, InitFlags, string[]]> = [
    [
      'nothing given',
      {},
      ['--site DIR', '--name HOST', '--origin TYPE:LOCATION[,KEY=VALUE...]', '--dns TYPE[,KEY=VALUE...]'],
    ],
    [
      "an s3 origin without its region and URL (the issue's example)",
      { ...BASE, origin: ['s3:my-bucket', 'swift:my-container'], dns: ['route53'] },
      [
        '--origin s3:my-bucket,region=REGION',
        '--origin s3:my-bucket,url=URL',
        '--origin swift:my-container,auth=AUTH',
        '--origin swift:my-container,url=URL',
      ],
    ],
    [
      'keystone without its URL',
      { ...BASE, origin: ['swift:www,auth=keystone,url=https://cdn.example.net'], dns: ['none'] },
      ['--origin swift:www,auth-url=AUTH_URL'],
    ],
    [
      'what each DNS host cannot do without',
      {
        ...BASE,
        origin: ['fs:/srv/a,url=http://192.0.2.1/'],
        dns: ['powerdns', 'rfc2136', 'embedded'],
      },
      ['--dns powerdns,url=URL', '--dns rfc2136,server=SERVER', '--dns embedded,ns=NS'],
    ],
    [
      'without the name, zones are not reported: the name is',
      { site: 'public', origin: ['fs:/srv/a,url=http://192.0.2.1/'], dns: ['route53'] },
      ['--name HOST'],
    ],
  ];
  for (const [what, flags, expected] of cases) {
    test(what, async () => {
      assert.deepEqual(await missingFlags(flags), expected);
    });
  }
});

/** Answers by the first pattern matching the prompt; records every prompt; fails on an unexpected one. */
class ScriptedAsker implements Asker {
  readonly asked: string[] = [];
  constructor(private readonly answers: Array<[RegExp, string]>) {}
  async ask(question: Question): Promise<string | undefined> {
    const prompt = `${question.topic ? `${question.topic}: ` : ''}${question.prompt}`;
    this.asked.push(prompt);
    const found = this.answers.find(([pattern]) => pattern.test(prompt));
    assert.ok(found, `unexpected question: ${prompt}`);
    const answer = found[1];
    if (answer === '') return question.default ?? question.suggestion;
    const problem = question.check?.(answer);
    assert.equal(problem, undefined, `${prompt}: ${answer}`);
    return answer;
  }
  async confirm(prompt: string, defaultYes: boolean): Promise<boolean> {
    this.asked.push(prompt);
    const found = this.answers.find(([pattern]) => pattern.test(prompt));
    return found ? found[1] === 'y' : defaultYes;
  }
}

describe('outlast init: on a terminal, what the flags leave out is asked', () => {
  test('an origin given in part: only the keys it cannot do without are asked, then the DNS host', async () => {
    const asker = new ScriptedAsker([
      [/^the host name/, 'www.example.com'],
      [/region/, 'eu-west-1'],
      [/endpoint/, ''],
      [/AWS profile/, ''],
      [/public URL/, 'http://www.example.com.s3-website-eu-west-1.amazonaws.com'],
      [/^the DNS host/, 'route53'],
      [/hosted zone's id/, ''],
      [/the zone$|hosted zone/, ''],
      [/points to/, ''],
    ]);
    const answers = await gatherAnswers({ site: 'public', origin: ['s3:www.example.com'] }, asker, CONTEXT);
    assert.deepEqual(asker.asked, [
      'the host name users type (site.hostname and dns.name)',
      "origin s3: the bucket's region",
      'origin s3: its public URL, which the health checks probe',
      'the DNS host that moves the name (route53, cloudflare, dnsmadeeasy, powerdns, rfc2136, embedded, none; none: no failover)',
      "DNS route53: the hosted zone's id (empty: found by the zone's name)",
      'DNS route53: the zone',
      "DNS route53: an AWS profile (empty: the AWS SDK's standard chain)",
      'Another DNS host (each gets every change)?',
    ]);
    const { config } = parseConfig(renderConfig(answers).text, FILE, { env: {} });
    assert.deepEqual(config.origins[0]?.dns, { cname: 'www.example.com.s3-website-eu-west-1.amazonaws.com' });
    assert.equal(config.dns?.providers[0]?.type, 'route53');
  });

  test('origins asked one by one until the answer is no; the s3 bucket is offered as the host name', async () => {
    const asker = new ScriptedAsker([
      [/built site/, ''],
      [/^the host name/, 'www.example.com'],
      [/^origin 1: its type/, 's3'],
      [/^origin 2: its type/, 'fs'],
      [/short id/, ''],
      [/the bucket$/, ''],
      [/region/, 'us-east-1'],
      [/endpoint|AWS profile/, ''],
      [/the folder it is kept in/, '/srv/www'],
      [/origin s3: its public URL/, 'http://www.example.com.s3-website-us-east-1.amazonaws.com'],
      [/origin fs: its public URL/, 'http://192.0.2.7/'],
      [/^the DNS host/, 'none'],
    ]);
    const answers = await gatherAnswers({}, asker, { ...CONTEXT, siteSuggestion: 'dist' });
    assert.equal(answers.siteDir, './dist');
    assert.deepEqual(
      answers.origins.map((origin) => origin.id),
      ['s3', 'fs'],
    );
    assert.equal(answers.origins[0]?.type === 's3' && answers.origins[0].bucket, 'www.example.com');
    assert.equal(asker.asked.filter((prompt) => prompt === 'Another origin?').length, 2);
    assert.deepEqual(answers.dns, []);
  });
});

describe('outlast init: small conversions', () => {
  test('zoneOf, hostPort, parseTarget, envPrefix, pathForFile', () => {
    assert.equal(zoneOf('www.example.com'), 'example.com');
    assert.equal(zoneOf('example.com'), 'example.com');
    assert.equal(zoneOf('a.b.example.co.uk'), 'b.example.co.uk');
    assert.equal(hostPort('192.0.2.1', 53), '192.0.2.1:53');
    assert.equal(hostPort('[2001:db8::1]:5353'), '[2001:db8::1]:5353');
    assert.equal(hostPort('192.0.2.1'), undefined);
    assert.equal(hostPort('host:99999'), undefined);
    assert.deepEqual(parseTarget('192.0.2.1, 2001:db8::1'), { addresses: ['192.0.2.1', '2001:db8::1'] });
    assert.deepEqual(parseTarget('cdn.example.net'), { cname: 'cdn.example.net' });
    assert.equal(parseTarget('a.example.net b.example.net'), undefined);
    assert.equal(parseTarget('192.0.2.1 cdn.example.net'), undefined);
    assert.equal(envPrefix('swift-2'), 'SWIFT_2');
    assert.equal(envPrefix('2nd'), 'ORIGIN_2ND');
    assert.equal(pathForFile('/a/b/c', '/a/b'), './c');
    assert.equal(pathForFile('/a/b', '/a/b'), '.');
    assert.equal(pathForFile('/a/x', '/a/b'), '/a/x');
  });
});
