/**
 * Rackspace Cloud Files' CDN for a `swift` origin: the CDN management API (the `cloudFilesCDN`
 * endpoint of the login's service catalog, swift-auth.ts), its `outlast setup` step, the
 * `outlast check` findings about it, and CDN purges.
 *
 * What Rackspace documents (Cloud Files API v1, "CDN container services" and "CDN object
 * services"), followed here:
 *   - A Cloud Files container is public only once CDN-enabled: `PUT {cdn}/{container}` with
 *     `X-CDN-Enabled: True` and `X-Ttl` (201 Created; 202 Accepted when it was already known).
 *     The container must exist in storage first. Its objects are then served at `X-Cdn-Uri/<name>`
 *     and `X-Cdn-Ssl-Uri/<name>`; a static website's index and error pages are the storage
 *     container's `X-Container-Meta-Web-Index` / `-Web-Error` (swift-setup.ts), served through
 *     those URIs. So no `.r:*` read ACL is set on Rackspace: the CDN is how Cloud Files publishes,
 *     and an ACL would open the storage endpoint too, past the CDN.
 *   - `HEAD {cdn}/{container}` answers `X-Cdn-Enabled`, `X-Ttl`, `X-Cdn-Uri`, `X-Cdn-Ssl-Uri`,
 *     `X-Cdn-Streaming-Uri`, `X-Cdn-Ios-Uri`, `X-Log-Retention`; 404 for a container never
 *     CDN-enabled. `POST` changes only `X-Ttl`, `X-CDN-Enabled` and `X-Log-Retention` (204).
 *   - TTL from 900 s to 31,536,000 s (one year; longer is accepted but expires at a year); default
 *     259,200 s (72 h).
 *   - `DELETE {cdn}/{container}/{object}` purges the object from the edge (204), optionally
 *     mailing `X-Purge-Email`; Rackspace allows 25 purges a day. A DELETE sent to the storage URL
 *     instead would delete the object itself: purges only ever use the session's `cdnUrl`.
 *
 * Over the quota Rackspace answers with a refusal whose exact status it does not document: any
 * refusal (rate limited or not) stops the purge, which then reports what it did not purge; a
 * purge never fails a deploy. `outlast deploy` calls `purgeKeys` through the driver's `purge`
 * (swift.ts) after the commit, when `deploy.purge` is on, with the changed and deleted keys.
 */
import { messageOf, OutlastError } from '../../errors.ts';
import type { SetupStep, WriteGate } from '../../writes.ts';
import type { PurgeResult } from '../driver.ts';
import { type CatalogAuth, type CatalogSession, createSwiftAuth } from './swift-auth.ts';
import {
  containerUrl,
  createAgent,
  DRIVER_NAME,
  encodeSegments,
  failure,
  header,
  isSuccess,
  SwiftClient,
  type SwiftResponse,
} from './swift-http.ts';
import { CDN_TTL_DEFAULT, type SwiftStorageConfig } from './swift-options.ts';

/** Rackspace's documented purge quota: objects per account per day. */
export const DAILY_PURGE_QUOTA = 25;
const STEP = 'cdn';

/** A container's CDN settings, as its HEAD answers them. */
export interface CdnState {
  enabled: boolean;
  ttl: number | undefined;
  uri: string | undefined;
  sslUri: string | undefined;
  streamingUri: string | undefined;
  iosUri: string | undefined;
  logRetention: boolean | undefined;
}

/** The `cdn` options with their defaults, or undefined when the origin has no CDN to manage. */
export interface CdnSettings {
  ttl: number;
  /** Where Rackspace mails a note of each purge (cdn.purgeEmail). */
  purgeEmail: string | undefined;
}

export function cdnSettings(config: Pick<SwiftStorageConfig, 'auth' | 'cdn'>): CdnSettings | undefined {
  if (config.auth.type !== 'rackspace' || config.cdn === false) return undefined;
  const email = config.cdn?.purgeEmail;
  // Rackspace takes a comma-separated list in X-Purge-Email.
  return {
    ttl: config.cdn?.ttl ?? CDN_TTL_DEFAULT,
    purgeEmail: Array.isArray(email) ? email.join(', ') : email,
  };
}

/** The CDN management API for one container, with the account's token (a 401 logs in again). */
export class CloudFilesCdn {
  constructor(
    readonly client: SwiftClient,
    readonly container: string,
  ) {}

  private url(session: CatalogSession, key?: string): string {
    if (!session.cdnUrl) {
      throw new OutlastError(
        'invalid_argument',
        `the service catalog has no cloudFilesCDN endpoint in the region of ${session.storageUrl}`,
        { source: DRIVER_NAME, hint: 'check storage.region, or set storage.cdn: false' },
      );
    }
    const base = containerUrl(session.cdnUrl, this.container);
    return key === undefined ? base : `${base}/${encodeSegments(key)}`;
  }

