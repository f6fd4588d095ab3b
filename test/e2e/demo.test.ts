/**
 * `npm start`'s demo as a newcomer meets it: it comes up, its DNS server answers the name with the
 * first origin, stopping that origin (the dashboard's control) moves the name, and Ctrl-C stops
 * everything it started.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { eventually } from '../helpers/eventually.ts';
import { query } from '../servers/dns.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));

/** A TCP port free on `host` right now. */
function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

test('the demo fails over when an origin stops, and Ctrl-C leaves nothing running', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-demo-'));
  const dnsPort = await freePort('127.0.0.1');
  const statusPort = await freePort('127.0.0.1');
  const originPort = await freePort('127.0.0.2');
  const child = spawn(
    process.execPath,
    [
      BIN,
      'demo',
      '--dir',
      dir,
      '--dns',
      `127.0.0.1:${dnsPort}`,
      '--status',
      `127.0.0.1:${statusPort}`,
      '--port',
      String(originPort),
      '--no-keys',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  try {
    await eventually(
      'the demo says it is running',
      async () => output.includes('outlast demo is running'),
      60_000,
    );
    const answer = async () =>
      (await query({ host: '127.0.0.1', port: dnsPort }, 'www.demo.test', 'A')).answers
        .map((a) => a.data)
        .join();
    await eventually('the name points to local-a', async () => (await answer()) === '127.0.0.2');
    const site = await fetch(`http://127.0.0.2:${originPort}/`);
    assert.match(await site.text(), /Harbor Coffee Roasters/);

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
    await eventually('the name points to local-b', async () => (await answer()) === '127.0.0.3');
    assert.match(output, /failover/);
  } finally {
    child.kill('SIGINT');
    const code = await exited;
    rmSync(dir, { recursive: true, force: true });
    assert.equal(code, 0, output);
  }
  assert.ok(await canListen('127.0.0.1', dnsPort), 'the DNS port is free again');
  assert.ok(await canListen('127.0.0.1', statusPort), 'the status port is free again');
  assert.ok(await canListen('127.0.0.3', originPort), 'the origin port is free again');
});

test('outlast demo --drill runs the outage by itself and prints its report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-drill-'));
  try {
    const dnsPort = await freePort('127.0.0.1');
    const statusPort = await freePort('127.0.0.1');
    const originPort = await freePort('127.0.0.2');
    const result = spawnSync(
      process.execPath,
      [
        BIN,
        'demo',
        '--drill',
        '--dir',
        dir,
        '--dns',
        `127.0.0.1:${dnsPort}`,
        '--status',
        `127.0.0.1:${statusPort}`,
        '--port',
        String(originPort),
      ],
      { encoding: 'utf8', timeout: 120_000 },
    );
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /drill report/);
    assert.match(
      result.stdout,
      /failover: www\.demo\.test answered local-b \d+\.\d\d s after local-a stopped/,
    );
    assert.match(result.stdout, /failback: www\.demo\.test answered local-a again \d+\.\d\d s/);
    assert.match(result.stdout, /DNS: +\d+ queries, 0 unanswered/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
