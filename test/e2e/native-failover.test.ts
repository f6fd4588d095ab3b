/**
 * Native failover on a real PowerDNS (4.7, LUA records on, checks every second: test/servers/dns.ts),
 * as a user runs it, with no watcher at all: `outlast deploy` provisions the LUA record as its last
 * step, a second `outlast dns plan` is empty, the real answer is origin a, moves to b when a dies
 * and back when it returns; a release deployed to b only makes PowerDNS answer b, never the stale a;
 * a record at the name that outlast did not write is replaced only with --force; `outlast dns
 * destroy` removes exactly the LUA record; a config PowerDNS cannot express is exit 2. One test
 * starts `outlast watch` beside it: the watcher writes nothing and shows PowerDNS's answer as the
 * host's view in GET /status (o0 up, then down with o1 up while o0 is dead).
 *
 * The file works in a zone of its own (the shared server's example.test is reset by other files).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import type { Logger } from '../../src/util/log.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/ports.ts';
import { setupFsDeploy } from '../helpers/site.ts';
import { dnsServersForTests, query, startDnsServer } from '../servers/dns.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const { pdns } = await dnsServersForTests();
const API = pdns.apiUrl!;
const API_KEY = pdns.apiKey!;
const ZONE = `native-${process.pid}.test`;
const NAME = `www.${ZONE}`;
const ZONE_URL = `${API}/api/v1/servers/localhost/zones/${ZONE}.`;
const ADDRESS = { o0: '192.0.2.10', o1: '192.0.2.11' } as const;

async function api(method: string, url: string, body?: unknown): Promise<Response> {
  return fetch(url, {
    method,
    headers: { 'X-API-Key': API_KEY, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
}

/** The rrsets at NAME, as the API holds them. */
async function rrsets(): Promise<Array<{ type: string; records: Array<{ content: string }> }>> {
  const response = await api('GET', `${ZONE_URL}?rrsets=true&rrset_name=${NAME}.`);
  const zone = (await response.json()) as { rrsets: Array<{ name: string; type: string; records: [] }> };
  return zone.rrsets.filter((rrset) => rrset.name === `${NAME}.`);
}

/** What PowerDNS answers for NAME A right now. */
async function answer(): Promise<string[]> {
  const { answers } = await query(pdns, NAME, 'A');
  return answers.filter((item) => item.type === 'A').map((item) => item.data);
}

/** A logger for `startServer` that calls `onBeacon` for every request of the beacon it serves. */
function beaconCounter(onBeacon: () => void): Logger {
  const quiet = () => {};
  const logger: Logger = {
    level: 'debug',
    trace: quiet,
    info: quiet,
    warn: quiet,
    error: quiet,
    fatal: quiet,
    debug: (fields: unknown) => {
      const path = (fields as { path?: unknown } | undefined)?.path;
      if (typeof path === 'string' && path.endsWith('/.well-known/outlast/release.json')) onBeacon();
    },
    isLevelEnabled: () => true,
    child: () => logger,
  };
  return logger;
}

function run(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += chunk;
    });
    child.stderr.on('data', (chunk) => {
      output += chunk;
    });
    child.on('exit', (code) => resolve({ code, output }));
  });
}

