/**
 * `npm start`'s demo as a newcomer meets it: it comes up, its DNS server answers the name with the
 * first origin, stopping that origin (the dashboard's control) moves the name, and Ctrl-C stops
 * everything it started. The dashboard's link it prints opens the page unlocked (in Debian's
 * Chromium), and that line is the only one with the token.
 */
import assert from 'node:assert/strict';
import { type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Browser } from 'playwright-core';
import { ensureChromium, launch, stopDemoOrigin, testid, WAIT } from '../helpers/browser.ts';
import { eventually } from '../helpers/eventually.ts';
import { DEMO_HOSTS, demoArgs, saysPortTaken, startOnFreePorts } from '../helpers/ports.ts';
import { query } from '../servers/dns.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

interface Demo {
  child: ChildProcessByStdio<null, Readable, Readable>;
  dnsPort: number;
  statusPort: number;
  originPort: number;
  edgePort: number;
  /** Its stdout and stderr so far, interleaved. */
  output: string;
  exited: Promise<number | null>;
}

/**
 * `outlast demo` on free ports, its state in `dir`, stdin not a terminal; resolves once it has
 * printed all of its "is running" lines. Started again on other ports when one was taken before
 * the demo bound it; when it does not come up, it is stopped and `dir` removed.
 */
async function startDemo(dir: string, args: string[], env: Record<string, string> = {}): Promise<Demo> {
  const outcome = await startOnFreePorts(
    DEMO_HOSTS,
    ([dnsPort, statusPort, originPort, edgePort]) =>
      tryDemo(dir, args, env, dnsPort!, statusPort!, originPort!, edgePort!),
    (outcome) => 'failed' in outcome && saysPortTaken(outcome.output),
  );
  if ('demo' in outcome) return outcome.demo;
  rmSync(dir, { recursive: true, force: true });
  throw new Error(`${outcome.failed}; its output:\n${outcome.output}`);
}

async function tryDemo(
  dir: string,
  args: string[],
  env: Record<string, string>,
  dnsPort: number,
  statusPort: number,
  originPort: number,
  edgePort: number,
): Promise<{ demo: Demo } | { failed: string; output: string }> {
  const child = spawn(
    process.execPath,
    [BIN, ...demoArgs(dir, [dnsPort, statusPort, originPort, edgePort]), ...args],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    },
  );
  let gone = false;
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      gone = true;
      resolve(code);
    }),
  );
  const demo: Demo = { child, dnsPort, statusPort, originPort, edgePort, output: '', exited };
  child.stdout.on('data', (chunk) => {
    demo.output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    demo.output += chunk;
  });
  const running = () => /outlast demo is running.*expected failover time/s.test(demo.output);
  try {
    await eventually('the demo says it is running, or exits', async () => running() || gone, 60_000);
  } catch (error) {
    child.kill('SIGINT');
    await exited;
    return { failed: (error as Error).message, output: demo.output };
  }
  if (!running()) {
    await exited;
    return { failed: `the demo exited with ${await exited} before it was running`, output: demo.output };
  }
  return { demo };
}

/** What the demo's DNS server answers for the name, comma-separated. */
async function answer(demo: Demo): Promise<string> {
  return (await query({ host: '127.0.0.1', port: demo.dnsPort }, 'www.demo.test', 'A')).answers
    .map((a) => a.data)
    .join();
}

/** Without a terminal (stdin is not a TTY here), with or without --no-keys: no keys offered. */
const OUTAGE_LINE_WITHOUT_KEYS =
  /^ {2}cause an outage: {11}use the dashboard's Stop and Start buttons \(under "Demo origins"\)$/m;

