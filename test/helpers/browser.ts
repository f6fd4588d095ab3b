/**
 * For the tests that drive the dashboard in a real browser: Debian's Chromium (installed by
 * scripts/servers/browser.sh, which `npm test` runs first) through playwright-core.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium, type Page } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';
const BROWSER_SH = fileURLToPath(new URL('../../scripts/servers/browser.sh', import.meta.url));

/** Generous: the page is polled until then; nothing is asserted about how long it takes. */
export const WAIT = { timeout: 60_000 };

/** Installs the browser when it is missing (a test file run without `npm test`). */
export function ensureChromium(): void {
  if (!existsSync(CHROMIUM)) execFileSync(BROWSER_SH, ['install'], { stdio: 'inherit' });
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** The selector of the page's element with this `data-testid`. */
export const testid = (id: string) => `[data-testid="${id}"]`;

export async function textOf(page: Page, selector: string): Promise<string> {
  return (await page.locator(selector).first().textContent()) ?? '';
}

/**
 * Clicks a demo origin's Stop button on an unlocked dashboard: asserts the server took it (202)
 * and waits until the page shows the origin stopped.
 */
export async function stopDemoOrigin(page: Page, id: string): Promise<void> {
  const button = page.locator(testid(`demo-stop-${id}`));
  await button.waitFor(WAIT);
  const [stopped] = await Promise.all([
    page.waitForResponse((response) => response.url().endsWith(`/demo/origins/${id}/stop`), WAIT),
    button.click(),
  ]);
  assert.equal(stopped.status(), 202, `the server took "stop ${id}"`);
  await page.locator(`${testid(`demo-state-${id}`)}:text("stopped")`).waitFor(WAIT);
}
