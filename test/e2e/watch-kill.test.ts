/**
 * Issue 14, item 5: the watcher killed. `outlast watch` is SIGKILLed KILLS times at moments drawn
 * from a seeded PRNG while both origins flap (each behind a proxy the test cuts and mends), with
 * real PowerDNS (API, through a recording proxy that keeps every PATCH) and Knot (RFC 2136). After
 * each kill the state file and the event log must read back; now and then the test tears the log's
 * last line as a crash in the middle of an append would, and the next watcher must say so. Every
 * PATCH that reached PowerDNS is replayed against a model of its records: a write that changed
 * nothing is a needless write. Now and then, before a kill, the watcher's decision must be what
 * both servers answer.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { CutProxy } from '../helpers/cut-proxy.ts';
import { eventually } from '../helpers/eventually.ts';
import { prng } from '../helpers/fault-proxy.ts';
import { setupFsDeploy } from '../helpers/site.ts';
import { type DnsServer, dnsServersForTests, lockZone, query, resetZone } from '../servers/dns.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const KILLS = 50;
const SEED = Number(process.env.OUTLAST_TEST_SEED ?? Date.now() % 1_000_000);
const NAME = 'www.example.test';
const ADDRESS: Record<string, string> = { a: '192.0.2.10', b: '192.0.2.20' };

/** Forwards to PowerDNS's API; keeps every PATCH body and its answer, and counts requests in flight. */
class RecordingProxy {
  port = 0;
  inflight = 0;
  readonly patches: { body: string; status: number }[] = [];
  private server: Server | undefined;

