/**
 * The dashboard in a real browser (Debian's Chromium, driven by playwright-core): two local
 * origins, a watcher on the memory DNS provider, the status server with demo controls. The page
 * shows both origins up and the name on the first; a refused action (wrong token) is shown as an
 * error; with the token, "Stop" on the primary makes the page show — without a reload — the origin
 * down, the decision on the second, a failover in the timeline and the provider's new records.
 * Then the timeline survives a watcher restart (events.jsonl).
 *
 * Screenshots: dashboard.png (start) and dashboard-failover.png (after the failover), in a temp folder,
 * or in docs/ (the README's pictures) with OUTLAST_UPDATE_SCREENSHOTS=1, so a test run leaves the tree clean.
 * Nothing here asserts a timing: every wait polls the page until a generous deadline.
 */
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { type DemoControls, type StatusServer, startStatusServer } from '../../src/daemon/http.ts';
import { Watcher } from '../../src/daemon/watcher.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { createMemoryDnsProvider } from '../../src/dns/providers/memory.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { componentLogger } from '../../src/util/log.ts';
import { ensureChromium, launch, stopDemoOrigin, testid, textOf, WAIT } from '../helpers/browser.ts';
import { setupFsDeploy, type TestSetup } from '../helpers/site.ts';

// The functions given to page.waitForFunction / page.evaluate run in the browser. This program has
// no DOM types (tsconfig's lib is ES2023 only, on purpose), so the few page globals they use are
// declared here, in this module only.
interface PageNode {
  textContent: string | null;
  getAttribute(name: string): string | null;
}
declare const document: {
  querySelectorAll(selector: string): ArrayLike<PageNode> & Iterable<PageNode>;
  documentElement: { scrollWidth: number };
};
declare const window: { innerWidth: number; notReloaded?: boolean };

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = process.env.OUTLAST_UPDATE_SCREENSHOTS
  ? join(ROOT, 'docs')
  : join(tmpdir(), `outlast-dashboard-shots-${process.pid}`);
const NAME = 'www.dashboard.test';
const ADDRESSES = { 'local-a': '192.0.2.10', 'local-b': '192.0.2.20' } as const;
const HOSTS = { 'local-a': '127.0.0.2', 'local-b': '127.0.0.3' } as const;
type OriginId = keyof typeof ADDRESSES;
const IDS = Object.keys(ADDRESSES) as OriginId[];
const MEMORY_REGISTRY = `dashboard-${process.pid}`;

let browser: Browser;

before(() => ensureChromium());

after(async () => {
  await browser?.close();
});

/** Two fs origins with the site deployed, served on 127.0.0.2 and 127.0.0.3, stoppable. */
async function localOrigins(setup: TestSetup) {
  const deployed = await runDeploy({ config: setup.config });
  assert.ok(deployed.origins.every((origin) => !origin.error));
  const dirs = { 'local-a': setup.origins[0]!, 'local-b': setup.origins[1]! };
  const running = new Map<string, RunningServer>();
  const ports = new Map<string, number>();
  const start = async (id: OriginId) => {
    if (running.has(id)) return;
    const server = await startServer({ dir: dirs[id], host: HOSTS[id], port: ports.get(id) ?? 0 });
    ports.set(id, server.port);
    running.set(id, server);
  };
  for (const id of IDS) await start(id);
  const demo: DemoControls = {
    list: () => IDS.map((id) => ({ id, running: running.has(id) })),
    stop: async (id) => {
      const server = running.get(id);
      running.delete(id);
      await server?.close();
    },
    start: (id) => start(id as OriginId),
  };
  return {
    demo,
    url: (id: OriginId) => running.get(id)!.url,
    close: async () => {
      for (const server of running.values()) await server.close().catch(() => undefined);
      running.clear();
    },
  };
}

function watchConfig(setup: TestSetup, urls: Record<OriginId, string>) {
  const text = stringify({
    site: { dir: setup.siteDir, hostname: NAME },
    origins: IDS.map((id, index) => ({
      id,
      storage: { type: 'fs', path: setup.origins[index] },
      url: urls[id],
      dns: { a: [ADDRESSES[id]] },
    })),
    health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
    failover: { policy: 'priority', failback: 'auto', holdDown: '2s' },
    dns: { name: NAME, ttl: 60, providers: [{ type: 'memory', name: MEMORY_REGISTRY }] },
    watch: { listen: '127.0.0.1:0', stateDir: join(setup.root, 'state') },
  });
  return parseConfig(text, join(setup.root, 'outlast.yaml')).config;
}

/** Polls until the provider card lists `address` (and no other A record). */
async function waitForRecords(page: Page, address: string): Promise<void> {
  await page.waitForFunction(
    (wanted) => {
      const items = [
        ...document.querySelectorAll('[data-testid="provider-0"] [data-testid="provider-records"] li'),
      ];
      const text = items.map((item) => item.textContent ?? '');
      return text.length === 1 && text[0]!.includes(` A 60 ${wanted}`);
    },
    address,
    WAIT,
  );
}

