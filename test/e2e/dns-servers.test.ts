// Smoke test of the real DNS servers other tests rely on (test/servers/dns.ts): PowerDNS, Knot and
// BIND each serve example.test, take RFC 2136 UPDATEs signed with either TSIG key (driven here by
// Debian's nsupdate, as an operator would), refuse unsigned or badly signed ones, and resetZone
// undoes what a test added. PowerDNS's HTTP API answers with the API key.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, beforeEach, describe, test } from 'node:test';
import {
  type DnsServer,
  type DnsServerKind,
  dnsServersForTests,
  lockZone,
  query,
  resetZone,
  type TsigKeyInfo,
} from '../servers/dns.ts';

/** Runs nsupdate with a here-doc, as a shell user would; resolves with its exit code and output. */
function nsupdate(
  server: DnsServer,
  commands: string[],
  key?: TsigKeyInfo | string,
): Promise<{ code: number; output: string }> {
  const keyArg =
    key === undefined ? '' : typeof key === 'string' ? key : `${key.algorithm}:${key.name}:${key.secret}`;
  const script = [
    `nsupdate -t 5 ${keyArg ? `-y '${keyArg}'` : ''} <<'EOF'`,
    `server ${server.host} ${server.port}`,
    ...commands,
    'send',
    'EOF',
  ].join('\n');
  return new Promise((resolve) => {
    execFile('bash', ['-c', script], { timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

let servers: Record<DnsServerKind, DnsServer>;
const releases: Array<() => Promise<void>> = [];

before(async () => {
  servers = await dnsServersForTests();
  // Other test files may change example.test on the same servers: one file at a time.
  for (const server of Object.values(servers)) releases.push(await lockZone(server));
});

after(async () => {
  for (const release of releases.splice(0)) await release();
});

for (const kind of ['pdns', 'knot', 'bind'] as const) {
  describe(`${kind} DNS server`, () => {
    let server: DnsServer;
    before(() => {
      server = servers[kind];
    });
    beforeEach(async () => {
      await resetZone(server);
    });

    test('serves example.test: SOA, NS, ns1 A; www does not exist', async () => {
      const soa = await query(server, 'example.test', 'SOA');
      assert.equal(soa.rcode, 'NOERROR');
      assert.equal(soa.answers.length, 1);
      assert.equal(soa.answers[0]?.type, 'SOA');
      assert.equal(soa.answers[0]?.name, 'example.test');
      assert.match(
        soa.answers[0]?.data ?? '',
        /^ns1\.example\.test hostmaster\.example\.test \d+ 3600 600 86400 60$/,
      );

      const ns = await query(server, 'example.test.', 'NS');
      assert.deepEqual(ns.answers, [
        { name: 'example.test', type: 'NS', ttl: 3600, data: 'ns1.example.test' },
      ]);
      const a = await query(server, 'ns1.example.test', 'A');
      assert.deepEqual(a.answers, [{ name: 'ns1.example.test', type: 'A', ttl: 3600, data: '127.0.0.1' }]);

      const www = await query(server, 'www.example.test', 'A');
      assert.equal(www.rcode, 'NXDOMAIN');
      assert.deepEqual(www.answers, []);
      const nodata = await query(server, 'ns1.example.test', 'AAAA');
      assert.equal(nodata.rcode, 'NOERROR');
      assert.deepEqual(nodata.answers, []);
    });

    test('serves other.test, refuses names outside its zones', async () => {
      const other = await query(server, 'other.test', 'SOA');
      assert.equal(other.rcode, 'NOERROR');
      assert.equal(other.answers[0]?.type, 'SOA');
      const outside = await query(server, 'www.example.invalid', 'A');
      assert.equal(outside.rcode, 'REFUSED');
    });

    test('a signed UPDATE (hmac-sha256) adds www A, and query() sees it at once', async () => {
      const key = server.tsig.find((k) => k.algorithm === 'hmac-sha256');
      assert.ok(key);
      assert.equal(key.name, 'outlast-key');
      const result = await nsupdate(
        server,
        ['zone example.test', 'update add www.example.test. 60 A 192.0.2.1'],
        `hmac-sha256:outlast-key:${key.secret}`,
      );
      assert.equal(result.code, 0, result.output);
      const www = await query(server, 'www.example.test', 'A');
      assert.equal(www.rcode, 'NOERROR');
      assert.deepEqual(www.answers, [{ name: 'www.example.test', type: 'A', ttl: 60, data: '192.0.2.1' }]);
    });

    test('a signed UPDATE (hmac-sha512, outlast-key512) works too: CNAME and TXT', async () => {
      const key = server.tsig.find((k) => k.algorithm === 'hmac-sha512');
      assert.ok(key);
      assert.equal(key.name, 'outlast-key512');
      const result = await nsupdate(
        server,
        [
          'zone example.test',
          'update add www.example.test. 30 CNAME origin-b.example.net.',
          'update add txt.example.test. 30 TXT "hello" "world"',
        ],
        key,
      );
      assert.equal(result.code, 0, result.output);
      const cname = await query(server, 'www.example.test', 'CNAME');
      assert.deepEqual(cname.answers, [
        { name: 'www.example.test', type: 'CNAME', ttl: 30, data: 'origin-b.example.net' },
      ]);
      const txt = await query(server, 'txt.example.test', 'TXT');
      assert.deepEqual(txt.answers, [{ name: 'txt.example.test', type: 'TXT', ttl: 30, data: 'helloworld' }]);
    });

    test('unsigned, badly signed and wrong-zone UPDATEs are refused', async () => {
      const [key] = server.tsig;
      assert.ok(key);
      const unsigned = await nsupdate(server, [
        'zone example.test',
        'update add www.example.test. 60 A 192.0.2.9',
      ]);
      assert.notEqual(unsigned.code, 0);
      assert.match(unsigned.output, /REFUSED|NOTAUTH/);

      const wrongSecret = Buffer.alloc(32, 7).toString('base64');
      const badSig = await nsupdate(
        server,
        ['zone example.test', 'update add www.example.test. 60 A 192.0.2.9'],
        `hmac-sha256:outlast-key:${wrongSecret}`,
      );
      assert.notEqual(badSig.code, 0);
      assert.match(badSig.output, /REFUSED|NOTAUTH|BADSIG/);

      const otherZone = await nsupdate(
        server,
        ['zone other.test', 'update add www.other.test. 60 A 192.0.2.9'],
        key,
      );
      assert.notEqual(otherZone.code, 0);
      assert.match(otherZone.output, /REFUSED|NOTAUTH|BADKEY/);

      assert.equal((await query(server, 'www.example.test', 'A')).rcode, 'NXDOMAIN');
      assert.equal((await query(server, 'www.other.test', 'A')).rcode, 'NXDOMAIN');
    });

    test('resetZone removes what tests added and restores NS and ns1', async () => {
      const [key] = server.tsig;
      assert.ok(key);
      const added = await nsupdate(
        server,
        [
          'zone example.test',
          'update add www.example.test. 60 A 192.0.2.1',
          'update add deep.sub.example.test. 60 AAAA 2001:db8::1',
          'update add example.test. 60 TXT "apex"',
          'update add example.test. 3600 NS ns2.example.net.',
          'update delete ns1.example.test. A',
          'update add ns1.example.test. 3600 A 127.0.0.9',
        ],
        key,
      );
      assert.equal(added.code, 0, added.output);
      assert.equal((await query(server, 'www.example.test', 'A')).answers.length, 1);
      const serialBefore = Number(
        (await query(server, 'example.test', 'SOA')).answers[0]?.data.split(' ')[2],
      );

      await resetZone(server);

      assert.equal((await query(server, 'www.example.test', 'A')).rcode, 'NXDOMAIN');
      assert.equal((await query(server, 'deep.sub.example.test', 'AAAA')).rcode, 'NXDOMAIN');
      assert.deepEqual((await query(server, 'example.test', 'TXT')).answers, []);
      assert.deepEqual(
        (await query(server, 'example.test', 'NS')).answers.map((a) => a.data),
        ['ns1.example.test'],
      );
      assert.deepEqual(
        (await query(server, 'ns1.example.test', 'A')).answers.map((a) => a.data),
        ['127.0.0.1'],
      );
      const serialAfter = Number((await query(server, 'example.test', 'SOA')).answers[0]?.data.split(' ')[2]);
      assert.ok(serialAfter > serialBefore, `serial ${serialBefore} -> ${serialAfter}`);
      // Nothing left to undo: a second reset changes nothing.
      await resetZone(server);
      const serialAgain = Number((await query(server, 'example.test', 'SOA')).answers[0]?.data.split(' ')[2]);
      assert.equal(serialAgain, serialAfter);
    });
  });
}

describe('PowerDNS HTTP API', () => {
  test('GET /api/v1/servers/localhost/zones/example.test. with X-API-Key', async () => {
    const server = servers.pdns;
    assert.ok(server.apiUrl && server.apiKey);
    assert.equal(server.apiKey, 'outlast-api-key');
    const url = `${server.apiUrl}/api/v1/servers/localhost/zones/example.test.`;
    const response = await fetch(url, { headers: { 'X-API-Key': server.apiKey } });
    assert.equal(response.status, 200);
    const zone = (await response.json()) as {
      name: string;
      kind: string;
      rrsets: { name: string; type: string }[];
    };
    assert.equal(zone.name, 'example.test.');
    assert.equal(zone.kind, 'Native');
    assert.ok(zone.rrsets.some((r) => r.name === 'example.test.' && r.type === 'SOA'));

    const denied = await fetch(url);
    assert.equal(denied.status, 401);
    await denied.arrayBuffer();
  });

  test('resetZone recreates example.test after a test deleted it', async () => {
    const server = servers.pdns;
    assert.ok(server.apiUrl && server.apiKey);
    const url = `${server.apiUrl}/api/v1/servers/localhost/zones/example.test.`;
    const deleted = await fetch(url, { method: 'DELETE', headers: { 'X-API-Key': server.apiKey } });
    assert.equal(deleted.status, 204);
    assert.equal((await query(server, 'example.test', 'SOA')).rcode, 'REFUSED');

    await resetZone(server);

    assert.equal((await query(server, 'example.test', 'SOA')).rcode, 'NOERROR');
    assert.deepEqual(
      (await query(server, 'ns1.example.test', 'A')).answers.map((a) => a.data),
      ['127.0.0.1'],
    );
    const [key] = server.tsig;
    assert.ok(key);
    const update = await nsupdate(
      server,
      ['zone example.test', 'update add www.example.test. 60 A 192.0.2.1'],
      key,
    );
    assert.equal(update.code, 0, update.output);
    assert.equal((await query(server, 'www.example.test', 'A')).answers[0]?.data, '192.0.2.1');
    const unsigned = await nsupdate(server, [
      'zone example.test',
      'update add www.example.test. 60 A 192.0.2.9',
    ]);
    assert.notEqual(unsigned.code, 0);
    // The recreated zone can be transferred with the key (TSIG-ALLOW-AXFR), as before.
    const axfr = await new Promise<string>((resolve, reject) => {
      execFile(
        'dig',
        [
          '-p',
          String(server.port),
          `@${server.host}`,
          '-y',
          `${key.algorithm}:${key.name}:${key.secret}`,
          'example.test',
          'AXFR',
          '+noall',
          '+answer',
        ],
        { timeout: 20_000 },
        (error, stdout) => (error ? reject(error) : resolve(stdout)),
      );
    });
    assert.match(axfr, /^www\.example\.test\.\s+60\s+IN\s+A\s+192\.0\.2\.1$/m);
    await resetZone(server);
  });
});
