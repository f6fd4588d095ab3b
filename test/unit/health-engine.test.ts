/**
 * The health engine against real servers on 127.0.0.1 with short intervals. Only the order and
 * counts of events are asserted, never timings: waits are generous deadlines, not expectations.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { pino } from 'pino';
import type { HealthConfig } from '../../src/config/schema.ts';
import { runDeploy } from '../../src/deploy/engine.ts';
import { HealthEngine, type HealthTransition, type OriginHealth } from '../../src/health/engine.ts';
import type { ProbeResult } from '../../src/health/probe.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { setupFsDeploy, type TestSetup } from '../helpers/site.ts';

const silent = pino({ level: 'silent' });
const BEACON_PATH = '/.well-known/outlast/release.json';
const RELEASE = `r${'c'.repeat(20)}`;
const BEACON_JSON = JSON.stringify({
  release: RELEASE,
  manifestSha256: 'd'.repeat(64),
  deployedAt: '2030-01-01T00:00:00.000Z',
  files: 1,
  bytes: 5,
  releases: [RELEASE],
  pendingCleanup: [],
  writer: 'test',
});
// Short intervals keep the tests quick; the timeout is roomy so a busy machine does not turn a
// pass into a failure and change the counts the tests assert.
const HEALTH: HealthConfig = {
  path: BEACON_PATH,
  interval: 200,
  timeout: 5000,
  retryInterval: 50,
  fall: 3,
  rise: 2,
  requireCurrentRelease: true,
  expectStatus: [200],
};

/** Records every callback, in order. */
function recorder() {
  const events: (
    | { type: 'probe'; result: ProbeResult; state: OriginHealth }
    | { type: 'transition'; t: HealthTransition }
  )[] = [];
  return {
    events,
    onProbe: (result: ProbeResult, state: OriginHealth) => events.push({ type: 'probe', result, state }),
    onTransition: (t: HealthTransition) => events.push({ type: 'transition', t }),
    transitions: () => events.flatMap((event) => (event.type === 'transition' ? [event.t] : [])),
    probes: () => events.flatMap((event) => (event.type === 'probe' ? [event.result] : [])),
  };
}

/** Resolves once `condition` holds; rejects after a deadline far beyond what the test needs. */
async function waitFor(what: string, condition: () => boolean, deadlineMs = 15_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > deadlineMs) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

function activeTimers(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'Timeout').length;
}