  private what(operation: string, key?: string): string {
    return `CDN: ${operation} ${key === undefined ? '' : `${JSON.stringify(key)} in `}container ${JSON.stringify(this.container)}`;
  }

  /** The container's CDN settings; undefined when it was never CDN-enabled (404). */
  async read(): Promise<CdnState | undefined> {
    const what = this.what('read');
    const response = await this.client.call(what, (session) => ({ method: 'HEAD', url: this.url(session) }));
    await response.body.dump();
    if (response.statusCode === 404) return undefined;
    if (!isSuccess(response)) throw await failure(response, what);
    return stateOf(response);
  }

  /** CDN-enables the container with `ttl` (PUT: also for one that was enabled once). */
  async enable(ttl: number): Promise<void> {
    await this.send('enable', 'PUT', { 'x-cdn-enabled': 'True', 'x-ttl': String(ttl) });
  }

  /** Changes the settings of a container CDN-enabled before (POST). */
  async update(changes: { enabled?: boolean; ttl?: number }): Promise<void> {
    const headers: Record<string, string> = {};
    if (changes.enabled !== undefined) headers['x-cdn-enabled'] = changes.enabled ? 'True' : 'False';
    if (changes.ttl !== undefined) headers['x-ttl'] = String(changes.ttl);
    await this.send('update', 'POST', headers);
  }

  /** Purges one object from the CDN's edge (never the stored object: the CDN URL only). */
  async purge(key: string, email?: string): Promise<void> {
    await this.send('purge', 'DELETE', email ? { 'x-purge-email': email } : {}, key);
  }

  private async send(
    operation: string,
    method: 'PUT' | 'POST' | 'DELETE',
    headers: Record<string, string>,
    key?: string,
  ): Promise<void> {
    const what = this.what(operation, key);
    const response = await this.client.call(what, (session) => ({
      method,
      url: this.url(session, key),
      headers: { ...headers, 'content-length': '0' },
    }));
    if (isSuccess(response)) return void (await response.body.dump());
    throw await failure(response, what);
  }
}

function stateOf(response: SwiftResponse): CdnState {
  const get = (name: string) => header(response.headers, name);
  const flag = (name: string) => {
    const value = get(name)?.toLowerCase();
    return value === undefined ? undefined : value === 'true';
  };
  const ttl = Number(get('x-ttl'));
  return {
    enabled: flag('x-cdn-enabled') ?? false,
    ttl: Number.isFinite(ttl) && get('x-ttl') !== undefined ? ttl : undefined,
    uri: get('x-cdn-uri'),
    sslUri: get('x-cdn-ssl-uri'),
    streamingUri: get('x-cdn-streaming-uri'),
    iosUri: get('x-cdn-ios-uri'),
    logRetention: flag('x-log-retention'),
  };
}

/** What a setup step says about the URIs, and where the origin's url should point. */
function uris(state: CdnState | undefined): string {
  if (!state?.uri && !state?.sslUri) return '';
  const ssl = state.sslUri
    ? `; set the origin's url to ${state.sslUri} and point the DNS name at ${hostOf(state.sslUri)}`
    : '';
  return `; HTTP ${state.uri ?? '(none)'}, SSL ${state.sslUri ?? '(none)'}${ssl}`;
}

/**
 * The setup step: reads the container's CDN settings and changes only what differs (a PUT for a
 * container never enabled, else a POST of the TTL or the flag), through the gate.
 */
export async function cdnSetupStep(cdn: CloudFilesCdn, ttl: number, gate: WriteGate): Promise<SetupStep> {
  const title = `CDN-enable the container (TTL ${ttl})`;
  const state = await cdn.read();
  if (state?.enabled && state.ttl === ttl) {
    return { step: STEP, status: 'already', detail: `${title}: enabled${uris(state)}` };
  }
  const change = state
    ? { what: `${title} (now ${state.enabled ? `TTL ${state.ttl}` : 'disabled'})`, done: title }
    : { what: title, done: title };
  return gate.step(STEP, change, async () => {
    if (!state) await cdn.enable(ttl);
    else
      await cdn.update({
        ...(state.enabled ? {} : { enabled: true }),
        ...(state.ttl === ttl ? {} : { ttl }),
      });
    return { step: STEP, status: 'done', detail: `${title}: done${uris(await cdn.read())}` };
  });
}

/** A setup step for `cdn` on a login that has no Cloud Files CDN. */
export function cdnUnsupported(): SetupStep {
  return {
    step: STEP,
    status: 'unsupported',
    detail:
      "storage.cdn is Rackspace Cloud Files' CDN: it needs auth.type rackspace (remove it for other Swift clusters)",
  };
}

