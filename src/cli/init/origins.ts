/** The origins of `outlast init`: each one's type, where it keeps the site, its URL, its DNS target. */
import { isIP } from 'node:net';
import { resolve } from 'node:path';
import {
  type DnsTargetAnswer,
  type OriginAnswer,
  type OriginType,
  type StorageAnswer,
  SWIFT_AUTH_TYPES,
  type SwiftAuthType,
} from '../../config/template.ts';
import {
  checkChoice,
  checkDnsName,
  checkOriginId,
  checkUrl,
  checkWord,
  parseYesNo,
  pathForFile,
  within,
} from './checks.ts';
import {
  type Asker,
  envQuestion,
  type KeyQuestion,
  key,
  LOCATION,
  type Spec,
  specError,
} from './questions.ts';

export interface OriginContext {
  /** Where relative paths start. */
  cwd: string;
  /** The config file's folder: paths are written relative to it. */
  configDir: string;
  name: string | undefined;
  /** The site folder, absolute. */
  site: string | undefined;
  /** Ids taken so far. */
  ids: Set<string>;
}

export async function gatherOrigin(
  spec: Spec,
  asker: Asker,
  context: OriginContext,
): Promise<OriginAnswer | undefined> {
  const type = spec.type as OriginType;
  let fallbackId: string = type;
  for (let n = 2; context.ids.has(fallbackId); n++) fallbackId = `${type}-${n}`;
  spec.topic = `origin ${context.ids.size + 1} (${type})`;
  const id = await key(spec, 'id', asker, {
    prompt: 'a short id, used in commands and logs',
    default: fallbackId,
    check: (text) =>
      checkOriginId(text) ??
      (context.ids.has(text) ? `another origin already has the id ${text}` : undefined),
  });
  if (id === undefined) return undefined;
  context.ids.add(id);
  spec.id = id;
  spec.topic = `origin ${id}`;

  const checkLocation = (text: string) => locationProblem(type, text, context);
  let location = spec.location;
  if (location === undefined) {
    location = await asker.ask({
      flag: `--origin ${type}:${LOCATION[type]}`,
      topic: spec.topic,
      ...LOCATION_QUESTIONS[type](context.name),
      check: checkLocation,
    });
  } else {
    const problem = checkLocation(location);
    if (problem) throw specError(spec.label, problem);
  }
  const storage =
    type === 'fs'
      ? location === undefined
        ? undefined
        : { type, path: pathForFile(resolve(context.cwd, location), context.configDir) }
      : type === 's3'
        ? await gatherS3(spec, asker, location)
        : await gatherSwift(spec, asker, location);
  const url = await key(spec, 'url', asker, {
    prompt: 'its public URL, which the health checks probe',
    example: exampleUrl(type, location),
    check: checkUrl,
  });
  // Rarely wanted: a flag only, not a question.
  const prefix = !spec.keys.has('prefix')
    ? undefined
    : await key(spec, 'prefix', asker, {
        prompt: 'a key prefix inside the store (empty: none)',
        optional: true,
        check: (text) => (/^\S+$/.test(text) ? undefined : 'expected a prefix without spaces, e.g. site/'),
      });
  const target = targetOf(spec);
  if (storage === undefined || url === undefined) return undefined;
  return { id, url, ...storage, ...(prefix ? { prefix } : {}), ...(target ? { target } : {}) };
}

const LOCATION_QUESTIONS: Record<OriginType, (name: string | undefined) => KeyQuestion> = {
  fs: () => ({ prompt: 'the folder it is kept in, which a web server serves', example: '/var/www/site' }),
  // S3 website hosting behind a CNAME needs the bucket named like the host name.
  s3: (name) => ({ prompt: 'the bucket', ...(name ? { suggestion: name } : { example: 'www.example.com' }) }),
  swift: () => ({ prompt: 'the container', example: 'www' }),
};

function locationProblem(type: OriginType, text: string, context: OriginContext): string | undefined {
  if (text.trim() === '') return 'expected a value';
  if (type === 'fs') {
    const folder = resolve(context.cwd, text);
    if (context.site && (within(folder, context.site) || within(context.site, folder))) {
      return `the folder ${text} overlaps the site folder: a deploy would publish into what it reads`;
    }
    return undefined;
  }
  if (type === 's3') {
    return /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/.test(text)
      ? undefined
      : 'expected a bucket name: 3 to 255 letters, digits, dots and hyphens';
  }
  return text.length <= 256 && !text.includes('/') ? undefined : 'expected a container name, without "/"';
}