describe('HealthEngine', () => {
  let setup: TestSetup;
  let release: string;

  before(async () => {
    setup = setupFsDeploy({ origins: 1, files: { 'index.html': '<h1>hi</h1>' } });
    release = (await runDeploy({ config: setup.config })).releaseId;
  });

  after(() => setup.cleanup());

  test('unknown → up at once, down after `fall` failures, up again after `rise` passes', async () => {
    let server: RunningServer = await startServer({
      dir: setup.origins[0]!,
      host: '127.0.0.1',
      port: 0,
      logger: silent,
    });
    const port = server.port;
    const events = recorder();
    const timersBefore = activeTimers();
    const engine = new HealthEngine({
      targets: [{ originId: 'o0', url: server.url }],
      health: HEALTH,
      expectedRelease: () => release,
      logger: silent,
      ...events,
    });
    engine.start();
    try {
      await waitFor('up', () => events.transitions().length === 1);
      assert.deepEqual(
        events.transitions().map((t) => [t.from, t.to, t.reason, t.release]),
        [['unknown', 'up', 'first probe passed', release]],
      );
      assert.equal(events.probes().length, 1, 'the first result decides');
      assert.equal(engine.snapshot().o0?.state, 'up');

      await server.close();
      await waitFor('down', () => events.transitions().length === 2);
      const down = events.transitions()[1]!;
      assert.deepEqual([down.from, down.to], ['up', 'down']);
      assert.equal(down.reason, '3 consecutive failures (last: connection refused)');
      assert.equal(down.release, release, 'the last release seen is kept');
      assert.equal(
        streakBefore(events.events, down, false),
        HEALTH.fall,
        'exactly `fall` failures before it',
      );

      server = await startServer({ dir: setup.origins[0]!, host: '127.0.0.1', port, logger: silent });
      await waitFor('up again', () => events.transitions().length === 3);
      const up = events.transitions()[2]!;
      assert.deepEqual([up.from, up.to, up.reason], ['down', 'up', '2 consecutive passes']);
      assert.equal(streakBefore(events.events, up, true), HEALTH.rise, 'exactly `rise` passes before it');

      const health = engine.snapshot().o0!;
      assert.equal(health.state, 'up');
      assert.equal(health.since, up.at);
      assert.equal(health.history.length, events.probes().length);
    } finally {
      await engine.stop();
      await server.close();
    }
    assert.equal(activeTimers(), timersBefore, 'stop() leaves no timer behind');
  });

  test('onProbe reports the release of every origin, standbys and failing ones too', async () => {
    const server = await startServer({ dir: setup.origins[0]!, host: '127.0.0.1', port: 0, logger: silent });
    const events = recorder();
    let expected: string | undefined = release;
    const engine = new HealthEngine({
      targets: [
        { originId: 'primary', url: server.url },
        { originId: 'standby', url: server.url, hostHeader: 'standby.example.com' },
      ],
      health: HEALTH,
      expectedRelease: () => expected,
      logger: silent,
      ...events,
    });
    try {
      engine.start();
      await waitFor('both probed', () => new Set(events.probes().map((p) => p.originId)).size === 2);
      for (const result of events.probes()) assert.equal(result.release, release);

      expected = `r${'9'.repeat(20)}`;
      await waitFor(
        'down on the release',
        () => events.transitions().filter((t) => t.to === 'down').length === 2,
      );
      const failed = events.probes().filter((p) => !p.ok);
      assert.ok(failed.length >= 2 * HEALTH.fall);
      for (const result of failed) {
        assert.equal(result.errorKind, 'release');
        assert.equal(result.release, release, 'a failing probe still names the release served');
      }
      const snapshot = engine.snapshot();
      assert.equal(snapshot.standby?.release, release);
      assert.equal(snapshot.standby?.lastProbe?.errorKind, 'release');
    } finally {
      await engine.stop();
      await server.close();
    }
  });
});

