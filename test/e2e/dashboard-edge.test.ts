/**
 * The dashboard's Edges section in a real browser (Debian's Chromium, driven by playwright-core):
 * two local origins, a watcher on the memory DNS provider, the status server, and an edge status
 * source attached to the watcher (a plain object: the real edge is wired in elsewhere) whose
 * status the test changes between checks. Without an edge the section is absent; attached, its
 * card shows the URLs, the release, the requests, the traffic per origin, the cache and TLS;
 * numbers that change are updated in place; `cacheOnly` brings the banner; detached, the section
 * is hidden again.
 *
 * Screenshots: dashboard-edge.png and dashboard-edge-cache-only.png, in a temp folder (printed),
 * or in docs/ with OUTLAST_UPDATE_SCREENSHOTS=1. No timing is asserted: every wait polls the page
 * until a generous deadline.
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
import { type StatusServer, startStatusServer } from '../../src/daemon/http.ts';
import { Watcher } from '../../src/daemon/watcher.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import type { EdgeStatus } from '../../src/edge/types.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { componentLogger } from '../../src/util/log.ts';
import { ensureChromium, launch, testid, textOf, WAIT } from '../helpers/browser.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy } from '../helpers/site.ts';

// The functions given to page.waitForFunction run in the browser; this program has no DOM types.
declare const document: { documentElement: { scrollWidth: number } };
declare const window: { innerWidth: number };

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const SHOTS = process.env.OUTLAST_UPDATE_SCREENSHOTS
  ? join(ROOT, 'docs')
  : join(tmpdir(), `outlast-dashboard-edge-shots-${process.pid}`);
const NAME = 'www.dashboard-edge.test';
const IDS = ['local-a', 'local-b'] as const;
const HOSTS = ['127.0.0.2', '127.0.0.3'];

let browser: Browser | undefined;

before(() => ensureChromium());

after(async () => {
  await browser?.close();
});

/** An edge serving `release` from local-a, with local-b skipped after three failures. */
function edgeStatus(release: string, urls: string[]): EdgeStatus {
  const now = Date.now();
  return {
    urls: ['https://127.0.0.1:8443', 'http://127.0.0.1:8080'],
    startedAt: new Date(now - 3_600_000).toISOString(),
    release: {
      id: release,
      deployedAt: new Date(now - 1_800_000).toISOString(),
      since: new Date(now - 600_000).toISOString(),
      files: 120,
      bytes: 3_500_000,
    },
    cacheOnly: false,
    origins: [
      {
        id: 'local-a',
        url: urls[0]!,
        state: 'ok',
        consecutiveFailures: 0,
        release,
        served: 1234,
        bytes: 5_872_025,
        failed: 0,
      },
      {
        id: 'local-b',
        url: urls[1]!,
        state: 'skipped',
        consecutiveFailures: 3,
        retryAt: new Date(now + 30_000).toISOString(),
        lastError: 'connect ECONNREFUSED 127.0.0.3:9',
        served: 56,
        bytes: 204_800,
        failed: 3,
      },
    ],
    cache: {
      files: 118,
      bytes: 3_400_000,
      maxBytes: 1_073_741_824,
      hits: 930,
      misses: 70,
      warm: { held: 80, total: 120, running: true },
    },
    requests: { total: 1300, failedOver: 3, cacheOnly: 0, errors: 0 },
    tls: {
      mode: 'acme',
      subject: 'CN=www.dashboard-edge.test',
      names: ['www.dashboard-edge.test'],
      validTo: new Date(now + 42 * 86_400_000).toISOString(),
      daysLeft: 42,
    },
  };
}

/** Waits until the element's text matches `expected` (the page refreshes every few seconds). */
async function textBecomes(page: Page, selector: string, expected: RegExp): Promise<void> {
  await eventually(
    `${selector} reads ${expected}`,
    async () => expected.test(await textOf(page, selector)),
    WAIT.timeout,
  );
}

const inEdge = (id: string) => `${testid('edge-0')} ${testid(id)}`;
const inRow = (origin: string, id: string) => `${testid(`edge-origin-${origin}`)} ${testid(id)}`;
const inDetail = (origin: string, id: string) => `${testid(`edge-origin-detail-${origin}`)} ${testid(id)}`;

