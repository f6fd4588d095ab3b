/**
 * Logging in to Swift: a small client for the three identity services Swift sites use.
 *
 *   - tempauth / v1.0 (Swift's own, dev clusters, some providers): `GET url` with X-Auth-User and
 *     X-Auth-Key → X-Auth-Token, X-Storage-Url, X-Auth-Token-Expires (seconds).
 *   - Keystone v3 (OpenStack, OVHcloud…): `POST {url}/auth/tokens` with the password method
 *     (user and project by name, in a domain) or an application credential (id and secret, already
 *     scoped) → the token in X-Subject-Token, `token.expires_at` and the service catalog.
 *   - Rackspace identity v2.0 (Cloud Files): `POST {url}/tokens` with
 *     `RAX-KSKEY:apiKeyCredentials` → `access.token.{id,expires}` and `access.serviceCatalog`.
 *
 * From a catalog, the `object-store` service's endpoint is taken for the configured region (else
 * the first one listed) and interface; on Rackspace, the `cloudFilesCDN` (`rax:object-cdn`)
 * endpoint of the same region is kept too (its CDN management API, swift-cdn.ts). A session is cached until shortly before its token expires;
 * concurrent callers share one login in flight. Errors name the auth URL and the user, never the
 * key, password or secret.
 */
import type { Dispatcher } from 'undici';
import { z } from 'zod';
import { OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import {
  DRIVER_NAME,
  header,
  isSuccess,
  type SwiftAuth,
  type SwiftResponse,
  type SwiftSession,
  send,
  statusError,
} from './swift-http.ts';
import type { SwiftStorageConfig } from './swift-options.ts';

export type { SwiftAuth, SwiftSession } from './swift-http.ts';

export type { SwiftStorageConfig } from './swift-options.ts';
export type SwiftAuthConfig = SwiftStorageConfig['auth'];
export type SwiftInterface = SwiftStorageConfig['interface'];

/** A session that may also know the account's CDN management URL (Rackspace's `cloudFilesCDN`). */
export interface CatalogSession extends SwiftSession {
  /** e.g. `https://cdn1.clouddrive.com/v1/MossoCloudFS_…`, no trailing `/`; absent when the
   * catalog has none for the region (or the login has no catalog). */
  cdnUrl?: string;
}

export interface CatalogAuth extends SwiftAuth {
  session(): Promise<CatalogSession>;
}

/** A token and the account it opens. */
export interface SwiftAuthOptions {
  auth: SwiftAuthConfig;
  /** The catalog region (Keystone, Rackspace); default the first with an object-store endpoint. */
  region?: string;
  /** The catalog interface (Keystone, Rackspace). */
  interface: SwiftInterface;
  dispatcher: Dispatcher;
  /** The clock, for tests. */
  now?: () => number;
}

/** Renew this long before the token expires (at most half its lifetime), so no request carries a
 * token that expires on the way. */
const RENEW_MARGIN_MS = 60_000;

export function createSwiftAuth(options: SwiftAuthOptions): CatalogAuth {
  const now = options.now ?? Date.now;
  const logger = componentLogger('swift-auth', { type: options.auth.type, url: options.auth.url });
  let current: CatalogSession | undefined;
  let pending: Promise<CatalogSession> | undefined;

  async function login(): Promise<CatalogSession> {
    const started = now();
    const { token, storageUrl, lifetimeMs, cdnUrl } = await loginOnce(options);
    const session: CatalogSession = { token, storageUrl: storageUrl.replace(/\/+$/, '') };
    if (cdnUrl) session.cdnUrl = cdnUrl.replace(/\/+$/, '');
    if (lifetimeMs !== undefined) {
      session.renewAt = started + lifetimeMs - Math.min(RENEW_MARGIN_MS, Math.max(0, lifetimeMs) / 2);
    }
    current = session;
    logger.debug({ storageUrl: session.storageUrl, lifetimeMs }, 'login');
    return session;
  }

  return {
    session() {
      if (current && (current.renewAt === undefined || now() < current.renewAt)) {
        return Promise.resolve(current);
      }
      pending ??= login().finally(() => {
        pending = undefined;
      });
      return pending;
    },
    invalidate(stale) {
      if (current !== stale) return;
      logger.info({ storageUrl: stale.storageUrl }, 'token refused, logging in again');
      current = undefined;
    },
  };
}

interface Login {
  token: string;
  storageUrl: string;
  lifetimeMs?: number;
  cdnUrl?: string;
}

function loginOnce(options: SwiftAuthOptions): Promise<Login> {
  switch (options.auth.type) {
    case 'tempauth':
      return tempauthLogin(options.auth, options.dispatcher);
    case 'keystone':
      return keystoneLogin(options.auth, options);
    case 'rackspace':
      return rackspaceLogin(options.auth, options);
  }
}

async function tempauthLogin(
  auth: Extract<SwiftAuthConfig, { type: 'tempauth' }>,
  dispatcher: Dispatcher,
): Promise<Login> {
  const what = `log in to ${auth.url} as ${JSON.stringify(auth.user)}`;
  const response = await send(
    dispatcher,
    { method: 'GET', url: auth.url, headers: { 'x-auth-user': auth.user, 'x-auth-key': auth.key } },
    what,
  );
  if (!isSuccess(response)) throw await loginFailure(response, what);
  await response.body.dump();
  const token = header(response.headers, 'x-auth-token');
  const storageUrl = header(response.headers, 'x-storage-url');
  if (!token || !storageUrl) throw malformed(what, 'no X-Auth-Token or X-Storage-Url in the answer');
  const expires = Number(header(response.headers, 'x-auth-token-expires'));
  return {
    token,
    storageUrl,
    ...(Number.isFinite(expires) && expires > 0 ? { lifetimeMs: expires * 1000 } : {}),
  };
}

const keystoneAnswer = z.object({
  token: z.object({
    expires_at: z.string().optional(),
    issued_at: z.string().optional(),
    catalog: z
      .array(
        z.object({
          type: z.string(),
          endpoints: z.array(
            z.object({
              interface: z.string(),
              url: z.string(),
              region_id: z.string().nullish(),
              region: z.string().nullish(),
            }),
          ),
        }),
      )
      .default([]),
  }),
});

async function keystoneLogin(
  auth: Extract<SwiftAuthConfig, { type: 'keystone' }>,
  options: SwiftAuthOptions,
): Promise<Login> {
  const byCredential =
    auth.applicationCredentialId !== undefined && auth.applicationCredentialSecret !== undefined;
  const who = byCredential
    ? `application credential ${auth.applicationCredentialId}`
    : JSON.stringify(auth.username);
  const url = keystoneTokensUrl(auth.url);
  const what = `log in to ${url} as ${who}`;
  const domain = { name: auth.domain ?? 'Default' };
  // An application credential carries its own project scope: Keystone refuses another one.
  const body = byCredential
    ? {
        auth: {
          identity: {
            methods: ['application_credential'],
            application_credential: {
              id: auth.applicationCredentialId,
              secret: auth.applicationCredentialSecret,
            },
          },
        },
      }
    : {
        auth: {
          identity: {
            methods: ['password'],
            password: { user: { name: auth.username, domain, password: auth.password } },
          },
          scope: { project: { name: auth.project, domain } },
        },
      };
  const answer = await postJson(url, body, what, options.dispatcher);
  const token = header(answer.headers, 'x-subject-token');
  const parsed = keystoneAnswer.safeParse(answer.json);
  if (!token || !parsed.success) throw malformed(what, 'no X-Subject-Token or no token in the answer');
  const { expires_at: expiresAt, issued_at: issuedAt, catalog } = parsed.data.token;
  const endpoints = catalog
    .filter((service) => service.type === 'object-store')
    .flatMap((service) =>
      service.endpoints.map((endpoint) => ({
        region: endpoint.region_id ?? endpoint.region ?? undefined,
        interface: endpoint.interface,
        url: endpoint.url,
      })),
    );
  const storageUrl = pickEndpoint(endpoints, options, url);
  // Lifetime from the server's own clock when it says when it issued the token: immune to skew.
  return { token, storageUrl, ...lifetime(expiresAt, issuedAt) };
}

const rackspaceAnswer = z.object({
  access: z.object({
    token: z.object({ id: z.string(), expires: z.string().optional() }),
    serviceCatalog: z
      .array(
        z.object({
          type: z.string(),
          name: z.string().optional(),
          endpoints: z.array(
            z.object({
              region: z.string().nullish(),
              publicURL: z.string().nullish(),
              internalURL: z.string().nullish(),
              adminURL: z.string().nullish(),
            }),
          ),
        }),
      )
      .default([]),
  }),
});

async function rackspaceLogin(
  auth: Extract<SwiftAuthConfig, { type: 'rackspace' }>,
  options: SwiftAuthOptions,
): Promise<Login> {
  const url = `${auth.url.replace(/\/+$/, '')}/tokens`;
  const what = `log in to ${url} as ${JSON.stringify(auth.username)}`;
  const body = { auth: { 'RAX-KSKEY:apiKeyCredentials': { username: auth.username, apiKey: auth.apiKey } } };
  const answer = await postJson(url, body, what, options.dispatcher);
  const parsed = rackspaceAnswer.safeParse(answer.json);
  if (!parsed.success) throw malformed(what, 'no access.token in the answer');
  const { token, serviceCatalog } = parsed.data.access;
  const endpoints = serviceCatalog
    .filter((service) => service.type === 'object-store')
    .flatMap((service) =>
      service.endpoints.flatMap((endpoint) => {
        const region = endpoint.region ?? undefined;
        const urls: Array<[string, string | null | undefined]> = [
          ['public', endpoint.publicURL],
          ['internal', endpoint.internalURL],
          ['admin', endpoint.adminURL],
        ];
        return urls.flatMap(([name, found]) => (found ? [{ region, interface: name, url: found }] : []));
      }),
    );
  const storageUrl = pickEndpoint(endpoints, options, url);
  // The CDN management API of the storage endpoint's region (it lists publicURL only).
  const region = endpoints.find((endpoint) => endpoint.url === storageUrl)?.region;
  const cdnUrl = serviceCatalog
    .filter((service) => service.type === 'rax:object-cdn' || service.name === 'cloudFilesCDN')
    .flatMap((service) => service.endpoints)
    .find((endpoint) => (endpoint.region ?? undefined) === region && endpoint.publicURL)?.publicURL;
  return { token: token.id, storageUrl, ...lifetime(token.expires), ...(cdnUrl ? { cdnUrl } : {}) };
}

interface CatalogEndpoint {
  region: string | undefined;
  interface: string;
  url: string;
}

/** The object-store endpoint for the configured region (else the first listed) and interface. */
function pickEndpoint(endpoints: CatalogEndpoint[], options: SwiftAuthOptions, authUrl: string): string {
  const fail = (message: string, hint: string) =>
    new OutlastError('invalid_argument', message, { source: DRIVER_NAME, hint });
  if (endpoints.length === 0) {
    throw fail(
      `the service catalog of ${authUrl} has no object-store service`,
      'check that the project has Swift',
    );
  }
  const regions = [...new Set(endpoints.map((endpoint) => endpoint.region ?? '(none)'))];
  let inRegion = endpoints;
  if (options.region !== undefined) {
    const wanted = options.region;
    inRegion = endpoints.filter((endpoint) => endpoint.region === wanted);
    // Region names are case-sensitive in Keystone, but `dfw` for `DFW` is no reason to fail.
    if (inRegion.length === 0) {
      inRegion = endpoints.filter((endpoint) => endpoint.region?.toLowerCase() === wanted.toLowerCase());
    }
    if (inRegion.length === 0) {
      throw fail(
        `region ${JSON.stringify(wanted)} has no object-store endpoint in the catalog of ${authUrl}; its regions: ${regions.join(', ')}`,
        'set storage.region to one of these',
      );
    }
  } else {
    const first = endpoints.find((endpoint) => endpoint.interface === options.interface)?.region;
    inRegion = endpoints.filter((endpoint) => endpoint.region === (first ?? endpoints[0]!.region));
  }
  const chosen = inRegion.find((endpoint) => endpoint.interface === options.interface);
  if (!chosen) {
    const offered = [...new Set(inRegion.map((endpoint) => endpoint.interface))].join(', ');
    throw fail(
      `no ${options.interface} object-store endpoint in region ${inRegion[0]!.region ?? '(none)'} of the catalog of ${authUrl}; it offers: ${offered}`,
      'set storage.interface to one of these',
    );
  }
  return chosen.url;
}

/** Keystone's token URL from the configured identity URL, with or without its `/v3`. */
function keystoneTokensUrl(url: string): string {
  const base = url.replace(/\/+$/, '');
  return `${/\/v3$/.test(base) ? base : `${base}/v3`}/auth/tokens`;
}

async function postJson(
  url: string,
  body: unknown,
  what: string,
  dispatcher: Dispatcher,
): Promise<{ headers: Record<string, string | string[] | undefined>; json: unknown }> {
  const response = await send(
    dispatcher,
    {
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: () => JSON.stringify(body),
    },
    what,
  );
  if (!isSuccess(response)) throw await loginFailure(response, what);
  const text = await response.body.text();
  try {
    return { headers: response.headers, json: JSON.parse(text) };
  } catch {
    throw malformed(what, 'the answer is not JSON');
  }
}

async function loginFailure(response: SwiftResponse, what: string): Promise<OutlastError> {
  const status = response.statusCode;
  // The body is never quoted: an identity service may echo the request, secret included.
  await response.body.dump();
  if (status === 401 || status === 403) {
    return new OutlastError('permission_denied', `${what}: the credentials were refused (HTTP ${status})`, {
      source: DRIVER_NAME,
      hint: 'check the user name and the key, password or application credential in the environment',
    });
  }
  if (status === 404) {
    return new OutlastError('invalid_argument', `${what}: no identity service at this URL (HTTP 404)`, {
      source: DRIVER_NAME,
      hint: 'check storage.auth.url',
    });
  }
  return statusError(status, response.headers, what);
}

function malformed(what: string, why: string): OutlastError {
  return new OutlastError('internal', `${what}: ${why}`, { source: DRIVER_NAME });
}

/** `{ lifetimeMs }` from an expiry date (and, when known, the issue date on the same clock). */
function lifetime(expires: string | undefined, issued?: string): { lifetimeMs?: number } {
  const end = expires === undefined ? Number.NaN : Date.parse(expires);
  if (Number.isNaN(end)) return {};
  const start = issued === undefined ? Number.NaN : Date.parse(issued);
  return { lifetimeMs: end - (Number.isNaN(start) ? Date.now() : start) };
}