async function memoryAnswers(): Promise<string[]> {
  const sets = await createMemoryDnsProvider({ name: MEMORY_REGISTRY }).read(NAME);
  return sets.flatMap((set) => set.values).sort();
}

test('the dashboard shows a failover live, and refuses actions without the token', {
  timeout: 300_000,
}, async () => {
  const setup = setupFsDeploy({
    origins: 2,
    files: { 'index.html': '<h1>hello</h1>', '404.html': 'nope' },
  });
  const origins = await localOrigins(setup);
  const config = watchConfig(setup, { 'local-a': origins.url('local-a'), 'local-b': origins.url('local-b') });
  const logger = componentLogger('test-dashboard');
  let watcher: Watcher | undefined = new Watcher({ config, logger });
  let http: StatusServer | undefined;
  try {
    await watcher.start();
    const token = await watcher.store.token();
    http = await startStatusServer(watcher, {
      host: '127.0.0.1',
      port: 0,
      token,
      logger,
      demo: origins.demo,
    });

    // The server side of the new routes, without a browser.
    const page0 = await fetch(`${http.url}/`);
    assert.equal(page0.status, 200);
    assert.match(page0.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(page0.headers.get('content-security-policy') ?? '', /default-src 'none'/);
    assert.deepEqual(await (await fetch(`${http.url}/demo`)).json(), {
      origins: [
        { id: 'local-a', running: true },
        { id: 'local-b', running: true },
      ],
    });
    for (const path of ['/demo/origins/local-a/stop', '/actions/pause']) {
      const refused = await fetch(`${http.url}${path}`, { method: 'POST' });
      assert.equal(refused.status, 401, `${path} without the token`);
      const wrong = await fetch(`${http.url}${path}`, {
        method: 'POST',
        headers: { authorization: 'Bearer not-the-token' },
      });
      assert.equal(wrong.status, 401, `${path} with a wrong token`);
    }
    assert.equal(
      (
        await fetch(`${http.url}/demo/origins/nope/stop`, {
          method: 'POST',
          headers: { authorization: `Bearer ${token}` },
        })
      ).status,
      404,
    );
    assert.ok(origins.demo.list().every((origin) => origin.running));
    const plain = await startStatusServer(watcher, { host: '127.0.0.1', port: 0, token, logger });
    try {
      assert.equal((await fetch(`${plain.url}/demo`)).status, 404, 'no demo controls: 404');
    } finally {
      await plain.close();
    }

    // 1. The page: both origins up, the name on the first.
    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      // Failed loads are expected (the refused action's 401, the event stream cut by the restart);
      // anything else logged as an error (a CSP violation: "Refused to …") is not.
      if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
        problems.push(message.text());
      }
    });
    await page.goto(http.url);
    assert.equal(await page.title(), `outlast · ${NAME}`);
    await page.locator(`${testid('origin-local-a')}[data-state="up"]`).waitFor(WAIT);
    await page.locator(`${testid('origin-local-b')}[data-state="up"]`).waitFor(WAIT);
    await page.locator(`${testid('decision-active')}[data-origins="local-a"]`).waitFor(WAIT);
    await page.locator(`${testid('connection')}[data-state="live"]`).waitFor(WAIT);
    await waitForRecords(page, ADDRESSES['local-a']);
    assert.match(await textOf(page, testid('expected-failover')), /about 121 s/);
    assert.match(
      await textOf(page, `${testid('origin-local-a')} ${testid('origin-release')}`),
      /\(current\)/,
    );
    assert.ok(await page.locator(testid('actions')).isHidden(), 'read-only without the token');
    assert.ok(
      await page.locator(testid('demo-stop-local-a')).isHidden(),
      'no demo buttons without the token',
    );
    // Let the sparklines gather a few points before the picture.
    await page.waitForFunction(
      () =>
        [...document.querySelectorAll('[data-testid="origin-sparkline"] polyline')].every(
          (line) => (line.getAttribute('points') ?? '').split(' ').length >= 6,
        ) && document.querySelectorAll('[data-testid="origin-sparkline"] polyline').length >= 2,
      undefined,
      WAIT,
    );
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'dashboard.png'), fullPage: true });
    await page.evaluate(() => {
      window.notReloaded = true;
    });

    // 2. A wrong token: the server answers 401 and the page says so; nothing changes.
    await page.locator(testid('token')).fill('not-the-token');
    await page.locator(testid('unlock')).click();
    await page.locator(testid('action-pause')).waitFor(WAIT);
    const [refusal] = await Promise.all([
      page.waitForResponse((response) => response.url().endsWith('/actions/pause'), WAIT),
      page.locator(testid('action-pause')).click(),
    ]);
    assert.equal(refusal.status(), 401);
    await page.locator(testid('action-error')).waitFor(WAIT);
    assert.match(await textOf(page, testid('action-error')), /401/);
    assert.equal(watcher.status().paused, false);
    await page.locator(testid('action-lock')).click();
    await page.locator(testid('unlock-form')).waitFor(WAIT);

    // 3. The right token; "Stop local-a": the page follows the failover without a reload.
    await page.locator(testid('token')).fill(token);
    await page.locator(testid('unlock')).click();
    await stopDemoOrigin(page, 'local-a');
    await page.locator(`${testid('origin-local-a')}[data-state="down"]`).waitFor(WAIT);
    await page.locator(`${testid('decision-active')}[data-origins="local-b"]`).waitFor(WAIT);
    await page
      .locator(`${testid('timeline')} [data-kind="failover"]`)
      .first()
      .waitFor(WAIT);
    await waitForRecords(page, ADDRESSES['local-b']);
    await page.locator(`${testid('origin-local-a')} ${testid('origin-error')}`).waitFor(WAIT);
    assert.match(await textOf(page, `${testid('origin-local-a')} ${testid('origin-error')}`), /refused/i);
    assert.deepEqual(await memoryAnswers(), [ADDRESSES['local-b']], 'the DNS provider itself moved');
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    // The newest event comes first.
    const times = await page
      .locator(`${testid('timeline')} time`)
      .evaluateAll((nodes) => nodes.map((node) => node.getAttribute('datetime') ?? ''));
    assert.deepEqual(times, [...times].sort().reverse(), 'newest first');
    await page.screenshot({ path: join(SHOTS, 'dashboard-failover.png'), fullPage: true });
    // Readable in a narrow window: one column, nothing wider than the viewport.
    await page.setViewportSize({ width: 380, height: 800 });
    await page.waitForFunction(
      () => document.documentElement.scrollWidth <= window.innerWidth,
      undefined,
      WAIT,
    );
    if (process.env.OUTLAST_DASHBOARD_NARROW_PNG) {
      await page.screenshot({ path: process.env.OUTLAST_DASHBOARD_NARROW_PNG, fullPage: true });
    }
    await page.setViewportSize({ width: 1280, height: 900 });

    // 4. The timeline's filters: text, then kinds.
    await page.locator(testid('timeline-filter')).fill('failover');
    await page.waitForFunction(
      () => {
        const items = [...document.querySelectorAll('[data-testid="timeline"] li')];
        return items.length > 0 && items.every((item) => /failover/i.test(item.textContent ?? ''));
      },
      undefined,
      WAIT,
    );
    await page.locator(testid('timeline-filter')).fill('');
    await page
      .locator(`${testid('timeline')} [data-kind="health"]`)
      .first()
      .waitFor(WAIT);
    await page.locator(testid('kind-health')).uncheck();
    await page.waitForFunction(
      () =>
        document.querySelectorAll('[data-testid="timeline"] [data-kind="health"]').length === 0 &&
        document.querySelectorAll('[data-testid="timeline"] li').length > 0,
      undefined,
      WAIT,
    );
    await page.locator(testid('kind-health')).check();

    // 5. "Start local-a": after the hold-down, automatic failback, still without a reload.
    await page.locator(testid('demo-start-local-a')).click();
    await page.locator(`${testid('origin-local-a')}[data-state="up"]`).waitFor(WAIT);
    await page.locator(`${testid('decision-active')}[data-origins="local-a"]`).waitFor(WAIT);
    await page
      .locator(`${testid('timeline')} [data-kind="failback"]`)
      .first()
      .waitFor(WAIT);
    await waitForRecords(page, ADDRESSES['local-a']);

    // 6. Pause and resume with the token: the flag follows.
    await page.locator(testid('action-pause')).click();
    await page.locator(testid('flag-paused')).waitFor(WAIT);
    assert.equal(watcher.status().paused, true);
    await page.locator(testid('action-resume')).click();
    await page.locator(testid('flag-paused')).waitFor({ state: 'hidden', ...WAIT });

    // 7. A restart of the watcher: the page reconnects by itself, and the timeline (from
    //    events.jsonl) still has the failover.
    await http.close();
    await watcher.stop();
    await page.locator(`${testid('connection')}:not([data-state="live"])`).waitFor(WAIT);
    watcher = new Watcher({ config, logger });
    await watcher.start();
    const port = Number(new URL(http.url).port);
    http = await startStatusServer(watcher, { host: '127.0.0.1', port, token, logger, demo: origins.demo });
    await page.locator(`${testid('connection')}[data-state="live"]`).waitFor(WAIT);
    await page
      .locator(`${testid('timeline')} [data-kind="started"]`)
      .nth(1)
      .waitFor(WAIT);
    await page
      .locator(`${testid('timeline')} [data-kind="failover"]`)
      .first()
      .waitFor(WAIT);
    assert.equal(await page.evaluate(() => window.notReloaded), true);
    await page.reload();
    await page
      .locator(`${testid('timeline')} [data-kind="failover"]`)
      .first()
      .waitFor(WAIT);

    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
    await context.close();
  } finally {
    await http?.close();
    await watcher?.stop();
    await origins.close();
    setup.cleanup();
  }
});
