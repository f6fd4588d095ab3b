// Rackspace Cloud Files' CDN (src/storage/drivers/swift-cdn.ts) through the `swift` driver, against
// the Rackspace stand-in (test/standins/rackspace.ts) around real Swift cluster B: the login's
// cloudFilesCDN endpoint, the setup step (fresh, again, dry run, a TTL change), what the CDN then
// serves and what the storage URL does not, purges within the quota, and `check`'s findings.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import { isOutlastError } from '../../src/errors.ts';
import type { StorageDriver } from '../../src/storage/driver.ts';
import { createSwiftDriver } from '../../src/storage/drivers/swift.ts';
import { createSwiftAuth } from '../../src/storage/drivers/swift-auth.ts';
import {
  CloudFilesCdn,
  checkCloudFilesCdn,
  DAILY_PURGE_QUOTA,
  purgeKeys,
} from '../../src/storage/drivers/swift-cdn.ts';
import { createAgent, SwiftClient } from '../../src/storage/drivers/swift-http.ts';
import { type SwiftStorageConfig, swiftStorageSchema } from '../../src/storage/drivers/swift-options.ts';
import { Store } from '../../src/storage/store.ts';
import { createWriteGate } from '../../src/writes.ts';
import { type SwiftCluster, swiftClustersForTests, swiftLogin } from '../servers/swift.ts';
import { type RackspaceStandin, startRackspaceStandin } from '../standins/rackspace.ts';

const USERNAME = 'cloud-user';
const API_KEY = `rax-key-${randomBytes(8).toString('hex')}`;
const SITE = { indexDocument: 'index.html', errorDocument: '404.html' };

