/**
 * `outlast watch` as a user runs it: it prints where its endpoints are and what happens, and never
 * its token (unlike `outlast demo`'s dashboard link, test/e2e/demo.test.ts): not at the start, not
 * when actions are made with it or refused, not in its debug logs, not in the dashboard page.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runDeploy } from '../../src/deploy/engine.ts';
import { startServer } from '../../src/serve/server.ts';
import { eventually } from '../helpers/eventually.ts';
import { setupFsDeploy } from '../helpers/site.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));

test('outlast watch prints no token, also while actions are made with it', { timeout: 120_000 }, async () => {
  const setup = setupFsDeploy({ origins: 1, files: { 'index.html': '<h1>hi</h1>', '404.html': 'nope' } });
  const deployed = await runDeploy({ config: setup.config });
  assert.ok(deployed.origins.every((origin) => !origin.error));
  const origin = await startServer({ dir: setup.origins[0]!, host: '127.0.0.2', port: 0 });
  const stateDir = join(setup.root, 'state');
  const configFile = join(setup.root, 'watch.yaml');
  writeFileSync(
    configFile,
    stringify({
      site: { dir: setup.siteDir, hostname: 'www.watch.test' },
      origins: [
        {
          id: 'o0',
          storage: { type: 'fs', path: setup.origins[0] },
          url: origin.url,
          dns: { a: ['192.0.2.1'] },
        },
      ],
      health: { interval: '300ms', retryInterval: '100ms', timeout: '2s', fall: 2, rise: 2 },
      dns: { name: 'www.watch.test', ttl: 60, providers: [{ type: 'memory', name: 'watch-test' }] },
      watch: { listen: '127.0.0.1:0', stateDir },
    }),
  );
  const env: Record<string, string | undefined> = { ...process.env, OUTLAST_LOG_LEVEL: 'debug' };
  delete env.OUTLAST_TOKEN;
  const child = spawn(process.execPath, [BIN, 'watch', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  let token = '';
  try {
    await eventually('the watcher says where its status is', async () =>
      /status: http:\S+\/status/.test(output),
    );
    const base = /status: (http:\S+)\/status/.exec(output)![1]!;
    token = readFileSync(join(stateDir, 'token'), 'utf8').trim();
    assert.ok(token.length >= 20);
    await eventually('the name is routed to o0', async () => /routing to o0/.test(output));

    const page = await (await fetch(`${base}/`)).text();
    assert.match(page, /<form id="unlock-form"/);
    assert.ok(!page.includes(token), 'the page does not carry the token');
    const refused = await fetch(`${base}/actions/pause`, {
      method: 'POST',
      headers: { authorization: 'Bearer not-the-token' },
    });
    assert.equal(refused.status, 401);
    for (const action of ['pause', 'resume']) {
      const done = await fetch(`${base}/actions/${action}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}` },
      });
      assert.ok(done.ok, `${action} answered ${done.status}`);
    }
    await eventually('the watcher printed both actions', async () => /paused.*resumed/s.test(output));
  } finally {
    child.kill('SIGINT');
    const code = await exited;
    await origin.close();
    setup.cleanup();
    assert.equal(code, 0, output);
  }
  assert.ok(!output.includes(token), `the token is not in the watcher's output:\n${output}`);
});
