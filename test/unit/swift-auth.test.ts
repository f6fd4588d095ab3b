// The swift driver's Keystone v3 and Rackspace identity v2.0 logins, against stand-ins on
// 127.0.0.1 written from those APIs' references: each checks the method, the path and the exact
// JSON body, then answers with a real tempauth token of cluster A and a catalog whose object-store
// endpoints are cluster A's storage URL or a dead one, so that which endpoint the driver picked
// shows in whether it can really put and get an object.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import { isOutlastError, type OutlastError } from '../../src/errors.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { createSwiftDriver, type SwiftStorageConfig } from '../../src/storage/drivers/swift.ts';
import { Store } from '../../src/storage/store.ts';
import { swiftClustersForTests } from '../servers/swift.ts';

/** Nothing listens on the discard port: requests to it are refused at once. */
const DEAD = 'http://127.0.0.1:9/v1/AUTH_nowhere';

interface Exchange {
  method: string;
  path: string;
  contentType: string | undefined;
  body: unknown;
}

interface Answer {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

interface StandIn {
  url: string;
  logins: number;
  /** What the stand-in found wrong in the requests (answered with a 400). */
  problems: string[];
  close(): Promise<void>;
}

/** An identity service on 127.0.0.1: `expect` returns what is wrong with a request, or undefined. */
async function standIn(
  expect: (exchange: Exchange) => string | undefined,
  answer: (login: number) => Answer,
): Promise<StandIn> {
  const state = { logins: 0, problems: [] as string[] };
  const server = createServer(async (request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    let body: unknown;
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
    } catch {
      body = undefined;
    }
    const exchange = {
      method: request.method ?? '',
      path: request.url ?? '',
      contentType: request.headers['content-type'],
      body,
    };
    const problem = expect(exchange);
    if (problem) {
      state.problems.push(problem);
      response.writeHead(400, { 'content-type': 'application/json' });
      response.end(JSON.stringify({ error: { code: 400, message: problem } }));
      return;
    }
    state.logins++;
    const { status, headers = {}, body: out } = answer(state.logins);
    response.writeHead(status, { 'content-type': 'application/json', ...headers });
    response.end(out === undefined ? '' : JSON.stringify(out));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get logins() {
      return state.logins;
    },
    problems: state.problems,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The problem with a request that is not `POST path` with exactly this JSON body. */
function expectPost(path: string, body: unknown) {
  return (exchange: Exchange): string | undefined => {
    if (exchange.method !== 'POST') return `expected POST, got ${exchange.method}`;
    if (exchange.path !== path) return `expected ${path}, got ${exchange.path}`;
    if (!exchange.contentType?.startsWith('application/json')) return `content-type ${exchange.contentType}`;
    if (!isDeepStrictEqual(exchange.body, body)) return `unexpected body ${JSON.stringify(exchange.body)}`;
    return undefined;
  };
}

async function caught(promise: Promise<unknown>): Promise<OutlastError> {
  const error = await promise.then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  assert.ok(isOutlastError(error), `expected an OutlastError, got ${String(error)}`);
  return error;
}

const text = (value: string) => new Uint8Array(Buffer.from(value));
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('swift logins through Keystone v3 and Rackspace identity v2.0', () => {
  let storageUrl: string;
  let token: string;
  const container = `outlast-auth-${randomUUID().slice(0, 8)}`;
  const open: StandIn[] = [];
  const drivers: StorageDriver[] = [];

  async function swift(method: string, path: string): Promise<number> {
    const response = await fetch(`${storageUrl}${path}`, { method, headers: { 'X-Auth-Token': token } });
    await response.arrayBuffer();
    return response.status;
  }

  before(async () => {
    const { a } = await swiftClustersForTests();
    const response = await fetch(a.authUrl, { headers: { 'X-Auth-User': a.user, 'X-Auth-Key': a.key } });
    await response.arrayBuffer();
    token = response.headers.get('x-auth-token')!;
    storageUrl = response.headers.get('x-storage-url')!;
    assert.ok(token && storageUrl, 'a tempauth token of cluster A');
    assert.ok([201, 202].includes(await swift('PUT', `/${container}`)));
  });

  after(async () => {
    await Promise.all(drivers.map((driver) => driver.close?.()));
    await Promise.all(open.map((server) => server.close()));
    for (const key of [
      'keystone.txt',
      'credential.txt',
      'region.txt',
      'internal.txt',
      'expiry.txt',
      'rax.txt',
    ]) {
      await swift('DELETE', `/${container}/${key}`);
    }
    await swift('DELETE', `/${container}`);
  });

  function driverFor(
    storage: Omit<SwiftStorageConfig, 'type' | 'container' | 'interface'> & Partial<SwiftStorageConfig>,
  ) {
    const driver = createSwiftDriver({ type: 'swift', container, interface: 'public', ...storage });
    drivers.push(driver);
    return driver;
  }

  async function roundTrip(driver: StorageDriver, key: string): Promise<void> {
    const store = new Store(driver, { originId: 'auth', attempts: 1 });
    await store.putBytes(key, text(`through ${key}`));
    assert.deepEqual(await store.getBytes(key), text(`through ${key}`));
  }

  /** A Keystone v3 token answer (201, X-Subject-Token) with this catalog of object-store endpoints. */
  function keystoneAnswer(
    endpoints: Array<{ region: string; interface: string; url: string }>,
    lifetimeMs = 3_600_000,
  ) {
    const issued = new Date();
    return {
      status: 201,
      headers: { 'x-subject-token': token },
      body: {
        token: {
          methods: ['password'],
          user: { id: 'u1', name: 'demo', domain: { id: 'default', name: 'Default' } },
          project: { id: 'p1', name: 'demo-project', domain: { id: 'default', name: 'Default' } },
          issued_at: issued.toISOString(),
          expires_at: new Date(issued.getTime() + lifetimeMs).toISOString(),
          catalog: [
            {
              type: 'identity',
              name: 'keystone',
              endpoints: [
                { id: 'i1', interface: 'public', region_id: 'RegionOne', region: 'RegionOne', url: DEAD },
              ],
            },
            {
              type: 'object-store',
              name: 'swift',
              endpoints: endpoints.map((endpoint, index) => ({
                id: `e${index}`,
                interface: endpoint.interface,
                region_id: endpoint.region,
                region: endpoint.region,
                url: endpoint.url,
              })),
            },
          ],
        },
      },
    };
  }

  const passwordBody = (domain = 'Default') => ({
    auth: {
      identity: {
        methods: ['password'],
        password: { user: { name: 'demo', domain: { name: domain }, password: 'hunter2-secret' } },
      },
      scope: { project: { name: 'demo-project', domain: { name: domain } } },
    },
  });

  async function keystone(
    answer: (login: number) => Answer,
    body: unknown = passwordBody(),
  ): Promise<StandIn> {
    const server = await standIn(expectPost('/v3/auth/tokens', body), answer);
    open.push(server);
    return server;
  }

  it('Keystone v3 with a password: user and project by name in a domain', async () => {
    const server = await keystone(() =>
      keystoneAnswer([{ region: 'RegionOne', interface: 'public', url: storageUrl }]),
    );
    const driver = driverFor({
      auth: {
        type: 'keystone',
        url: `${server.url}/v3`,
        username: 'demo',
        password: 'hunter2-secret',
        project: 'demo-project',
      },
    });
    await roundTrip(driver, 'keystone.txt');
    assert.deepEqual(server.problems, []);
    assert.equal(server.logins, 1, 'the token is cached');

    // The identity URL may be given without /v3, and a named domain applies to user and project.
    const other = await keystone(
      () => keystoneAnswer([{ region: 'RegionOne', interface: 'public', url: storageUrl }]),
      passwordBody('mydomain'),
    );
    const second = driverFor({
      auth: {
        type: 'keystone',
        url: other.url,
        username: 'demo',
        password: 'hunter2-secret',
        project: 'demo-project',
        domain: 'mydomain',
      },
    });
    assert.equal((await second.stat('keystone.txt'))?.size, 'through keystone.txt'.length);
    assert.deepEqual(other.problems, []);
  });

  it('Keystone v3 with an application credential: id and secret, no scope', async () => {
    const body = {
      auth: {
        identity: {
          methods: ['application_credential'],
          application_credential: { id: 'ac-123', secret: 'ac-secret-value' },
        },
      },
    };
    const server = await keystone(
      () => keystoneAnswer([{ region: 'RegionOne', interface: 'public', url: storageUrl }]),
      body,
    );
    const driver = driverFor({
      auth: {
        type: 'keystone',
        url: `${server.url}/v3/`,
        applicationCredentialId: 'ac-123',
        applicationCredentialSecret: 'ac-secret-value',
      },
    });
    await roundTrip(driver, 'credential.txt');
    assert.deepEqual(server.problems, []);
  });

  it('takes the configured region, the first one without, and lists the regions for an unknown one', async () => {
    const catalog = [
      { region: 'RegionOne', interface: 'public', url: DEAD },
      { region: 'RegionTwo', interface: 'public', url: storageUrl },
    ];
    const server = await keystone(() => keystoneAnswer(catalog));
    const auth = {
      type: 'keystone' as const,
      url: `${server.url}/v3`,
      username: 'demo',
      password: 'hunter2-secret',
      project: 'demo-project',
    };
    await roundTrip(driverFor({ auth, region: 'RegionTwo' }), 'region.txt');
    const first = await caught(driverFor({ auth }).stat('region.txt'));
    assert.equal(first.code, 'unavailable', 'without a region, RegionOne (dead) is used');
    const unknown = await caught(driverFor({ auth, region: 'Mars' }).stat('region.txt'));
    assert.equal(unknown.code, 'invalid_argument');
    assert.match(unknown.message, /"Mars"/);
    assert.match(unknown.message, /RegionOne, RegionTwo/);
    assert.ok(!unknown.message.includes('hunter2-secret'));
  });

  it('takes the configured interface', async () => {
    const catalog = [
      { region: 'RegionOne', interface: 'public', url: DEAD },
      { region: 'RegionOne', interface: 'internal', url: storageUrl },
    ];
    const server = await keystone(() => keystoneAnswer(catalog));
    const auth = {
      type: 'keystone' as const,
      url: `${server.url}/v3`,
      username: 'demo',
      password: 'hunter2-secret',
      project: 'demo-project',
    };
    await roundTrip(driverFor({ auth, interface: 'internal' }), 'internal.txt');
    assert.equal(
      (await caught(driverFor({ auth, interface: 'public' }).stat('internal.txt'))).code,
      'unavailable',
    );
    const admin = await caught(driverFor({ auth, interface: 'admin' }).stat('internal.txt'));
    assert.equal(admin.code, 'invalid_argument');
    assert.match(admin.message, /public, internal/);
  });

  it('logs in again when the token expires, once for concurrent requests', async () => {
    // The first token lives a few seconds; the next ones an hour. The driver renews a token after
    // half its life (at most a minute before it expires): the first one is fresh for the first
    // LIFETIME / 2 after its login started, and the requests below that must still use it (real
    // Swift requests, slow on a loaded machine) get that long, not a guess at this machine's speed.
    const LIFETIME_MS = 8000;
    let firstLoginAt = Number.NaN;
    const server = await keystone((login) => {
      if (login === 1) firstLoginAt = Date.now();
      return keystoneAnswer(
        [{ region: 'RegionOne', interface: 'public', url: storageUrl }],
        login === 1 ? LIFETIME_MS : 3_600_000,
      );
    });
    const driver = driverFor({
      auth: {
        type: 'keystone',
        url: `${server.url}/v3`,
        username: 'demo',
        password: 'hunter2-secret',
        project: 'demo-project',
      },
    });
    const store = new Store(driver, { originId: 'expiry', attempts: 1 });
    await Promise.all(Array.from({ length: 8 }, (_, i) => store.stat(`expiry-${i}`)));
    assert.equal(server.logins, 1, 'eight concurrent first requests share one login');
    await store.putBytes('expiry.txt', text('x'));
    assert.equal(server.logins, 1);
    // The driver's login started before the stand-in answered it, so from here the token is due
    // for renewal: a wait for that moment, not a fixed sleep.
    await sleep(Math.max(0, firstLoginAt + LIFETIME_MS / 2 + 50 - Date.now()));
    await Promise.all(Array.from({ length: 8 }, () => store.stat('expiry.txt')));
    assert.equal(server.logins, 2, 'one new login after the expiry');
    await store.stat('expiry.txt');
    assert.equal(server.logins, 2, 'the new token is cached');
  });

  it('refused credentials are permission_denied naming the URL and user, not the password', async () => {
    const server = await keystone(() => ({
      status: 401,
      body: {
        error: {
          code: 401,
          title: 'Unauthorized',
          message: 'The request you have made requires authentication.',
        },
      },
    }));
    const driver = driverFor({
      auth: {
        type: 'keystone',
        url: `${server.url}/v3`,
        username: 'demo',
        password: 'hunter2-secret',
        project: 'demo-project',
      },
    });
    const error = await caught(driver.stat('x'));
    assert.equal(error.code, 'permission_denied');
    assert.equal(error.retryable, false);
    assert.ok(error.message.includes(`${server.url}/v3/auth/tokens`), error.message);
    assert.ok(error.message.includes('"demo"'), error.message);
    assert.ok(!error.message.includes('hunter2-secret'));
  });

  describe('Rackspace identity v2.0', () => {
    const body = {
      auth: { 'RAX-KSKEY:apiKeyCredentials': { username: 'raxuser', apiKey: 'rax-api-key-secret' } },
    };
    const raxAnswer = () => ({
      status: 200,
      body: {
        access: {
          token: {
            id: token,
            expires: new Date(Date.now() + 86_400_000).toISOString(),
            tenant: { id: '123456', name: '123456' },
          },
          user: { id: 'u1', name: 'raxuser', 'RAX-AUTH:defaultRegion': 'DFW', roles: [] },
          serviceCatalog: [
            {
              name: 'cloudFilesCDN',
              type: 'rax:object-cdn',
              endpoints: [{ region: 'DFW', tenantId: 'MossoCloudFS_x', publicURL: DEAD }],
            },
            {
              name: 'cloudFiles',
              type: 'object-store',
              endpoints: [
                { region: 'DFW', tenantId: 'MossoCloudFS_x', publicURL: DEAD, internalURL: storageUrl },
                { region: 'ORD', tenantId: 'MossoCloudFS_x', publicURL: storageUrl, internalURL: DEAD },
              ],
            },
          ],
        },
      },
    });
    let server: StandIn;
    const auth = () => ({
      type: 'rackspace' as const,
      url: `${server.url}/v2.0`,
      username: 'raxuser',
      apiKey: 'rax-api-key-secret',
    });

    before(async () => {
      server = await standIn(expectPost('/v2.0/tokens', body), raxAnswer);
      open.push(server);
    });

    it('logs in with an API key and uses the region and interface asked for', async () => {
      await roundTrip(driverFor({ auth: auth(), region: 'ORD' }), 'rax.txt');
      assert.equal(
        (await driverFor({ auth: auth(), region: 'dfw', interface: 'internal' }).stat('rax.txt'))?.size,
        'through rax.txt'.length,
      );
      assert.equal(
        (await caught(driverFor({ auth: auth(), region: 'DFW' }).stat('rax.txt'))).code,
        'unavailable',
      );
      const unknown = await caught(driverFor({ auth: auth(), region: 'SYD' }).stat('rax.txt'));
      assert.equal(unknown.code, 'invalid_argument');
      assert.match(unknown.message, /DFW, ORD/);
      assert.deepEqual(server.problems, []);
    });

    it('refused credentials are permission_denied without the API key', async () => {
      const refusing = await standIn(expectPost('/v2.0/tokens', body), () => ({
        status: 401,
        body: { unauthorized: { code: 401, message: 'Username or api key is invalid.' } },
      }));
      open.push(refusing);
      const driver = driverFor({ auth: { ...auth(), url: `${refusing.url}/v2.0` } });
      const error = await caught(driver.stat('x'));
      assert.equal(error.code, 'permission_denied');
      assert.ok(error.message.includes('"raxuser"') && error.message.includes(refusing.url), error.message);
      assert.ok(!error.message.includes('rax-api-key-secret'));
    });
  });
});