describe('swift driver on Rackspace Cloud Files: the CDN', () => {
  let cluster: SwiftCluster;
  let rax: RackspaceStandin;
  const drivers: StorageDriver[] = [];
  const containers: string[] = [];

  function config(container: string, extra: Record<string, unknown> = {}): SwiftStorageConfig {
    return swiftStorageSchema.parse({
      type: 'swift',
      container,
      auth: { type: 'rackspace', url: rax.identityUrl, username: USERNAME, apiKey: API_KEY },
      ...extra,
    });
  }
  function driver(container: string, extra: Record<string, unknown> = {}): StorageDriver {
    const made = createSwiftDriver(config(container, extra));
    drivers.push(made);
    return made;
  }
  function fresh(): string {
    const name = `cdn-${randomBytes(5).toString('hex')}`;
    containers.push(name);
    return name;
  }
  async function put(target: StorageDriver, key: string, text: string): Promise<void> {
    await target.put(
      key,
      { kind: 'bytes', bytes: Buffer.from(text) },
      { sha256: 'x'.repeat(64), contentType: 'text/html; charset=utf-8' },
    );
  }
  async function storageHead(container: string): Promise<Response> {
    const { token, storageUrl } = await swiftLogin(cluster);
    return fetch(`${storageUrl}/${container}`, { method: 'HEAD', headers: { 'x-auth-token': token } });
  }

  before(async () => {
    cluster = (await swiftClustersForTests()).b;
    rax = await startRackspaceStandin({
      swift: cluster,
      username: USERNAME,
      apiKey: API_KEY,
      day: () => '2026-01-01',
    });
  });

  after(async () => {
    for (const made of drivers) await made.close?.();
    const { token, storageUrl } = await swiftLogin(cluster);
    for (const name of containers) {
      const listing = await fetch(`${storageUrl}/${name}?format=json`, {
        headers: { 'x-auth-token': token },
      });
      if (listing.status === 200) {
        for (const row of (await listing.json()) as Array<{ name: string }>) {
          await fetch(`${storageUrl}/${name}/${encodeURIComponent(row.name)}`, {
            method: 'DELETE',
            headers: { 'x-auth-token': token },
          });
        }
      } else await listing.arrayBuffer();
      await fetch(`${storageUrl}/${name}`, { method: 'DELETE', headers: { 'x-auth-token': token } });
    }
    await rax?.stop();
  });

  it('refuses a wrong API key as Rackspace does, without the key in the message', async () => {
    const agent = createAgent();
    try {
      const auth = createSwiftAuth({
        auth: { type: 'rackspace', url: rax.identityUrl, username: USERNAME, apiKey: 'wrong-key-value' },
        interface: 'public',
        dispatcher: agent,
      });
      await assert.rejects(auth.session(), (error) => {
        assert.ok(isOutlastError(error));
        assert.equal(error.code, 'permission_denied');
        assert.doesNotMatch(error.message, /wrong-key-value/);
        return true;
      });
    } finally {
      await agent.close();
    }
  });

  it('keeps the cloudFilesCDN endpoint of the storage region from the catalog', async () => {
    const agent = createAgent();
    try {
      const auth = createSwiftAuth({
        auth: { type: 'rackspace', url: rax.identityUrl, username: USERNAME, apiKey: API_KEY },
        interface: 'public',
        dispatcher: agent,
      });
      const session = await auth.session();
      assert.equal(session.cdnUrl, rax.cdnUrl);
      assert.equal(session.storageUrl, cluster.storageUrl);
    } finally {
      await agent.close();
    }
  });

  it('setup CDN-enables a fresh container with the TTL, sets no read ACL, and prints the URIs', async () => {
    const name = fresh();
    const target = driver(name);
    assert.equal(rax.containers.has(name), false);
    const steps = await target.setup!({ ...SITE, create: true });
    const byStep = Object.fromEntries(steps.map((step) => [step.step, step]));
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create container', 'done'],
        ['website', 'done'],
        ['cdn', 'done'],
      ],
    );
    const entry = rax.containers.get(name);
    assert.ok(entry);
    assert.equal(entry.enabled, true);
    assert.equal(entry.ttl, 259_200);
    assert.match(byStep.cdn!.detail, /CDN-enable the container \(TTL 259200\)/);
    assert.ok(byStep.cdn!.detail.includes(`HTTP ${entry.uri}`), byStep.cdn!.detail);
    assert.ok(byStep.cdn!.detail.includes(`SSL ${entry.sslUri}`), byStep.cdn!.detail);
    assert.ok(byStep.cdn!.detail.includes(`set the origin's url to ${entry.sslUri}`), byStep.cdn!.detail);
    const head = await storageHead(name);
    assert.equal(head.status, 204);
    assert.equal(head.headers.get('x-container-read'), null, 'no ACL: the CDN publishes it');
    assert.equal(head.headers.get('x-container-meta-web-index'), 'index.html');

    // The site is served by the CDN host, anonymously; the storage URL stays private.
    await put(target, 'index.html', '<h1>home</h1>');
    await put(target, '404.html', '<h1>lost</h1>');
    await put(target, '404404.html', '<h1>lost</h1>');
    const home = await fetch(`${entry.uri}/`);
    assert.equal(home.status, 200);
    assert.equal(await home.text(), '<h1>home</h1>');
    const missing = await fetch(`${entry.uri}/no/such/page`);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), '<h1>lost</h1>');
    const agent = new Agent({ connect: { ca: rax.ca } });
    try {
      const secure = await undiciFetch(`${entry.sslUri}/index.html`, { dispatcher: agent });
      assert.equal(secure.status, 200);
      assert.equal(await secure.text(), '<h1>home</h1>');
    } finally {
      await agent.close();
    }
    const direct = await fetch(`${cluster.storageUrl}/${name}/index.html`);
    assert.equal(direct.status, 401);
    await direct.arrayBuffer();

    const again = await target.setup!({ ...SITE, create: false });
    assert.deepEqual(
      again.map((step) => step.status),
      again.map(() => 'already'),
      JSON.stringify(again),
    );
    assert.match(again.at(-1)!.detail, /enabled; HTTP /);
    assert.deepEqual(rax.violations, []);
  });

  it('a dry run says what it would do and changes nothing', async () => {
    const name = fresh();
    const target = driver(name, { cdn: { ttl: 3600 } });
    const gate = createWriteGate({ dryRun: true });
    const steps = await target.setup!({ ...SITE, create: true, gate });
    assert.deepEqual(
      steps.map((step) => [step.step, step.status]),
      [
        ['create container', 'would'],
        ['website', 'would'],
        ['cdn', 'would'],
      ],
    );
    assert.match(steps.at(-1)!.detail, /would CDN-enable the container \(TTL 3600\)/);
    assert.equal(rax.containers.has(name), false);
    assert.equal((await storageHead(name)).status, 404);
    assert.ok(!rax.cdnRequests.some((line) => line.startsWith('PUT') && line.endsWith(`/${name}`)));
  });

  it('a changed TTL, or a disabled CDN, is set with a POST; then already', async () => {
    const name = fresh();
    await driver(name).setup!({ ...SITE, create: true });
    const changed = await driver(name, { cdn: { ttl: 900 } }).setup!({ ...SITE, create: false });
    assert.equal(changed.at(-1)!.status, 'done');
    assert.equal(rax.containers.get(name)!.ttl, 900);
    assert.ok(rax.cdnRequests.includes(`POST /v1/${rax.cdnUrl.split('/v1/')[1]}/${name}`));

    rax.containers.get(name)!.enabled = false;
    const reenabled = await driver(name, { cdn: { ttl: 900 } }).setup!({ ...SITE, create: false });
    assert.equal(reenabled.at(-1)!.status, 'done');
    assert.equal(rax.containers.get(name)!.enabled, true);
    const settled = await driver(name, { cdn: { ttl: 900 } }).setup!({ ...SITE, create: false });
    assert.equal(settled.at(-1)!.status, 'already');
  });

  it('cdn: false leaves the CDN alone and sets the public-read ACL as on any Swift', async () => {
    const name = fresh();
    const steps = await driver(name, { cdn: false }).setup!({ ...SITE, create: true });
    assert.deepEqual(
      steps.map((step) => step.step),
      ['create container', 'public read', 'website'],
    );
    assert.equal(rax.containers.has(name), false);
  });

  it('cdn on a login without Cloud Files is an unsupported step', async () => {
    const name = fresh();
    const target = createSwiftDriver(
      swiftStorageSchema.parse({
        type: 'swift',
        container: name,
        auth: { type: 'tempauth', url: cluster.authUrl, user: cluster.user, key: cluster.key },
        cdn: { ttl: 900 },
      }),
    );
    drivers.push(target);
    const steps = await target.setup!({ ...SITE, create: true });
    assert.deepEqual(steps.at(-1), {
      step: 'cdn',
      status: 'unsupported',
      detail: steps.at(-1)!.detail,
    });
    assert.match(steps.at(-1)!.detail, /auth\.type rackspace/);
    assert.ok(steps.some((step) => step.step === 'public read'));
  });

  it("the TTL is validated against Rackspace's 900 s to one year", () => {
    const base = { type: 'swift', container: 'c', auth: { type: 'rackspace', username: 'u', apiKey: 'k' } };
    assert.equal(swiftStorageSchema.safeParse({ ...base, cdn: { ttl: 899 } }).success, false);
    assert.equal(swiftStorageSchema.safeParse({ ...base, cdn: { ttl: 31_536_001 } }).success, false);
    assert.equal(swiftStorageSchema.safeParse({ ...base, cdn: { ttl: 900 } }).success, true);
    assert.equal(swiftStorageSchema.safeParse({ ...base, cdn: { ttl: 31_536_000 } }).success, true);
  });

  it('check warns for a url off the CDN host and for a container not CDN-enabled', async () => {
    const name = fresh();
    await driver(name).setup!({ ...SITE, create: true });
    const entry = rax.containers.get(name)!;
    const storage = config(name);
    const wrong = await checkCloudFilesCdn({ id: 'rax', url: cluster.storageUrl, storage }, 1);
    assert.equal(wrong.length, 1);
    assert.equal(wrong[0]!.level, 'warn');
    assert.match(wrong[0]!.message, /origins\[1\]\.url/);
    assert.ok(wrong[0]!.message.includes(`set it to ${entry.sslUri}`), wrong[0]!.message);
    for (const url of [entry.sslUri, `${entry.uri}/`]) {
      const right = await checkCloudFilesCdn({ id: 'rax', url, storage }, 1);
      assert.deepEqual(
        right.map((finding) => finding.level),
        ['ok'],
        JSON.stringify(right),
      );
    }
    const other = fresh();
    await driver(other, { cdn: false }).setup!({ ...SITE, create: true });
    const off = await checkCloudFilesCdn({ id: 'rax', url: entry.sslUri, storage: config(other) }, 0);
    assert.equal(off[0]!.level, 'warn');
    assert.match(off[0]!.message, /not CDN-enabled/);
    for (const finding of [...wrong, ...off]) assert.doesNotMatch(finding.message, new RegExp(API_KEY));
  });

  it('purge is on a Rackspace driver only: not with cdn: false, not on another login', () => {
    assert.equal(typeof driver(fresh()).purge, 'function');
    assert.equal(driver(fresh(), { cdn: false }).purge, undefined);
    const other = createSwiftDriver(
      swiftStorageSchema.parse({
        type: 'swift',
        container: fresh(),
        auth: { type: 'tempauth', url: cluster.authUrl, user: cluster.user, key: cluster.key },
      }),
    );
    drivers.push(other);
    assert.equal(other.purge, undefined);
    assert.equal(new Store(other, { originId: 'plain' }).canPurge, false);
  });

  it('cdn.purgeEmail takes one address or a list; anything else is refused', () => {
    const base = { type: 'swift', container: 'c', auth: { type: 'rackspace', username: 'u', apiKey: 'k' } };
    const parse = (purgeEmail: unknown) => swiftStorageSchema.safeParse({ ...base, cdn: { purgeEmail } });
    assert.equal(parse('ops@example.test').success, true);
    assert.equal(parse(['ops@example.test', 'web@example.test']).success, true);
    assert.equal(parse('not an address').success, false);
    assert.equal(parse([]).success, false);
    assert.equal(parse(['ops@example.test', 'nope']).success, false);
  });

  it("a store's purge adds its prefix, names keys without it, mails the list, and purges nothing in a dry run", async () => {
    const name = fresh();
    const target = driver(name, { cdn: { purgeEmail: ['a@example.test', 'b@example.test'] } });
    await target.setup!({ ...SITE, create: true });
    const entry = rax.containers.get(name)!;
    await put(target, 'www/x y.html', 'old');
    assert.equal(await (await fetch(`${entry.uri}/www/x%20y.html`)).text(), 'old');
    await put(target, 'www/x y.html', 'new');
    const before = rax.purges.length;

    const dry = new Store(target, {
      originId: 'rax',
      prefix: 'www',
      gate: createWriteGate({ dryRun: true }),
    });
    const nothing = await dry.purge(['x y.html']);
    assert.deepEqual(nothing.purged, []);
    assert.deepEqual(nothing.notPurged, ['x y.html']);
    assert.match(nothing.warning!, /dry run/);
    assert.equal(rax.purges.length, before);
    assert.equal(dry.requestCounts.purge, undefined, 'no driver call');

    const store = new Store(target, { originId: 'rax', prefix: 'www' });
    const done = await store.purge(['x y.html']);
    assert.deepEqual(done, { purged: ['x y.html'], notPurged: [], reason: undefined, warning: undefined });
    assert.deepEqual(rax.purges.slice(before), [
      { container: name, object: 'www/x y.html', email: 'a@example.test, b@example.test' },
    ]);
    assert.equal(store.requestCounts.purge, 1);
    assert.equal(
      await (await fetch(`${entry.uri}/www/x%20y.html`)).text(),
      'new',
      'the edge fetched it anew',
    );
    assert.deepEqual(rax.violations, []);
  });

  it('check says which origins deploy.purge cannot purge, and that a Rackspace one is purged', async () => {
    const s3 = await checkCloudFilesCdn({ id: 'aws', storage: { type: 's3' } }, 0, true);
    assert.equal(s3.length, 1);
    assert.equal(s3[0]!.level, 'warn');
    assert.equal(s3[0]!.subject, 'origin aws cdn');
    assert.match(
      s3[0]!.message,
      /deploy\.purge is on, but this origin has no CDN outlast can purge \(storage type s3 has none\)/,
    );
    assert.deepEqual(
      await checkCloudFilesCdn({ id: 'aws', storage: { type: 's3' } }, 0),
      [],
      'purge off: nothing',
    );
    const plain = { type: 'swift', auth: { type: 'tempauth' }, container: 'c' };
    const swift = await checkCloudFilesCdn({ id: 'ovh', storage: plain }, 1, true);
    assert.match(swift[0]!.message, /only Rackspace Cloud Files/);

    const name = fresh();
    await driver(name).setup!({ ...SITE, create: true });
    const entry = rax.containers.get(name)!;
    const ok = await checkCloudFilesCdn({ id: 'rax', url: entry.uri, storage: config(name) }, 2, true);
    assert.equal(ok[0]!.level, 'ok', ok[0]!.message);
    assert.match(ok[0]!.message, /deploy\.purge: changed objects are purged \(25 a day\)/);
  });

  it('a purge drops the edge copy, sends DELETEs to the CDN API only, and stops at the quota', async () => {
    const name = fresh();
    const target = driver(name);
    await target.setup!({ ...SITE, create: true });
    const entry = rax.containers.get(name)!;
    await put(target, 'page.html', 'old');
    assert.equal(await (await fetch(`${entry.uri}/page.html`)).text(), 'old');
    await put(target, 'page.html', 'new');
    assert.equal(await (await fetch(`${entry.uri}/page.html`)).text(), 'old', 'the edge keeps its copy');

    const agent = createAgent();
    try {
      const auth = createSwiftAuth({
        auth: { type: 'rackspace', url: rax.identityUrl, username: USERNAME, apiKey: API_KEY },
        interface: 'public',
        dispatcher: agent,
      });
      const cdn = new CloudFilesCdn(new SwiftClient(auth, agent), name);
      const first = await purgeKeys(cdn, ['page.html'], { email: 'ops@example.test' });
      assert.deepEqual(first, { purged: ['page.html'], notPurged: [], reason: undefined });
      assert.deepEqual(rax.purges.at(-1), {
        container: name,
        object: 'page.html',
        email: 'ops@example.test',
      });
      assert.equal(await (await fetch(`${entry.uri}/page.html`)).text(), 'new');
      // The object itself is still stored: a purge is never a storage DELETE.
      assert.equal((await target.stat('page.html'))?.size, 3);

      // A run over the quota purges what it may and names the rest.
      const keys = Array.from({ length: 30 }, (_, index) => `a/${index}.html`);
      const capped = await purgeKeys(cdn, keys, { quota: 5 });
      assert.deepEqual(capped.purged, keys.slice(0, 5));
      assert.deepEqual(capped.notPurged, keys.slice(5));
      assert.match(capped.reason!, /over the 5 CDN purges a day/);
      // The account's own daily quota (the stand-in's 25, as Rackspace's) refuses the rest.
      const used = rax.purges.length;
      const rest = await purgeKeys(cdn, keys);
      assert.equal(rest.purged.length, DAILY_PURGE_QUOTA - used);
      assert.equal(rest.notPurged.length, keys.length - rest.purged.length);
      assert.match(rest.reason!, /the CDN refused a purge/);
      assert.equal(rax.purges.length, DAILY_PURGE_QUOTA);
    } finally {
      await agent.close();
    }
    assert.deepEqual(rax.violations, []);
  });
});