test('the demo fails over when an origin stops, and Ctrl-C leaves nothing running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-demo-'));
  const demo = await startDemo(dir, ['--no-keys']);
  const { dnsPort, statusPort, originPort, edgePort } = demo;
  try {
    assert.match(demo.output, OUTAGE_LINE_WITHOUT_KEYS);
    await eventually('the name points to local-a', async () => (await answer(demo)) === '127.0.0.2');
    const site = await fetch(`http://127.0.0.2:${originPort}/`);
    assert.match(await site.text(), /Harbor Coffee Roasters/);
    const edgeUrl = `http://127.0.0.1:${edgePort}`;
    assert.ok(demo.output.includes(`the site, through the edge: ${edgeUrl}/`), demo.output);
    assert.match(await (await fetch(`${edgeUrl}/`)).text(), /Harbor Coffee Roasters/);

    const token = readFileSync(join(dir, 'state', 'token'), 'utf8').trim();
    const refused = await fetch(`http://127.0.0.1:${statusPort}/demo/origins/local-a/stop`, {
      method: 'POST',
    });
    assert.equal(refused.status, 401, 'the control needs the token');
    const stop = await fetch(`http://127.0.0.1:${statusPort}/demo/origins/local-a/stop`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}` },
    });
    assert.ok(stop.ok, `stop answered ${stop.status}`);
    await eventually('the name points to local-b', async () => (await answer(demo)) === '127.0.0.3');
    assert.match(demo.output, /failover/);
    // The edge never stopped answering, and no longer uses local-a (down by the watcher, or skipped).
    const through = await fetch(`${edgeUrl}/about/`);
    assert.equal(through.status, 200);
    const edges = (
      (await (await fetch(`http://127.0.0.1:${statusPort}/status`)).json()) as {
        edges: { origins: { id: string; state: string }[] }[];
      }
    ).edges;
    const state = edges[0]!.origins.find((origin) => origin.id === 'local-a')?.state;
    assert.ok(state === 'down' || state === 'skipped', `local-a is ${state} at the edge`);
  } finally {
    demo.child.kill('SIGINT');
    const code = await demo.exited;
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, demo.output);
  }
  assert.ok(await canListen('127.0.0.1', dnsPort), 'the DNS port is free again');
  assert.ok(await canListen('127.0.0.1', statusPort), 'the status port is free again');
  assert.ok(await canListen('127.0.0.3', originPort), 'the origin port is free again');
  assert.ok(await canListen('127.0.0.1', edgePort), 'the edge port is free again');
});

describe('the dashboard link the demo prints', () => {
  let browser: Browser | undefined;
  before(() => ensureChromium());
  after(async () => {
    await browser?.close();
  });

  test('opens the page unlocked, leaves no token in the address, and is the only line with the token', {
    timeout: 180_000,
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'outlast-demo-link-'));
    // Keys not turned off, but stdin is not a terminal; debug logs, so that more could leak.
    const demo = await startDemo(dir, [], { OUTLAST_LOG_LEVEL: 'debug' });
    const token = readFileSync(join(dir, 'state', 'token'), 'utf8').trim();
    const home = `http://127.0.0.1:${demo.statusPort}/`;
    let linkLine = '';
    try {
      assert.match(demo.output, OUTAGE_LINE_WITHOUT_KEYS);
      linkLine = demo.output.split('\n').find((line) => line.startsWith('  the dashboard:')) ?? '';
      const link = /(http:\/\/\S+)/.exec(linkLine)?.[1];
      assert.equal(link, `${home}#token=${encodeURIComponent(token)}`, linkLine);

      browser = await launch();
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
      page.on('console', (message) => {
        if (message.type() === 'error') problems.push(message.text());
      });
      await page.goto(link!);
      await page.locator(testid('actions')).waitFor(WAIT);
      assert.ok(await page.locator(testid('unlock-form')).isHidden(), 'no token to type');
      assert.equal(await page.evaluate('location.href'), home, 'the fragment is gone');
      assert.equal(page.url(), home);
      assert.equal(await page.evaluate("sessionStorage.getItem('outlast.token')"), token, 'kept in the tab');

      // An action then succeeds: stop local-a, and the name moves.
      await stopDemoOrigin(page, 'local-a');
      await eventually('the name points to local-b', async () => (await answer(demo)) === '127.0.0.3');
      // A reload keeps it unlocked (sessionStorage), with the address still clean.
      await page.reload();
      await page.locator(testid('demo-start-local-a')).waitFor(WAIT);
      assert.equal(page.url(), home);
      assert.deepEqual(problems, [], 'no script errors and no CSP violations');
    } finally {
      demo.child.kill('SIGINT');
      const code = await demo.exited;
      rmSync(dir, { recursive: true, force: true });
      assert.equal(code, 0, demo.output);
    }
    const withToken = demo.output.split('\n').filter((line) => line.includes(token));
    assert.deepEqual(withToken, [linkLine], 'the token is in the dashboard line only');
  });
});

test('outlast demo --drill runs the outage by itself and prints its report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-drill-'));
  try {
    const result = await startOnFreePorts(
      DEMO_HOSTS,
      async (ports) =>
        spawnSync(process.execPath, [BIN, ...demoArgs(dir, ports), '--drill'], {
          encoding: 'utf8',
          timeout: 120_000,
        }),
      (result) => result.status !== 0 && saysPortTaken(result.stderr),
    );
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /drill report/);
    assert.match(
      result.stdout,
      /failover: www\.demo\.test answered local-b \d+\.\d\d s after local-a stopped/,
    );
    assert.match(result.stdout, /failback: www\.demo\.test answered local-a again \d+\.\d\d s/);
    assert.match(result.stdout, /DNS: +\d+ queries, 0 unanswered/);
    assert.match(result.stdout, /edge: +[1-9]\d* page loads through http:\S+ meanwhile, 0 failed/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
