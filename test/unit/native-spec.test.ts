// The native-failover core, pure: the spec from a config and the origins' beacons, and the LUA
// records PowerDNS gets from it (src/dns/native/spec.ts, src/dns/providers/powerdns-native.ts).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { currentRelease, nativeSpec } from '../../src/dns/native/spec.ts';
import { LUA_MARKER, luaRecords } from '../../src/dns/providers/powerdns-native.ts';
import { isOutlastError } from '../../src/errors.ts';
import type { Beacon } from '../../src/release/types.ts';

const R1 = `r${'1'.repeat(20)}`;
const R2 = `r${'2'.repeat(20)}`;

function config(origins: Array<Record<string, unknown>>, extra: Record<string, unknown> = {}) {
  const doc = {
    site: { dir: '.', hostname: 'www.example.test' },
    origins: origins.map((origin) => ({ storage: { type: 'memory' }, ...origin })),
    dns: {
      name: 'WWW.Example.Test.',
      ttl: 30,
      providers: [
        {
          type: 'powerdns',
          url: 'http://127.0.0.1:8081',
          zone: 'example.test',
          apiKey: 'k',
          failover: 'native',
        },
      ],
    },
    ...extra,
  };
  return parseConfig(stringify(doc), '/tmp/outlast.yaml').config;
}

const beacon = (release: string, deployedAt: string): Beacon => ({
  release,
  manifestSha256: '0'.repeat(64),
  deployedAt,
  files: 1,
  bytes: 1,
  releases: [release],
  pendingCleanup: [],
  writer: 'test',
});

const two = [
  { id: 'a', url: 'https://a.example.net/v1/AUTH_x/web/', dns: { a: ['192.0.2.1'], aaaa: ['2001:db8::1'] } },
  { id: 'b', url: "http://b.example.net/it's", dns: { a: ['192.0.2.2', '192.0.2.3'] } },
];

describe('native failover spec', () => {
  it('the current release is the one deployed last; none without a readable beacon', () => {
    assert.equal(
      currentRelease([
        beacon(R1, '2026-01-01T00:00:00.000Z'),
        undefined,
        beacon(R2, '2026-02-01T00:00:00.000Z'),
      ]),
      R2,
    );
    assert.equal(currentRelease([undefined, undefined]), undefined);
  });

  it('takes failover.order, the beacon URL of each origin and the release matches', () => {
    const spec = nativeSpec(config(two, { failover: { order: ['b', 'a'] } }), R1);
    assert.equal(spec.name, 'www.example.test');
    assert.deepEqual(
      spec.origins.map((origin) => [origin.id, origin.checkUrl]),
      [
        ['b', "http://b.example.net/it's/.well-known/outlast/release.json"],
        ['a', 'https://a.example.net/v1/AUTH_x/web/.well-known/outlast/release.json'],
      ],
    );
    assert.equal(spec.currentMatch, `"release":"${R1}"`);
    assert.equal(spec.anyMatch, '"release":"r');
    assert.equal(nativeSpec(config(two), undefined).currentMatch, undefined);
  });
});

describe('PowerDNS LUA records', () => {
  it('one A and one AAAA record, marked, in two release tiers, with no double quote inside the code', () => {
    const records = luaRecords(nativeSpec(config(two), R1));
    assert.deepEqual(
      records.map((record) => record.type),
      ['A', 'AAAA'],
    );
    for (const { type, content } of records) {
      assert.ok(content.startsWith(`${type} ";${LUA_MARKER} `), content);
      const code = content.slice(type.length + 2, -1);
      assert.ok(
        !code.includes('"') && !code.includes('\\'),
        'the code needs no escaping in the quoted content',
      );
      assert.match(code, new RegExp(`up\\('${R1}'\\.\\.q\\) or up\\('r'\\) or \\{'0\\.0\\.0\\.1'\\}`));
    }
    assert.match(
      records[0]!.content,
      /\['0\.0\.0\.2'\]=\{'192\.0\.2\.2','192\.0\.2\.3'\}/,
      'every address of b',
    );
    assert.doesNotMatch(records[1]!.content, /0\.0\.0\.2/, 'b has no AAAA: not in the AAAA record');
  });

  it('all-healthy: one group, every origin that is up; no release known: one tier', () => {
    const [a] = luaRecords(nativeSpec(config(two, { failover: { policy: 'all-healthy' } }), undefined));
    assert.match(
      a!.content,
      /local G=\{\{\['0\.0\.0\.1'\]=[^}]*,\['0\.0\.0\.2'\]=[^}]*\},\{\['0\.0\.0\.0'\]/,
    );
    assert.match(a!.content, /selector='all'/);
    assert.match(a!.content, /local r=up\('r'\) or/);
  });

  it('CNAME origins get one LUA CNAME; a mix of cname and addresses is invalid_config', () => {
    const cnames = [
      { id: 'a', url: 'http://a.example.net', dns: { cname: 'a.example.net' } },
      { id: 'b', url: 'http://b.example.net', dns: { cname: 'B.Example.Net.' } },
    ];
    const records = luaRecords(nativeSpec(config(cnames), R1));
    assert.deepEqual(
      records.map((record) => record.type),
      ['CNAME'],
    );
    assert.match(records[0]!.content, /\['0\.0\.0\.2'\]='b\.example\.net\.'/);
    assert.match(records[0]!.content, /return O\[r\[1\]\]/);
    assert.throws(
      () => luaRecords(nativeSpec(config([cnames[0]!, two[1]!]), R1)),
      (error: unknown) =>
        isOutlastError(error, 'invalid_config') && /addresses or every one a cname/.test(error.message),
    );
  });
});