/** What `purgeKeys` did: the driver contract's purge result (keys not purged are left to the TTL). */
export type PurgeReport = PurgeResult;

/**
 * Purges `keys` one by one, at most `quota` of them (Rackspace's 25 a day, shared by the whole
 * account: a refusal before that ends the purge too). Never throws: what was not purged is in the
 * report, with the reason; those objects refresh when their TTL ends.
 */
export async function purgeKeys(
  cdn: CloudFilesCdn,
  keys: readonly string[],
  options: { email?: string | undefined; quota?: number } = {},
): Promise<PurgeReport> {
  const quota = options.quota ?? DAILY_PURGE_QUOTA;
  const purged: string[] = [];
  for (const [index, key] of keys.entries()) {
    if (index >= quota) {
      return stopped(purged, keys.slice(index), `over the ${quota} CDN purges a day Rackspace allows`);
    }
    try {
      await cdn.purge(key, options.email);
      purged.push(key);
    } catch (error) {
      return stopped(purged, keys.slice(index), `the CDN refused a purge: ${messageOf(error)}`);
    }
  }
  return { purged, notPurged: [], reason: undefined };
}

function stopped(purged: string[], rest: readonly string[], why: string): PurgeReport {
  return { purged, notPurged: [...rest], reason: why };
}

/** A finding of `outlast check` (its shape there). */
export interface CdnFinding {
  level: 'ok' | 'warn' | 'fail';
  subject: string;
  message: string;
}

/** The origin shape `check` has (config/schema's OriginConfig, as far as this needs it). */
interface CheckedOrigin {
  id: string;
  url?: string | undefined;
  storage: { type: string };
}

/**
 * `outlast check` for a Rackspace origin: the container is CDN-enabled, and the origin's `url`
 * is on its CDN host (HTTP or SSL), since that is where Cloud Files serves it. Nothing for other
 * origins, unless `purge` (the config's `deploy.purge`) is on: then a warning that this origin
 * has no CDN outlast can purge. `index` is the origin's place in `origins`, for the config path.
 */
export async function checkCloudFilesCdn(
  origin: CheckedOrigin,
  index: number,
  purge = false,
): Promise<CdnFinding[]> {
  const subject = `origin ${origin.id} cdn`;
  const storage = origin.storage as SwiftStorageConfig;
  if (origin.storage.type !== 'swift' || !cdnSettings(storage)) {
    if (!purge) return [];
    const why =
      origin.storage.type === 'swift'
        ? 'only Rackspace Cloud Files (auth.type rackspace, cdn not false) has one'
        : `storage type ${origin.storage.type} has none`;
    return [
      {
        level: 'warn',
        subject,
        message: `deploy.purge is on, but this origin has no CDN outlast can purge (${why}): a cache in front of it keeps changed objects until they expire`,
      },
    ];
  }
  const agent = createAgent();
  try {
    const auth: CatalogAuth = createSwiftAuth({
      auth: storage.auth,
      interface: storage.interface,
      dispatcher: agent,
      ...(storage.region === undefined ? {} : { region: storage.region }),
    });
    const cdn = new CloudFilesCdn(new SwiftClient(auth, agent), storage.container);
    const state = await cdn.read();
    const name = JSON.stringify(storage.container);
    if (!state?.enabled) {
      return [
        {
          level: 'warn',
          subject,
          message: `container ${name} is not CDN-enabled: no visitor can read it (run \`outlast setup\`)`,
        },
      ];
    }
    const hosts = [state.uri, state.sslUri].filter((uri): uri is string => uri !== undefined).map(hostOf);
    const path = `origins[${index}].url`;
    if (!origin.url || !hosts.includes(hostOf(origin.url))) {
      return [
        {
          level: 'warn',
          subject,
          message:
            `${path} is ${origin.url ?? 'not set'}, not the CDN of container ${name}: ` +
            `set it to ${state.sslUri ?? state.uri} (and the DNS target to ${hostOf(state.sslUri ?? state.uri ?? '')})`,
        },
      ];
    }
    return [
      {
        level: 'ok',
        subject,
        message:
          `container ${name} CDN-enabled (TTL ${state.ttl}), ${path} on its CDN host` +
          (purge ? `; deploy.purge: changed objects are purged (${DAILY_PURGE_QUOTA} a day)` : ''),
      },
    ];
  } catch (error) {
    return [{ level: 'warn', subject, message: `cannot read the CDN settings: ${messageOf(error)}` }];
  } finally {
    await agent.close();
  }
}

/** `host[:port]` of a URL, lower-case; the text itself when it is no URL. */
function hostOf(url: string): string {
  try {
    return new URL(url).host.toLowerCase();
  } catch {
    return url;
  }
}