describe('native failover on PowerDNS (LUA records), no watcher deciding', { timeout: 240_000 }, () => {
  const setup = setupFsDeploy({ origins: 2, files: { 'index.html': '<h1>one</h1>', '404.html': 'nope' } });
  const servers: Partial<Record<'o0' | 'o1', RunningServer>> = {};
  const ports: Partial<Record<'o0' | 'o1', number>> = {};
  const hosts = { o0: '127.0.0.2', o1: '127.0.0.3' } as const;
  let configFile = '';

  /** Requests each origin's beacon got: PowerDNS's checks are the only HTTP client here. */
  const probes = { o0: 0, o1: 0 };
  const serve = async (id: 'o0' | 'o1') => {
    servers[id] = await startServer({
      logger: beaconCounter(() => {
        probes[id]++;
      }),
      dir: setup.origins[id === 'o0' ? 0 : 1]!,
      host: hosts[id],
      port: ports[id]!,
    });
  };
  const writeConfig = (file: string, dns: Record<string, unknown>) => {
    writeFileSync(
      file,
      stringify({
        site: { dir: setup.siteDir, hostname: NAME, errorDocument: '404.html' },
        origins: (['o0', 'o1'] as const).map((id, index) => ({
          id,
          storage: { type: 'fs', path: setup.origins[index] },
          url: `http://${hosts[id]}:${ports[id]}`,
          dns: dns[id] ?? { a: [ADDRESS[id]] },
        })),
        dns: {
          name: NAME,
          ttl: 5,
          providers: [{ type: 'powerdns', url: API, zone: ZONE, apiKey: API_KEY, failover: 'native' }],
        },
      }),
    );
  };

  before(async () => {
    const created = await api('POST', `${API}/api/v1/servers/localhost/zones`, {
      name: `${ZONE}.`,
      kind: 'Native',
      nameservers: [`ns1.${ZONE}.`],
    });
    assert.equal(created.status, 201, await created.text());
    for (const id of ['o0', 'o1'] as const) {
      ports[id] = await freePort(hosts[id]);
      await serve(id);
    }
    configFile = join(setup.root, 'native.yaml');
    writeConfig(configFile, {});
  });

  after(async () => {
    await Promise.all(Object.values(servers).map((server) => server?.close()));
    await api('DELETE', ZONE_URL);
  });

  it('deploy provisions the LUA record as its last step, and a second plan is empty', async () => {
    const deployed = await run(['deploy', '--config', configFile], setup.root);
    assert.equal(deployed.code, 0, deployed.output);
    assert.match(deployed.output, /dns: powerdns .* now checks for release r[0-9a-f]{20}/);
    const lua = (await rrsets()).find((rrset) => rrset.type === 'LUA');
    assert.ok(lua, 'a LUA rrset is at the name');
    assert.match(lua.records[0]!.content, /^A ";--\[\[outlast native failover v1\]\]/);

    const again = await run(['dns', 'plan', '--config', configFile, '--json'], setup.root);
    assert.equal(again.code, 0, again.output);
    const plan = JSON.parse(again.output) as { hosts: Array<{ changes: unknown[]; notes: string[] }> };
    assert.deepEqual(plan.hosts[0]!.changes, [], 'nothing left to change');
    assert.ok(plan.hosts[0]!.notes.some((note) => /lua-health-checks-interval/.test(note)));

    const checked = await run(['check', '--config', configFile], setup.root);
    assert.match(checked.output, /native failover in sync with the config/, checked.output);
  });

  it('answers o0, moves to o1 when o0 dies and back when it returns', async () => {
    await eventually('PowerDNS answers o0', async () => (await answer()).join() === ADDRESS.o0, 30_000);
    await servers.o0!.close();
    await eventually('PowerDNS answers o1', async () => (await answer()).join() === ADDRESS.o1, 30_000);
    await serve('o0');
    await eventually('PowerDNS answers o0 again', async () => (await answer()).join() === ADDRESS.o0, 30_000);
  });

  it("outlast watch shows PowerDNS's answer as the host's view, and writes nothing", async () => {
    const file = join(setup.root, 'watch.yaml');
    const config = parse(readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    config.health = { interval: '500ms', retryInterval: '200ms', timeout: '2s', fall: 2, rise: 1 };
    config.watch = { listen: '127.0.0.1:0', stateDir: join(setup.root, 'watch-state') };
    writeFileSync(file, stringify(config));
    const held = JSON.stringify(await rrsets());
    const child = spawn(process.execPath, [BIN, 'watch', '--config', file], {
      cwd: setup.root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk;
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    type View = {
      provider: string;
      error?: string;
      origins: Record<string, { host: string; detail?: string }>;
    };
    let base = '';
    const view = async (): Promise<View | undefined> => {
      const status = (await (await fetch(`${base}/status`)).json()) as { native?: View[] };
      return status.native?.[0];
    };
    const hostSays = async (id: 'o0' | 'o1') => (await view())?.origins[id]?.host;
    try {
      await eventually('the watcher says where its status is', async () =>
        /status: http:\S+\/status/.test(output),
      );
      base = /status: (http:\S+)\/status/.exec(output)![1]!;
      await eventually('the view says o0 is up', async () => (await hostSays('o0')) === 'up', 30_000);
      assert.match((await view())!.provider, /^powerdns native-/);
      await servers.o0!.close();
      await eventually(
        'the view says o0 is down and o1 up',
        async () => (await hostSays('o0')) === 'down' && (await hostSays('o1')) === 'up',
        30_000,
      );
      assert.match((await view())!.origins.o0!.detail!, /PowerDNS answers o1/);
      await serve('o0');
      await eventually('the view says o0 is up again', async () => (await hostSays('o0')) === 'up', 30_000);
      assert.equal((await view())!.error, undefined);
      assert.equal(JSON.stringify(await rrsets()), held, 'the watcher wrote nothing to PowerDNS');
    } finally {
      child.kill('SIGINT');
      const code = await exited;
      assert.equal(code, 0, output);
    }
  });

  it('a release deployed to o1 only is answered before the stale o0', async () => {
    writeFileSync(join(setup.siteDir, 'index.html'), '<h1>two</h1>');
    const deployed = await run(['deploy', '--config', configFile, '--origin', 'o1'], setup.root);
    assert.equal(deployed.code, 0, deployed.output);
    assert.match(deployed.output, /now checks for release/);
    await eventually(
      'PowerDNS answers o1, on the new release',
      async () => (await answer()).join() === ADDRESS.o1,
      30_000,
    );
    // Across the next check cycles (each one fetches o0's beacon), o0, first in order but behind,
    // never wins: one answer after each new check of o0.
    for (let cycle = 0; cycle < 6; cycle++) {
      const seen = probes.o0;
      await eventually('PowerDNS checks o0 again', async () => probes.o0 > seen, 30_000);
      assert.deepEqual(
        await answer(),
        [ADDRESS.o1],
        `after check ${cycle + 1}: the stale o0 is not answered`,
      );
    }
    // With o1 down, o0 (on the older release) is better than nothing.
    await servers.o1!.close();
    await eventually('PowerDNS falls back to o0', async () => (await answer()).join() === ADDRESS.o0, 30_000);
    await serve('o1');
    await eventually('o1 is answered again', async () => (await answer()).join() === ADDRESS.o1, 30_000);
  });

  it('a record outlast did not write is replaced only with --force', async () => {
    const patched = await api('PATCH', ZONE_URL, {
      rrsets: [
        {
          name: `${NAME}.`,
          type: 'LUA',
          ttl: 5,
          changetype: 'REPLACE',
          records: [{ content: `A "return {'198.51.100.7'}"`, disabled: false }],
        },
      ],
    });
    assert.equal(patched.status, 204);
    const refused = await run(['dns', 'apply', '--config', configFile], setup.root);
    assert.equal(refused.code, 3, refused.output);
    assert.match(refused.output, /NOT OURS LUA records/);
    assert.match((await rrsets())[0]!.records[0]!.content, /198\.51\.100\.7/, 'left as it was');
    const checked = await run(['check', '--config', configFile], setup.root);
    assert.notEqual(checked.code, 0);
    assert.match(checked.output, /not outlast's: LUA records at www\./, checked.output);

    const destroyed = await run(['dns', 'destroy', '--config', configFile], setup.root);
    assert.equal(destroyed.code, 0, destroyed.output);
    assert.match(destroyed.output, /not written by outlast: left as they are/);
    assert.match(
      (await rrsets())[0]!.records[0]!.content,
      /198\.51\.100\.7/,
      'destroy leaves what is not ours',
    );

    const forced = await run(['dns', 'apply', '--config', configFile, '--force'], setup.root);
    assert.equal(forced.code, 0, forced.output);
    assert.match((await rrsets())[0]!.records[0]!.content, /outlast native failover v1/);
  });

  it('destroy removes exactly the LUA record outlast wrote', async () => {
    const other = await api('PATCH', ZONE_URL, {
      rrsets: [
        {
          name: `mail.${ZONE}.`,
          type: 'A',
          ttl: 60,
          changetype: 'REPLACE',
          records: [{ content: '198.51.100.25', disabled: false }],
        },
      ],
    });
    assert.equal(other.status, 204);
    const destroyed = await run(['dns', 'destroy', '--config', configFile], setup.root);
    assert.equal(destroyed.code, 0, destroyed.output);
    assert.deepEqual(await rrsets(), [], 'nothing left at the name');
    const mail = await query(pdns, `mail.${ZONE}`, 'A');
    assert.deepEqual(
      mail.answers.map((item) => item.data),
      ['198.51.100.25'],
    );
    const again = await run(['dns', 'destroy', '--config', configFile, '--json'], setup.root);
    assert.deepEqual(
      (JSON.parse(again.output) as { hosts: Array<{ changes: unknown[] }> }).hosts[0]!.changes,
      [],
    );
  });

  it('origins mixing addresses and a cname are a clear error, exit 2, nothing written', async () => {
    const mixed = join(setup.root, 'mixed.yaml');
    writeConfig(mixed, { o1: { cname: 'o1.example.net' } });
    const result = await run(['dns', 'apply', '--config', mixed], setup.root);
    assert.equal(result.code, 2, result.output);
    assert.match(result.output, /every origin's dns to be addresses or every one a cname/);
    assert.deepEqual(await rrsets(), []);
  });

  it('a PowerDNS that does not serve LUA records is a clear error, exit 2, nothing written', async () => {
    const plain = await startDnsServer('pdns', { pdnsOptions: ['--enable-lua-records=no'] });
    try {
      const name = `www.${plain.zone}`;
      const zoneUrl = `${plain.apiUrl}/api/v1/servers/localhost/zones/${plain.zone}.`;
      const held = async () => {
        const response = await fetch(`${zoneUrl}?rrsets=true&rrset_name=${name}.`, {
          headers: { 'X-API-Key': plain.apiKey! },
        });
        return JSON.stringify(((await response.json()) as { rrsets: unknown[] }).rrsets);
      };
      const before = await held();
      const file = join(setup.root, 'no-lua.yaml');
      writeConfig(file, {});
      writeFileSync(
        file,
        readFileSync(file, 'utf8')
          .replaceAll(NAME, name)
          .replace(API, plain.apiUrl!)
          .replace(`zone: ${ZONE}`, `zone: ${plain.zone}`),
      );
      const result = await run(['dns', 'apply', '--config', file], setup.root);
      assert.equal(result.code, 2, result.output);
      assert.match(result.output, /does not serve LUA records \(enable-lua-records=no\)/);
      assert.match(result.output, /enable-lua-records=yes in pdns\.conf/);
      assert.equal(await held(), before, 'nothing written');
    } finally {
      await plain.stop();
    }
  });
});
