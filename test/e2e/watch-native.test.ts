/**
 * `outlast watch` beside native failover (issue 12, item 4): the watcher writes nothing to a
 * provider with `failover: native`, reads the host's own view, shows it in GET /status beside its
 * own, and raises `native-disagrees` once the two have disagreed longer than one interval, then
 * `native-agrees`; the dashboard (in Chromium) shows the host's view beside the watcher's, and a
 * failing read is shown as the view's error. The host is a fake (the watcher's `nativeHosts` injection point), so the test
 * does not depend on any host module's `view()`. No timing is asserted: every wait polls until a
 * generous deadline.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { Browser } from 'playwright-core';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { startStatusServer } from '../../src/daemon/http.ts';
import { Watcher, type WatchStatus } from '../../src/daemon/watcher.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import type { NativeFailover, NativeSpec, NativeView } from '../../src/dns/native/types.ts';
import { startServer } from '../../src/serve/server.ts';
import { componentLogger } from '../../src/util/log.ts';
import { ensureChromium, launch, testid, textOf, WAIT } from '../helpers/browser.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy } from '../helpers/site.ts';

const NAME = 'www.watch-native.test';

let browser: Browser | undefined;

before(() => ensureChromium());

after(async () => {
  await browser?.close();
});

/** A DNS host whose view says what the test sets, and records the specs it is read with. */
function fakeHost(): NativeFailover & {
  says: Record<string, boolean>;
  specs: NativeSpec[];
  closed: boolean;
  mostInFlight: number;
  fail: boolean;
} {
  const host = {
    says: { a: false, b: true } as Record<string, boolean>,
    fail: false,
    specs: [] as NativeSpec[],
    closed: false,
    inFlight: 0,
    mostInFlight: 0,
    describe: () => 'fake-dme example.test',
    plan: () => Promise.reject(new Error('not in this test')),
    planDestroy: () => Promise.reject(new Error('not in this test')),
    apply: () => Promise.reject(new Error('not in this test')),
    async view(spec: NativeSpec): Promise<NativeView> {
      host.inFlight += 1;
      host.mostInFlight = Math.max(host.mostInFlight, host.inFlight);
      host.specs.push(spec);
      await new Promise((resolve) => setTimeout(resolve, 20));
      host.inFlight -= 1;
      if (host.fail) throw new Error('the host API is unreachable');
      return {
        provider: host.describe(),
        at: Date.now(),
        origins: Object.fromEntries(Object.entries(host.says).map(([id, up]) => [id, { up }])),
      };
    },
    async close() {
      host.closed = true;
    },
  };
  return host;
}

