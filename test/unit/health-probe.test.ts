/** Health probes against real servers on 127.0.0.1: outlast serve, bare HTTP, a silent socket, HTTPS. */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type RequestListener, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import { runDeploy } from '../../src/deploy/engine.ts';
import { HealthEngine } from '../../src/health/engine.ts';
import { type ProbeOptions, probeOrigin } from '../../src/health/probe.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { setupFsDeploy, type TestSetup, tempDir } from '../helpers/site.ts';

const silent = pino({ level: 'silent' });
const BEACON_PATH = '/.well-known/outlast/release.json';
const OTHER_RELEASE = `r${'0'.repeat(20)}`;
const BEACON_RELEASE = `r${'a'.repeat(20)}`;
const BEACON_JSON = JSON.stringify({
  release: BEACON_RELEASE,
  manifestSha256: 'b'.repeat(64),
  deployedAt: '2030-01-01T00:00:00.000Z',
  files: 1,
  bytes: 5,
  releases: [BEACON_RELEASE],
  pendingCleanup: [],
  writer: 'test',
});
// Roomy: only the timeout test wants a probe to time out, and it sets its own.
const options: ProbeOptions = { path: BEACON_PATH, timeoutMs: 10_000, expectStatus: [200] };

/** Listens on 127.0.0.1 with a free port; returns the port. */
async function listen(server: Server | ReturnType<typeof createNetServer>): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function close(server: Server | ReturnType<typeof createNetServer>): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/** A plain HTTP server answering every request with `handler`. */
async function httpServer(handler: RequestListener): Promise<{ url: string; server: Server }> {
  const server = createHttpServer(handler);
  const port = await listen(server);
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('probeOrigin against outlast serve', () => {
  let setup: TestSetup;
  let server: RunningServer;
  let release: string;

  before(async () => {
    setup = setupFsDeploy({ origins: 1, files: { 'index.html': '<h1>hi</h1>' } });
    const outcome = await runDeploy({ config: setup.config });
    release = outcome.releaseId;
    server = await startServer({ dir: setup.origins[0]!, host: '127.0.0.1', port: 0, logger: silent });
  });

  after(async () => {
    await server.close();
    setup.cleanup();
  });

  test('passes with the release the origin serves', async () => {
    const result = await probeOrigin(
      { originId: 'o0', url: server.url },
      { ...options, expectedRelease: release },
    );
    assert.equal(result.ok, true, result.error);
    assert.equal(result.status, 200);
    assert.equal(result.release, release);
    assert.ok(result.deployedAt);
    assert.equal(result.errorKind, undefined);
    assert.equal(result.certificate, undefined);
  });

  test('fails on another expected release, still reporting the one served', async () => {
    const result = await probeOrigin(
      { originId: 'o0', url: server.url },
      { ...options, expectedRelease: OTHER_RELEASE },
    );
    assert.equal(result.ok, false);
    assert.equal(result.errorKind, 'release');
    assert.equal(result.error, `serves release ${release}, not ${OTHER_RELEASE}`);
    assert.equal(result.release, release);
  });

  test('a path that is not there fails on the status', async () => {
    const result = await probeOrigin({ originId: 'o0', url: `${server.url}/nowhere/` }, options);
    assert.equal(result.errorKind, 'status');
    assert.equal(result.error, 'status 404');
  });
});

describe('probeOrigin against bare servers', () => {
  test('sends the Host header and joins a base URL that has a path', async () => {
    const seen: { host?: string; url?: string }[] = [];
    const { url, server } = await httpServer((req, res) => {
      seen.push({ host: req.headers.host, url: req.url });
      res.setHeader('content-type', 'application/json').end(BEACON_JSON);
    });
    try {
      const byHeader = await probeOrigin({ originId: 'a', url, hostHeader: 'www.example.com' }, options);
      assert.equal(byHeader.ok, true, byHeader.error);
      const byUrl = await probeOrigin({ originId: 'a', url: `${url}/v1/AUTH_test/web/` }, options);
      assert.equal(byUrl.ok, true, byUrl.error);
      assert.deepEqual(seen, [
        { host: 'www.example.com', url: BEACON_PATH },
        { host: new URL(url).host, url: `/v1/AUTH_test/web${BEACON_PATH}` },
      ]);
    } finally {
      await close(server);
    }
  });

  test('a closed port is a connect error', async () => {
    const probe = createNetServer();
    const port = await listen(probe);
    await close(probe);
    const result = await probeOrigin({ originId: 'a', url: `http://127.0.0.1:${port}` }, options);
    assert.equal(result.ok, false);
    assert.equal(result.errorKind, 'connect');
    assert.equal(result.error, 'connection refused');
  });

  test('a server that accepts and never answers is a timeout', async () => {
    const sockets: Socket[] = [];
    const silentServer = createNetServer((socket) => sockets.push(socket));
    const port = await listen(silentServer);
    try {
      const result = await probeOrigin(
        { originId: 'a', url: `http://127.0.0.1:${port}` },
        { ...options, timeoutMs: 300 },
      );
      assert.equal(result.ok, false);
      assert.equal(result.errorKind, 'timeout');
      assert.equal(result.error, 'timed out after 300 ms');
    } finally {
      for (const socket of sockets) socket.destroy();
      await close(silentServer);
    }
  });

  test('status, redirect and body failures', async () => {
    const { url, server } = await httpServer((req, res) => {
      if (req.url === '/503') res.writeHead(503).end('busy');
      else if (req.url === '/302') res.writeHead(302, { location: '/elsewhere' }).end();
      else if (req.url === '/html') res.writeHead(200, { 'content-type': 'text/html' }).end('<h1>hello</h1>');
      else if (req.url === '/big') res.writeHead(200).end('x'.repeat(64 * 1024));
      else res.writeHead(200).end(BEACON_JSON);
    });
    try {
      const at = (path: string) => probeOrigin({ originId: 'a', url }, { ...options, path });
      const busy = await at('/503');
      assert.deepEqual([busy.errorKind, busy.error, busy.status], ['status', 'status 503', 503]);
      const moved = await at('/302');
      assert.equal(moved.errorKind, 'status');
      assert.equal(moved.status, 302);
      assert.match(moved.error ?? '', /^status 302 \(redirect to \/elsewhere\)$/);
      const html = await at('/html');
      assert.equal(html.errorKind, 'body');
      assert.match(html.error ?? '', /^not a release beacon/);
      const big = await at('/big');
      assert.equal(big.errorKind, 'body');
      const accepted = await probeOrigin(
        { originId: 'a', url },
        { ...options, path: '/503', expectStatus: [503] },
      );
      assert.equal(accepted.errorKind, 'body', 'an accepted status still needs a beacon');
    } finally {
      await close(server);
    }
  });
});

describe('probeOrigin over HTTPS', () => {
  const dir = tempDir('health-tls');
  const certificate = (name: string, days: number) => {
    const key = join(dir, `${name}.key`);
    const cert = join(dir, `${name}.pem`);
    const args = `req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -days ${days} -nodes`;
    const subject = ['-subj', '/CN=www.example.test', '-addext', 'subjectAltName=DNS:www.example.test'];
    execFileSync('openssl', [...args.split(' '), ...subject, '-keyout', key, '-out', cert], {
      stdio: 'ignore',
    });
    return { key: readFileSync(key), cert: readFileSync(cert) };
  };
  const servers: Server[] = [];

  async function httpsServer(days: number): Promise<{ url: string; ca: Buffer }> {
    const pair = certificate(`cert-${days}`, days);
    const server = createHttpsServer(pair, (_req, res) => res.end(BEACON_JSON));
    servers.push(server);
    const port = await listen(server);
    return { url: `https://127.0.0.1:${port}`, ca: pair.cert };
  }

  after(async () => {
    for (const server of servers) await close(server);
    rmSync(dir, { recursive: true, force: true });
  });

  test('an untrusted self-signed certificate fails with tls', async () => {
    const { url } = await httpsServer(30);
    const result = await probeOrigin({ originId: 'a', url, hostHeader: 'www.example.test' }, options);
    assert.equal(result.ok, false);
    assert.equal(result.errorKind, 'tls');
    assert.equal(result.error, 'self-signed certificate, not trusted');
  });

  test('with the CA trusted it passes and reports the certificate', async () => {
    const { url, ca } = await httpsServer(30);
    const result = await probeOrigin(
      { originId: 'a', url, hostHeader: 'www.example.test' },
      { ...options, ca },
    );
    assert.equal(result.ok, true, result.error);
    assert.equal(result.release, BEACON_RELEASE);
    assert.ok(result.certificate);
    assert.equal(result.certificate.subject, 'www.example.test');
    assert.equal(result.certificate.coversHost, true);
    assert.ok(
      result.certificate.daysLeft >= 28 && result.certificate.daysLeft <= 30,
      `${result.certificate.daysLeft}`,
    );
  });

  test('a Host the certificate does not cover fails with tls', async () => {
    const { url, ca } = await httpsServer(30);
    const result = await probeOrigin({ originId: 'a', url, hostHeader: 'other.test' }, { ...options, ca });
    assert.equal(result.ok, false);
    assert.equal(result.errorKind, 'tls');
    assert.equal(result.error, 'certificate does not cover other.test');
    assert.equal(result.certificate?.coversHost, false);
  });

  test('a certificate that expires within 14 days is a warning in the engine, not a failure', async () => {
    const { url, ca } = await httpsServer(10);
    const engine = new HealthEngine({
      targets: [{ originId: 'soon', url, hostHeader: 'www.example.test' }],
      health: {
        path: BEACON_PATH,
        interval: 1000,
        timeout: 10_000,
        retryInterval: 100,
        fall: 2,
        rise: 2,
        requireCurrentRelease: true,
        expectStatus: [200],
      },
      expectedRelease: () => BEACON_RELEASE,
      logger: silent,
      probe: { ca },
    });
    const [result] = await engine.probeNow();
    assert.equal(result?.ok, true, result?.error);
    const health = engine.snapshot().soon;
    assert.equal(health?.state, 'up');
    assert.match(
      health?.certificateWarning ?? '',
      /^certificate for www\.example\.test expires in (9|10) days/,
    );
    await engine.stop();
  });
});