describe('HealthEngine against a flapping origin', () => {
  let server: Server;
  let url: string;
  let requests = 0;

  before(async () => {
    // Answers pass, fail, pass, fail … one request each.
    server = createServer((_req, res) => {
      requests++;
      if (requests % 2 === 1) res.writeHead(200, { 'content-type': 'application/json' }).end(BEACON_JSON);
      else res.writeHead(503).end('busy');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  test('alternating pass and fail never reaches fall or rise', async () => {
    const events = recorder();
    const engine = new HealthEngine({
      targets: [{ originId: 'flappy', url }],
      health: { ...HEALTH, fall: 2, rise: 2 },
      expectedRelease: () => RELEASE,
      logger: silent,
      ...events,
    });
    engine.start();
    try {
      await waitFor('12 probes', () => events.probes().length >= 12);
    } finally {
      await engine.stop();
    }
    const oks = events.probes().map((p) => p.ok);
    assert.deepEqual(
      oks.slice(0, 12),
      Array.from({ length: 12 }, (_, i) => i % 2 === 0),
    );
    assert.deepEqual(
      events.transitions().map((t) => [t.from, t.to]),
      [['unknown', 'up']],
    );
  });

  test('probeNow joins a probe in flight instead of doubling it', async () => {
    const engine = new HealthEngine({
      targets: [{ originId: 'flappy', url }],
      health: HEALTH,
      expectedRelease: () => undefined,
      logger: silent,
    });
    const before = requests;
    const [first, second] = await Promise.all([engine.probeNow('flappy'), engine.probeNow()]);
    assert.equal(requests - before, 1);
    assert.equal(first[0], second[0]);
    await assert.rejects(engine.probeNow('nope'), { name: 'OutlastError', code: 'invalid_argument' });
    await engine.stop();
  });
});

describe('HealthEngine against a hung origin', () => {
  test('probes overlap in a failure streak; down after exactly `fall` timeouts', async () => {
    // Answers the beacon until `hung`; then accepts connections and never answers (like SIGSTOP).
    let hung = false;
    let started = 0;
    let open = 0;
    let maxOpen = 0;
    const sockets = new Set<Socket>();
    const server = createNetServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => {
        sockets.delete(socket);
        open--;
      });
      socket.on('error', () => undefined);
      if (!hung) {
        socket.once('data', () => {
          socket.end(
            `HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(BEACON_JSON)}\r\nconnection: close\r\n\r\n${BEACON_JSON}`,
          );
        });
        return;
      }
      started++;
      open++;
      maxOpen = Math.max(maxOpen, open);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const events = recorder();
    let startedAtDown = -1;
    const timersBefore = activeTimers();
    // The timeout is long against retryInterval so retries are due well before a probe times out.
    const health = { ...HEALTH, timeout: 400, retryInterval: 50, fall: 3 };
    const engine = new HealthEngine({
      targets: [{ originId: 'hung', url }],
      health,
      expectedRelease: () => RELEASE,
      logger: silent,
      onProbe: events.onProbe,
      onTransition: (t) => {
        if (t.to === 'down') startedAtDown = started;
        events.onTransition(t);
      },
    });
    engine.start();
    try {
      await waitFor('up', () => events.transitions().length === 1);
      hung = true;
      await waitFor('down', () => events.transitions().length === 2);
    } finally {
      await engine.stop();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    assert.equal(activeTimers(), timersBefore, 'stop() leaves no timer behind');
    const down = events.transitions()[1]!;
    assert.deepEqual([down.from, down.to], ['up', 'down']);
    assert.equal(streakBefore(events.events, down, false), health.fall, 'exactly `fall` failures before it');
    const failures = events.probes().filter((p) => !p.ok);
    assert.ok(failures.length >= health.fall);
    for (const result of failures) assert.equal(result.errorKind, 'timeout');
    assert.ok(startedAtDown >= health.fall, `${startedAtDown} probes started before down`);
    assert.ok(maxOpen > 1, `probes overlapped (at most ${maxOpen} in flight at once)`);
  });
});

/** How many probes with `ok` came in a row right before `transition`. */
function streakBefore(
  events: ReturnType<typeof recorder>['events'],
  transition: HealthTransition,
  ok: boolean,
): number {
  const index = events.findIndex((event) => event.type === 'transition' && event.t === transition);
  const probes = events.slice(0, index).flatMap((event) => (event.type === 'probe' ? [event.result.ok] : []));
  const other = probes.lastIndexOf(!ok);
  return probes.length - 1 - other;
}

describe('HealthEngine against an origin that refuses connections', () => {
  test('a refused connection is retried at once, not after retryInterval', async () => {
    // Up first (a server that answers), then nothing listens on its port any more.
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(BEACON_JSON);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    const events = recorder();
    // A minute between retries: only the refused-connection path can reach `fall` within the
    // deadline below.
    const engine = new HealthEngine({
      targets: [{ originId: 'o0', url: `http://127.0.0.1:${port}` }],
      health: { ...HEALTH, interval: 300, retryInterval: 60_000 },
      expectedRelease: () => RELEASE,
      logger: silent,
      ...events,
    });
    engine.start();
    try {
      await waitFor('up', () => events.transitions().length === 1);
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await waitFor('down', () => events.transitions().length === 2, 20_000);
      const refused = events.probes().filter((probe) => !probe.ok);
      assert.deepEqual(
        refused.map((probe) => [probe.error, probe.refused]),
        [
          ['connection refused', true],
          ['connection refused', true],
          ['connection refused', true],
        ],
      );
      assert.equal(events.transitions()[1]!.to, 'down');
    } finally {
      await engine.stop();
    }
  });
});