  constructor(private readonly target: { host: string; port: number }) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      this.inflight++;
      let done = false;
      const finish = () => {
        if (!done) this.inflight--;
        done = true;
      };
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('error', finish);
      // A client killed before its request was whole: nothing is forwarded.
      req.on('close', () => {
        if (!req.complete) finish();
      });
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const upstream = request(
          { ...this.target, method: req.method, path: req.url, headers: req.headers },
          (answer) => {
            const parts: Buffer[] = [];
            answer.on('data', (chunk: Buffer) => parts.push(chunk));
            answer.on('end', () => {
              if (req.method === 'PATCH')
                this.patches.push({ body: body.toString(), status: answer.statusCode! });
              finish();
              res.writeHead(answer.statusCode!, answer.headers);
              res.end(Buffer.concat(parts));
            });
          },
        );
        upstream.on('error', () => {
          finish();
          res.destroy();
        });
        upstream.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

async function answers(server: DnsServer): Promise<string> {
  const result = await query(server, NAME, 'A');
  return result.answers
    .filter((answer) => answer.type === 'A')
    .map((answer) => answer.data)
    .sort()
    .join();
}

interface Run {
  child: ChildProcess;
  output: string;
  exited: Promise<number | null>;
}

function spawnWatcher(configFile: string): Run {
  const env: Record<string, string | undefined> = { ...process.env, OUTLAST_LOG_LEVEL: 'warn' };
  const child = spawn(process.execPath, [BIN, 'watch', '--config', configFile], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  const run: Run = {
    child,
    output: '',
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
  };
  child.stdout!.on('data', (chunk) => {
    run.output += chunk;
  });
  child.stderr!.on('data', (chunk) => {
    run.output += chunk;
  });
  return run;
}

let pdns: DnsServer;
let knot: DnsServer;
const unlocks: (() => Promise<void>)[] = [];

before(async () => {
  ({ pdns, knot } = await dnsServersForTests());
  unlocks.push(await lockZone(pdns), await lockZone(knot));
  await Promise.all([resetZone(pdns), resetZone(knot)]);
});

after(async () => {
  await Promise.all([pdns && resetZone(pdns), knot && resetZone(knot)].filter(Boolean));
  for (const unlock of unlocks.reverse()) await unlock();
});

test(`outlast watch SIGKILLed ${KILLS} times while origins flap`, { timeout: 600_000 }, async () => {
  console.log(`seed ${SEED} (OUTLAST_TEST_SEED=${SEED} replays the kill and flap schedule)`);
  const random = prng(SEED);
  const between = (low: number, high: number) => Math.round(low + random() * (high - low));
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>hello</h1>', '404.html': 'nope' } });
  const servers: RunningServer[] = [];
  const cuts: CutProxy[] = [];
  const api = new RecordingProxy({ host: '127.0.0.1', port: Number(new URL(pdns.apiUrl!).port) });
  await api.start();
  let run: Run | undefined;
  let flapping: NodeJS.Timeout | undefined;
  try {
    const deployed = await runDeploy({ config: setup.config });
    assert.ok(deployed.origins.every((origin) => !origin.error));
    for (const [index, host] of ['127.0.0.2', '127.0.0.3'].entries()) {
      const server = await startServer({ dir: setup.origins[index]!, host, port: 0 });
      servers.push(server);
      const url = new URL(server.url);
      const cut = new CutProxy({ host, port: Number(url.port) });
      await cut.start();
      cuts.push(cut);
    }
    const stateDir = join(setup.root, 'state');
    const configFile = join(setup.root, 'outlast.yaml');
    const tsig = knot.tsig[0]!;
    writeFileSync(
      configFile,
      stringify({
        site: { dir: setup.siteDir, hostname: NAME },
        origins: ['a', 'b'].map((id, index) => ({
          id,
          storage: { type: 'fs', path: setup.origins[index] },
          url: `http://127.0.0.1:${cuts[index]!.port}/`,
          dns: { a: [ADDRESS[id]] },
        })),
        health: { interval: '200ms', retryInterval: '100ms', timeout: '1s', fall: 1, rise: 1 },
        failover: { policy: 'priority', failback: 'auto', holdDown: '1s' },
        dns: {
          name: NAME,
          ttl: 5,
          providers: [
            { type: 'powerdns', url: `http://127.0.0.1:${api.port}`, zone: pdns.zone, apiKey: pdns.apiKey },
            {
              type: 'rfc2136',
              server: `${knot.host}:${knot.port}`,
              zone: knot.zone,
              tsig: { name: tsig.name, algorithm: tsig.algorithm, secret: tsig.secret },
            },
          ],
        },
        watch: { listen: '127.0.0.1:0', stateDir },
      }),
    );

    // Origins flap: every 300–1500 ms one of them is cut or mended.
    const flap = () => {
      const cut = cuts[Math.floor(random() * cuts.length)]!;
      cut.cut = !cut.cut;
      flapping = setTimeout(flap, between(300, 1500));
    };
    flap();

    /** The watcher's decision is what both servers answer, with nothing pending (polled, flaps aside). */
    const consistent = async (base: string) => {
      await eventually(
        'the decision matches the records at PowerDNS and Knot',
        async () => {
          const status = (await (await fetch(`${base}/status`)).json()) as {
            active: string[];
            providers: { pending: boolean }[];
          };
          if (status.active.length !== 1 || status.providers.some((provider) => provider.pending))
            return false;
          const want = ADDRESS[status.active[0]!]!;
          if ((await answers(pdns)) !== want || (await answers(knot)) !== want) return false;
          const again = (await (await fetch(`${base}/status`)).json()) as { active: string[] };
          return again.active.join() === status.active.join();
        },
        60_000,
      );
    };
    const statusBase = async (current: Run) => {
      await eventually('the watcher says where its status is', async () =>
        /status: http:\S+\/status/.test(current.output),
      );
      return /status: (http:\S+)\/status/.exec(current.output)![1]!;
    };

    let tearsMade = 0;
    let tearsReported = 0;
    let tornFound = 0;
    let consistencyChecks = 0;
    let tearPending = false;
    const started = Date.now();
    for (let kill = 1; kill <= KILLS; kill++) {
      run = spawnWatcher(configFile);
      const current = run;
      if (tearPending) {
        await eventually(
          'the watcher reports the torn event log line',
          async () => /state-repaired.*torn/.test(current.output),
          60_000,
        );
        tearsReported++;
        tearPending = false;
      }
      if (random() < 0.2) {
        await consistent(await statusBase(current));
        consistencyChecks++;
      }
      const delay = between(100, 2500);
      await new Promise((resolve) => setTimeout(resolve, delay));
      const alreadyExited = current.child.exitCode !== null;
      assert.ok(!alreadyExited, `the watcher ran until the kill:\n${current.output}`);
      current.child.kill('SIGKILL');
      await current.exited;
      // A write the dead watcher had sent may still be on its way to PowerDNS.
      await eventually('no API request in flight', async () => api.inflight === 0);

      // The state and the event log read back.
      if (existsSync(join(stateDir, 'state.json'))) {
        const state = JSON.parse(readFileSync(join(stateDir, 'state.json'), 'utf8')) as { version: number };
        assert.equal(state.version, 1);
      }
      const eventsFile = join(stateDir, 'events.jsonl');
      if (existsSync(eventsFile)) {
        const text = readFileSync(eventsFile, 'utf8');
        const lines = text.split('\n');
        const last = lines.pop()!;
        for (const line of lines) JSON.parse(line);
        if (last !== '') {
          tornFound++;
          tearPending = true;
        } else if (lines.length > 0 && random() < 0.25) {
          // A crash in the middle of an append: the last line loses its end.
          const cutAt = text.length - 1 - Math.ceil(lines.at(-1)!.length / 2);
          truncateSync(eventsFile, Buffer.byteLength(text.slice(0, cutAt)));
          tearsMade++;
          tearPending = true;
        }
      }
    }
    const killsMs = Date.now() - started;

    // Origins steady, a last watcher: it settles on a, as both servers answer, and stops cleanly.
    clearTimeout(flapping);
    for (const cut of cuts) cut.cut = false;
    run = spawnWatcher(configFile);
    const last = run;
    if (tearPending) {
      await eventually('the last watcher reports the torn line', async () =>
        /state-repaired.*torn/.test(last.output),
      );
      tearsReported++;
    }
    const base = await statusBase(last);
    await eventually('the last watcher is back on a', async () => {
      const status = (await (await fetch(`${base}/status`)).json()) as { active: string[] };
      return status.active.join() === 'a';
    });
    await consistent(base);
    last.child.kill('SIGTERM');
    assert.equal(await last.exited, 0, last.output);
    run = undefined;

    // Every write reached PowerDNS changed its records.
    let held = '';
    let needless = 0;
    let applied = 0;
    for (const patch of api.patches) {
      if (patch.status < 200 || patch.status >= 300) continue;
      applied++;
      const rrsets = (
        JSON.parse(patch.body) as {
          rrsets: { name: string; type: string; records?: { content: string }[] }[];
        }
      ).rrsets;
      const set = rrsets.find((rrset) => rrset.name === `${NAME}.` && rrset.type === 'A');
      const next = (set?.records ?? [])
        .map((record) => record.content)
        .sort()
        .join();
      if (next === held) needless++;
      held = next;
    }
    assert.equal(held, ADDRESS.a, 'the last PATCH is what PowerDNS answers');
    assert.equal(await answers(pdns), held);
    console.log(
      `figures: ${KILLS} kills in ${killsMs} ms; torn lines made ${tearsMade}, found after a kill ${tornFound}, ` +
        `reported ${tearsReported}; decision = records checked ${consistencyChecks + 1} times; ` +
        `PATCHes applied ${applied}, needless ${needless}`,
    );
    assert.equal(tearsReported, tearsMade + tornFound, 'every torn line reported');
    assert.ok(applied > 1, 'the flapping moved DNS');
    assert.equal(needless, 0, 'no write of records PowerDNS already had');
  } finally {
    clearTimeout(flapping);
    if (run && run.child.exitCode === null) {
      run.child.kill('SIGKILL');
      await run.exited;
    }
    for (const cut of cuts) await cut.stop?.();
    await api.stop();
    for (const server of servers) await server.close().catch(() => undefined);
    setup.cleanup();
  }
});