test('the Edges section shows each edge in this process, its traffic per origin and the cache-only banner', {
  timeout: 300_000,
}, async () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>hello</h1>', '404.html': 'nope' } });
  const servers: RunningServer[] = [];
  let watcher: Watcher | undefined;
  let http: StatusServer | undefined;
  try {
    const deployed = await runDeploy({ config: setup.config });
    assert.ok(deployed.origins.every((origin) => !origin.error));
    for (const [index, host] of HOSTS.entries()) {
      servers.push(await startServer({ dir: setup.origins[index]!, host, port: 0 }));
    }
    const text = stringify({
      site: { dir: setup.siteDir, hostname: NAME },
      origins: IDS.map((id, index) => ({
        id,
        storage: { type: 'fs', path: setup.origins[index] },
        url: servers[index]!.url,
        dns: { a: [`192.0.2.${10 * (index + 1)}`] },
      })),
      health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
      failover: { policy: 'priority', failback: 'auto', holdDown: '2s' },
      dns: { name: NAME, ttl: 60, providers: [{ type: 'memory', name: `dashboard-edge-${process.pid}` }] },
      watch: { listen: '127.0.0.1:0', stateDir: join(setup.root, 'state') },
    });
    const { config } = parseConfig(text, join(setup.root, 'outlast.yaml'));
    const logger = componentLogger('test-dashboard-edge');
    watcher = new Watcher({ config, logger });
    await watcher.start();
    const token = await watcher.store.token();
    http = await startStatusServer(watcher, { host: '127.0.0.1', port: 0, token, logger });

    browser = await launch();
    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error' && !/^Failed to load resource/.test(message.text())) {
        problems.push(message.text());
      }
    });
    await page.goto(http.url);
    await page.locator(`${testid('origin-local-a')}[data-state="up"]`).waitFor(WAIT);
    assert.ok(await page.locator(testid('edges')).isHidden(), 'no edge attached: no Edges section');

    // 1. An edge attached: its card, with the numbers of its status.
    await eventually('the watcher knows the current release', async () => !!watcher?.status().currentRelease);
    const release = watcher.status().currentRelease!;
    const urls = servers.map((server) => server.url);
    let status = edgeStatus(release, urls);
    const detach = watcher.attachEdge({ status: () => status });
    await page.locator(testid('edge-0')).waitFor(WAIT);
    assert.ok(await page.locator(testid('edges')).isVisible());
    assert.equal(await textOf(page, inEdge('edge-urls')), 'also http://127.0.0.1:8080');
    assert.equal(await textOf(page, `${testid('edge-0')} h3`), 'https://127.0.0.1:8443');
    assert.equal(await textOf(page, inEdge('edge-state')), '1 of 2 origins ok');
    assert.match(
      await textOf(page, inEdge('edge-release')),
      new RegExp(`^Serves release ${release.slice(0, 12)} since .+ \\(10 min ago\\) · 120 files, 3\\.3 MiB$`),
    );
    assert.ok(await page.locator(inEdge('edge-cache-only')).isHidden(), 'no banner while an origin serves');
    assert.equal(await textOf(page, inEdge('edge-requests-total')), '1,300');
    assert.equal(await textOf(page, inEdge('edge-requests-failed-over')), '3');
    assert.equal(await textOf(page, inEdge('edge-requests-cache-only')), '0');
    assert.equal(await textOf(page, inEdge('edge-requests-errors')), '0');
    // Traffic per origin, in the status's order.
    assert.deepEqual(
      await page
        .locator(`${testid('edge-0')} tbody tr[data-origin]`)
        .evaluateAll((rows) => rows.map((row) => row.getAttribute('data-origin'))),
      ['local-a', 'local-b'],
    );
    assert.equal(await textOf(page, inRow('local-a', 'edge-origin-state')), 'ok');
    assert.equal(await textOf(page, inRow('local-a', 'edge-origin-served')), '1,234');
    assert.equal(await textOf(page, inRow('local-a', 'edge-origin-bytes')), '5.6 MiB');
    assert.equal(await textOf(page, inRow('local-a', 'edge-origin-failed')), '0');
    assert.ok(await page.locator(testid('edge-origin-detail-local-a')).isHidden(), 'nothing to tell of a');
    assert.equal(await textOf(page, inRow('local-b', 'edge-origin-state')), 'skipped');
    assert.match(
      await textOf(page, inDetail('local-b', 'edge-origin-retry')),
      /^next try at \d\d:\d\d:\d\d$/,
    );
    assert.equal(
      await textOf(page, inDetail('local-b', 'edge-origin-error')),
      ' \u00b7 \u26a0 connect ECONNREFUSED 127.0.0.3:9',
    );
    assert.equal(await textOf(page, inRow('local-b', 'edge-origin-served')), '56');
    assert.equal(await textOf(page, inRow('local-b', 'edge-origin-bytes')), '200 KiB');
    assert.equal(await textOf(page, inRow('local-b', 'edge-origin-failed')), '3');
    // Each origin's bar is its share of the requests served: 1234 of 1290, 56 of 1290.
    assert.deepEqual(
      await page
        .locator(`${testid('edge-0')} svg.share rect.bar`)
        .evaluateAll((bars) => bars.map((bar) => bar.getAttribute('width'))),
      ['95.7', '4.3'],
    );
    // The cache, and TLS.
    assert.equal(await textOf(page, inEdge('edge-cache')), '118 files · 3.2 MiB of 1.0 GiB (0%)');
    assert.equal(await textOf(page, inEdge('edge-hits')), '93.0% (930 hits, 70 misses)');
    assert.equal(await textOf(page, inEdge('edge-warm')), '80 of 120 files of the release held, filling');
    assert.deepEqual(
      await page
        .locator(inEdge('edge-warm-bar'))
        .evaluate((bar) => [bar.getAttribute('value'), bar.getAttribute('max')]),
      ['80', '120'],
    );
    assert.equal(await textOf(page, inEdge('edge-tls')), 'ACME · CN=www.dashboard-edge.test · 42 days left');
    assert.ok(await page.locator(inEdge('edge-tls-error')).isHidden());
    mkdirSync(SHOTS, { recursive: true });
    await page.screenshot({ path: join(SHOTS, 'dashboard-edge.png'), fullPage: true });

    // 2. New numbers: the same card and rows, updated in place.
    await page.locator(testid('edge-origin-local-a')).evaluate((row) => row.setAttribute('data-kept', 'yes'));
    status = edgeStatus(release, urls);
    status.origins[0]!.served = 2000;
    status.origins[1] = { ...status.origins[1]!, state: 'ok', consecutiveFailures: 0, failed: 4 };
    delete status.origins[1].retryAt;
    delete status.origins[1].lastError;
    status.requests.total = 2100;
    status.cache.warm = { held: 120, total: 120, running: false };
    await textBecomes(page, inRow('local-a', 'edge-origin-served'), /^2,000$/);
    assert.equal(await page.locator(`${testid('edge-origin-local-a')}[data-kept="yes"]`).count(), 1);
    assert.equal(await textOf(page, inEdge('edge-requests-total')), '2,100');
    assert.equal(await textOf(page, inRow('local-b', 'edge-origin-state')), 'ok');
    assert.equal(await textOf(page, inRow('local-b', 'edge-origin-failed')), '4');
    assert.ok(await page.locator(inDetail('local-b', 'edge-origin-error')).isHidden());
    assert.ok(await page.locator(inDetail('local-b', 'edge-origin-retry')).isHidden());
    assert.ok(await page.locator(testid('edge-origin-detail-local-b')).isHidden());
    assert.equal(await textOf(page, inEdge('edge-state')), 'all 2 origins ok');
    assert.equal(await textOf(page, inEdge('edge-warm')), '120 of 120 files of the release held');

    // 3. Every origin down: the banner, the card marked, a TLS problem shown.
    status = edgeStatus(release, urls);
    status.cacheOnly = true;
    for (const origin of status.origins) {
      origin.state = origin.id === 'local-a' ? 'down' : 'skipped';
      origin.failed += 5;
    }
    status.requests = { total: 1400, failedOver: 3, cacheOnly: 100, errors: 2 };
    status.tls = { ...status.tls!, daysLeft: 5, lastError: 'ACME order failed: connection refused' };
    await page.locator(`${testid('edge-0')}[data-cache-only="true"]`).waitFor(WAIT);
    await page.locator(inEdge('edge-cache-only')).waitFor(WAIT);
    assert.equal(
      await textOf(page, inEdge('edge-cache-only')),
      `Every origin is down: serving release ${release.slice(0, 12)} from the cache.`,
    );
    assert.equal(await textOf(page, inEdge('edge-state')), 'from the cache only');
    assert.equal(await textOf(page, inRow('local-a', 'edge-origin-state')), 'down');
    assert.equal(await textOf(page, inRow('local-a', 'edge-origin-failed')), '5');
    assert.equal(await textOf(page, inEdge('edge-requests-cache-only')), '100');
    assert.equal(await textOf(page, inEdge('edge-requests-errors')), '2');
    assert.match(await textOf(page, inEdge('edge-tls')), /5 days left$/);
    assert.match(await textOf(page, inEdge('edge-tls-error')), /^TLS: ACME order failed: connection refused/);
    await page.screenshot({ path: join(SHOTS, 'dashboard-edge-cache-only.png'), fullPage: true });
    // Readable in a narrow window: nothing wider than the viewport (the table scrolls in its box).
    await page.setViewportSize({ width: 380, height: 800 });
    await page.waitForFunction(
      () => document.documentElement.scrollWidth <= window.innerWidth,
      undefined,
      WAIT,
    );
    await page.setViewportSize({ width: 1280, height: 900 });

    // 4. Detached: the section goes.
    detach();
    await page.locator(testid('edges')).waitFor({ state: 'hidden', ...WAIT });
    assert.equal('edges' in watcher.status(), false);
    assert.equal(await page.locator(testid('edge-0')).count(), 0, 'its card removed');

    assert.deepEqual(problems, [], 'no script errors and no CSP violations');
    process.stdout.write(`screenshots in ${SHOTS}\n`);
    await context.close();
  } finally {
    await http?.close();
    await watcher?.stop();
    for (const server of servers) await server.close().catch(() => undefined);
    setup.cleanup();
  }
});