test('the watcher shows a native host view and raises its disagreements', { timeout: 120_000 }, async () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>hi</h1>', '404.html': 'nope' } });
  const deployed = await runDeploy({ config: setup.config });
  assert.ok(deployed.origins.every((origin) => !origin.error));
  const servers = [
    await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port: 0 }),
    await startServer({ dir: setup.origins[1]!, host: '127.0.0.3', port: 0 }),
  ];
  const text = stringify({
    site: { dir: setup.siteDir, hostname: NAME },
    origins: ['a', 'b'].map((id, index) => ({
      id,
      storage: { type: 'fs', path: setup.origins[index] },
      url: servers[index]!.url,
      dns: { a: [`192.0.2.${index + 1}`] },
    })),
    health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
    dns: {
      name: NAME,
      ttl: 60,
      providers: [
        {
          type: 'dnsmadeeasy',
          domain: 'watch-native.test',
          apiKey: 'never-used',
          secretKey: 'never-used',
          baseUrl: 'http://127.0.0.1:9/V2.0',
          failover: 'native',
        },
      ],
    },
    watch: { listen: '127.0.0.1:0', stateDir: join(setup.root, 'state') },
  });
  const config = parseConfig(text, join(setup.root, 'outlast.yaml')).config;
  const host = fakeHost();
  const asked: string[] = [];
  const logger = componentLogger('watch-native-test');
  const watcher = new Watcher({
    config,
    logger,
    nativeHosts: async (provider) => {
      asked.push(provider.type);
      return host;
    },
  });
  await watcher.start();
  const http = await startStatusServer(watcher, { host: '127.0.0.1', port: 0, token: 'test-token', logger });
  const status = async () => (await (await fetch(`${http.url}/status`)).json()) as WatchStatus;
  try {
    assert.deepEqual(asked, ['dnsmadeeasy']);
    await eventually('the watcher sees both origins up', async () =>
      (await status()).origins.every((origin) => origin.state === 'up'),
    );
    await eventually('/status shows the host disagreeing about a', async () => {
      const native = (await status()).native;
      const a = native?.[0]?.origins.a;
      return a?.host === 'down' && a.watcher === 'up' && a.disagreeingSince !== undefined;
    });
    const shown = (await status()).native!;
    assert.equal(shown.length, 1);
    assert.equal(shown[0]!.provider, 'fake-dme example.test');
    assert.ok(shown[0]!.at);
    assert.equal(shown[0]!.error, undefined);
    assert.deepEqual(shown[0]!.origins.b, { host: 'up', watcher: 'up' });

    await eventually('a native-disagrees event', async () =>
      (await status()).events.some((event) => event.kind === 'native-disagrees'),
    );
    const disagrees = (await status()).events.filter((event) => event.kind === 'native-disagrees');
    assert.equal(disagrees.length, 1);
    assert.deepEqual(
      { ...disagrees[0]!.data, since: undefined },
      { provider: 'fake-dme example.test', origin: 'a', host: 'down', watcher: 'up', since: undefined },
    );
    // The spec the host is read with is the config's, with the watcher's current release.
    const spec = host.specs.at(-1)!;
    assert.deepEqual(
      spec.origins.map((origin) => origin.id),
      ['a', 'b'],
    );
    assert.equal(spec.currentRelease, (await status()).currentRelease);

    // The dashboard shows the host's view beside the watcher's (its bundled, hashed script under the CSP).
    browser = await launch();
    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
        problems.push(message.text());
      }
    });
    await page.goto(`${http.url}/`);
    await page.locator(`${testid('native-0')} li[data-origin="a"][data-disagrees="true"]`).waitFor(WAIT);
    assert.match(await textOf(page, testid('native-0')), /fake-dme example\.test/);
    assert.match(await textOf(page, `${testid('native-0')} li[data-origin="a"]`), /host: down.*watcher: up/s);
    assert.equal(
      await page.locator(`${testid('native-0')} li[data-origin="b"][data-disagrees="false"]`).count(),
      1,
    );

    // A failing read is kept as the view's error, and reading goes on.
    host.fail = true;
    await eventually('/status shows the read error', async () =>
      /unreachable/.test((await status()).native![0]!.error ?? ''),
    );
    await page.locator(`${testid('native-0')} ${testid('native-error')}:not([hidden])`).waitFor(WAIT);
    host.fail = false;
    await eventually(
      'the error is gone after a good read',
      async () => (await status()).native![0]!.error === undefined,
    );

    host.says.a = true;
    await eventually('a native-agrees event', async () =>
      (await status()).events.some((event) => event.kind === 'native-agrees'),
    );
    const agreed = (await status()).native![0]!.origins.a!;
    assert.equal(agreed.disagreeingSince, undefined);
    assert.equal(agreed.host, 'up');
    await page.locator(`${testid('native-0')} li[data-origin="a"][data-disagrees="false"]`).waitFor(WAIT);
    assert.deepEqual(problems, []);
  } finally {
    await http.close();
    await watcher.stop();
    for (const server of servers) await server.close();
  }
  assert.ok(host.closed, 'the host is closed on stop');
  assert.equal(host.mostInFlight, 1, 'never two reads of one host at once');
});