async function gatherS3(
  spec: Spec,
  asker: Asker,
  bucket: string | undefined,
): Promise<StorageAnswer | undefined> {
  const region = await key(spec, 'region', asker, {
    prompt: "the bucket's region",
    example: 'eu-west-1; R2: auto',
    check: checkWord('a region such as eu-west-1'),
  });
  const endpoint = await key(spec, 'endpoint', asker, {
    prompt: 'the endpoint of an S3-compatible store (empty: Amazon S3)',
    optional: true,
    check: checkUrl,
  });
  let pathStyle: boolean | undefined;
  const pathStyleText = spec.keys.get('path-style')?.[0];
  if (pathStyleText !== undefined) {
    pathStyle = parseYesNo(pathStyleText === '' ? 'yes' : pathStyleText);
    if (pathStyle === undefined)
      throw specError(spec.label, `path-style=${pathStyleText}: expected yes or no`);
  } else if (endpoint !== undefined) {
    pathStyle =
      spec.given ||
      (await asker.confirm(`${spec.topic}: path-style URLs (most S3-compatible stores need them)?`, true));
  }
  if (spec.keys.has('env') && spec.keys.has('profile')) {
    throw specError(spec.label, 'env= and profile= exclude each other: credentials come from one place');
  }
  const profile = spec.keys.has('env')
    ? undefined
    : await key(spec, 'profile', asker, {
        prompt: `an AWS profile (empty: ${endpoint ? 'credentials from environment variables' : "the AWS SDK's standard chain"})`,
        optional: true,
        check: checkWord('a profile name'),
      });
  const withVariables = spec.keys.has('env') || (endpoint !== undefined && profile === undefined);
  const env = withVariables
    ? await key(spec, 'env', asker, envQuestion(spec, ['ACCESS_KEY_ID', 'SECRET_ACCESS_KEY']))
    : undefined;
  if (bucket === undefined || region === undefined || (withVariables && env === undefined)) return undefined;
  return {
    type: 's3',
    bucket,
    region,
    ...(endpoint !== undefined ? { endpoint } : {}),
    ...(pathStyle !== undefined ? { pathStyle } : {}),
    ...(profile !== undefined ? { profile } : {}),
    ...(env !== undefined ? { env } : {}),
  };
}

const SWIFT_VARIABLES: Record<SwiftAuthType, string[]> = {
  rackspace: ['USERNAME', 'API_KEY'],
  keystone: ['USERNAME', 'PASSWORD', 'PROJECT_NAME'],
  'keystone-app': ['APPLICATION_CREDENTIAL_ID', 'APPLICATION_CREDENTIAL_SECRET'],
  tempauth: ['USER', 'KEY'],
};

async function gatherSwift(
  spec: Spec,
  asker: Asker,
  container: string | undefined,
): Promise<StorageAnswer | undefined> {
  const auth = (await key(spec, 'auth', asker, {
    prompt:
      'how it signs in: rackspace (Cloud Files), keystone (user and password), keystone-app ' +
      '(application credential) or tempauth',
    choices: SWIFT_AUTH_TYPES,
    check: checkChoice(SWIFT_AUTH_TYPES),
  })) as SwiftAuthType | undefined;
  const authUrl =
    auth === undefined
      ? undefined
      : await key(spec, 'auth-url', asker, {
          prompt: `the identity (auth) URL${auth === 'rackspace' ? " (empty: Rackspace's)" : ''}`,
          optional: auth === 'rackspace',
          ...(auth === 'rackspace'
            ? {}
            : {
                example:
                  auth === 'tempauth'
                    ? 'https://swift.example.net/auth/v1.0'
                    : 'https://keystone.example.net/v3',
              }),
          check: checkUrl,
        });
  const region = await key(spec, 'region', asker, {
    prompt: 'the region in the service catalog (empty: the first with object storage)',
    optional: true,
    check: checkWord('a region name such as DFW'),
  });
  const env = await key(spec, 'env', asker, envQuestion(spec, SWIFT_VARIABLES[auth ?? 'rackspace']));
  if (container === undefined || auth === undefined || env === undefined) return undefined;
  if (auth !== 'rackspace' && authUrl === undefined) return undefined;
  return {
    type: 'swift',
    container,
    auth,
    env,
    ...(authUrl !== undefined ? { authUrl } : {}),
    ...(region !== undefined ? { region } : {}),
  };
}

/** The origin's cname= or ip= keys, checked. */
function targetOf(spec: Spec): DnsTargetAnswer | undefined {
  const cname = spec.keys.get('cname');
  const ips = spec.keys.get('ip');
  if (cname && ips)
    throw specError(spec.label, 'cname= and ip= exclude each other: a name is a CNAME or has addresses');
  if (cname) {
    const value = cname[0] ?? '';
    if (checkDnsName(value)) throw specError(spec.label, `cname=${value}: expected a host name`);
    return { cname: value };
  }
  if (ips) {
    const bad = ips.find((ip) => isIP(ip) === 0);
    if (bad !== undefined) throw specError(spec.label, `ip=${bad}: expected an IPv4 or IPv6 address`);
    return { addresses: ips };
  }
  return undefined;
}

function exampleUrl(type: OriginType, location: string | undefined): string {
  if (type === 's3') return `http://${location ?? 'BUCKET'}.s3-website-REGION.amazonaws.com`;
  if (type === 'swift')
    return "the container's CDN URL, or https://swift.example.net/v1/AUTH_account/container";
  return 'http://192.0.2.10/, wherever a web server serves the folder';
}
