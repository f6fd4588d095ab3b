/**
 * `outlast setup` for a Swift container, and the extra keys staticweb needs.
 *
 * staticweb serves a container publicly when it is readable by anyone with listings
 * (`X-Container-Read: .r:*,.rlistings`; with `.r:*` alone the index at `/` is a 401) and has
 * `Web-Index` / `Web-Error` metadata. The error page for a status is the object
 * `<status><web-error>` (`404error.html`), hence `swiftSiteAliases`. CORS is container metadata
 * too (`Access-Control-Allow-Origin`, space-separated; `Max-Age`; `Expose-Headers`). Swift answers
 * a preflight with every method and the headers asked for, so a rule's methods and headers cannot
 * be narrowed here.
 *
 * Every step reads the container's headers (one HEAD) and POSTs only what differs, so a second
 * run says `already` throughout. Each change goes through the setup's write gate (writes.ts),
 * which in a dry run reports it as `would` instead; a container not there yet has no headers, so
 * every step is then a change.
 *
 * On Rackspace Cloud Files the CDN publishes the container (swift-cdn.ts): the public-read step
 * is then left out and a CDN step comes last, once the container exists.
 */
import { OutlastError } from '../../errors.ts';
import { gateOf, type WriteGate } from '../../writes.ts';
import type { SetupOptions, SetupStep, SiteDocuments } from '../driver.ts';
import {
  containerUrl,
  DRIVER_NAME,
  failure,
  isSuccess,
  type SwiftClient,
  type SwiftResponse,
} from './swift-http.ts';

/** The public-read ACL entries staticweb needs. */
const PUBLIC_READ = ['.r:*', '.rlistings'];
const READ_ACL = 'x-container-read';
const WEB_INDEX = 'x-container-meta-web-index';
const WEB_ERROR = 'x-container-meta-web-error';
const CORS_ORIGIN = 'x-container-meta-access-control-allow-origin';
const CORS_MAX_AGE = 'x-container-meta-access-control-max-age';
const CORS_EXPOSE = 'x-container-meta-access-control-expose-headers';
/** Browsers may read the ETag of a cross-origin answer (cache checks in scripts). */
const EXPOSED_HEADERS = 'etag';

/** staticweb's error page for a missing key is `404<errorDocument>`: an alias of the page. */
export function swiftSiteAliases(site: SiteDocuments): Record<string, string> {
  return site.errorDocument ? { [`404${site.errorDocument}`]: site.errorDocument } : {};
}

/** The CDN's part of setup (swift-cdn.ts), when the origin has one. */
export interface SwiftCdnSetup {
  /** True when the CDN is what makes the container public: no public-read ACL then. */
  replacesAcl: boolean;
  step(gate: WriteGate): Promise<SetupStep>;
}

/** Headers a step wants: a value to set, or `null` for a header to remove. */
type Wanted = Record<string, string | null>;

interface PlannedStep {
  step: string;
  wanted: Wanted;
  detail: string;
}

export async function swiftSetup(
  client: SwiftClient,
  container: string,
  options: SetupOptions,
  cdn?: SwiftCdnSetup,
): Promise<SetupStep[]> {
  const name = JSON.stringify(container);
  const call = (operation: string, method: 'HEAD' | 'PUT' | 'POST', headers: Record<string, string> = {}) =>
    client.call(`setup: ${operation} container ${name}`, (session) => ({
      method,
      url: containerUrl(session.storageUrl, container),
      headers: method === 'HEAD' ? headers : { ...headers, 'content-length': '0' },
    }));
  const check = async (response: SwiftResponse, operation: string) => {
    if (isSuccess(response)) return void (await response.body.dump());
    throw await failure(response, `setup: ${operation} container ${name}`);
  };

  const gate = gateOf(options);
  const steps: SetupStep[] = [];
  const head = await call('read', 'HEAD');
  let current: SwiftResponse['headers'] = {};
  if (head.statusCode === 404) {
    await head.body.dump();
    if (!options.create) {
      throw new OutlastError('not_found', `setup: container ${name} does not exist`, {
        source: DRIVER_NAME,
        hint: 'run `outlast setup --create` to create it',
      });
    }
    const change = { what: `create container ${name}`, done: `created container ${name}` };
    steps.push(
      await gate.step('create container', change, async () => check(await call('create', 'PUT'), 'create')),
    );
  } else {
    await check(head, 'read');
    current = head.headers;
    steps.push({ step: 'create container', status: 'already', detail: `container ${name} exists` });
  }

  for (const planned of plan(options, current)) {
    if (planned.step === 'public read' && cdn?.replacesAcl) continue;
    const changes = differences(planned.wanted, current);
    if (Object.keys(changes).length === 0) {
      steps.push({ step: planned.step, status: 'already', detail: planned.detail });
      continue;
    }
    const operation = `set ${planned.step} on`;
    const change = { what: `set ${planned.detail}`, done: `set ${planned.detail}` };
    steps.push(
      await gate.step(planned.step, change, async () =>
        check(await call(operation, 'POST', changes), operation),
      ),
    );
  }
  if (cdn) steps.push(await cdn.step(gate));
  return steps;
}

function plan(options: SetupOptions, current: SwiftResponse['headers']): PlannedStep[] {
  // Other entries of the read ACL (users, referrers) are kept: the two staticweb needs are added.
  const acl = text(current[READ_ACL])
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  const missing = PUBLIC_READ.filter((entry) => !acl.includes(entry));
  const steps: PlannedStep[] = [
    {
      step: 'public read',
      wanted: { [READ_ACL]: missing.length === 0 ? text(current[READ_ACL]) : [...acl, ...missing].join(',') },
      detail: `anyone may read and list the container (X-Container-Read ${PUBLIC_READ.join(',')})`,
    },
    {
      step: 'website',
      wanted: { [WEB_INDEX]: options.indexDocument, [WEB_ERROR]: options.errorDocument ?? null },
      detail: options.errorDocument
        ? `index document ${options.indexDocument}, error page 404${options.errorDocument} (from ${options.errorDocument})`
        : `index document ${options.indexDocument}, no error page`,
    },
  ];
  if (options.cors) {
    const { allowedOrigins, maxAgeSeconds } = options.cors;
    steps.push({
      step: 'cors',
      wanted: {
        [CORS_ORIGIN]: allowedOrigins.join(' '),
        [CORS_MAX_AGE]: String(maxAgeSeconds),
        [CORS_EXPOSE]: EXPOSED_HEADERS,
      },
      detail: `CORS for ${allowedOrigins.join(' ')}, max age ${maxAgeSeconds} s (Swift allows every method and the requested headers)`,
    });
  }
  return steps;
}

/** The headers of a container POST that make `current` match `wanted`. */
function differences(wanted: Wanted, current: SwiftResponse['headers']): Record<string, string> {
  const changes: Record<string, string> = {};
  for (const [name, value] of Object.entries(wanted)) {
    const now = current[name];
    if (value === null) {
      // Swift removes metadata on `X-Remove-<name>`.
      if (now !== undefined) changes[name.replace(/^x-/, 'x-remove-')] = 'x';
    } else if (text(now) !== value) {
      changes[name] = value;
    }
  }
  return changes;
}

function text(value: string | string[] | undefined): string {
  return Array.isArray(value) ? value.join(',') : (value ?? '');
}
