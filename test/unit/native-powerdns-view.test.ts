/**
 * PowerDNS's view for the watcher (src/dns/providers/powerdns-native-view.ts): the origins read
 * back from the answer PowerDNS gives, and where its DNS port is. The real server's answer is
 * tested in test/e2e/native-failover.test.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ANY_RELEASE_MATCH, releaseMatch } from '../../src/dns/native/spec.ts';
import type { NativeSpec } from '../../src/dns/native/types.ts';
import { dnsAddressOf, viewOfAnswer, viewType } from '../../src/dns/providers/powerdns-native-view.ts';

const R1 = 'r11111111111111111111';

function spec(targets: NativeSpec['origins'][number]['target'][], policy: NativeSpec['policy'] = 'priority') {
  const value: NativeSpec = {
    name: 'www.example.test',
    ttl: 60,
    policy,
    failback: 'auto',
    origins: targets.map((target, index) => ({
      id: `o${index}`,
      checkUrl: `http://127.0.0.${index + 2}/.well-known/outlast/release.json`,
      target,
    })),
    currentRelease: R1,
    currentMatch: releaseMatch(R1),
    anyMatch: ANY_RELEASE_MATCH,
    health: { intervalMs: 1000, timeoutMs: 2000, fall: 3, rise: 2, expectStatus: [200] },
  };
  return value;
}

const three = spec([{ a: ['192.0.2.10'] }, { a: ['192.0.2.11', '192.0.2.12'] }, { a: ['192.0.2.13'] }]);
const up = (origins: Record<string, { up: boolean }>) =>
  Object.fromEntries(Object.entries(origins).map(([id, verdict]) => [id, verdict.up]));

describe('viewOfAnswer', () => {
  it('priority: the answered origin is up, those before it down, those after it unsaid', () => {
    assert.deepEqual(up(viewOfAnswer(three, 'A', ['192.0.2.12', '192.0.2.11'])), { o0: false, o1: true });
    const origins = viewOfAnswer(three, 'A', ['192.0.2.13']);
    assert.deepEqual(up(origins), { o0: false, o1: false, o2: true });
    assert.match(origins.o0!.detail!, /PowerDNS answers o2/);
  });

  it('the first origin alone says PowerDNS answers it when every check fails too', () => {
    const origins = viewOfAnswer(three, 'A', ['192.0.2.10']);
    assert.deepEqual(up(origins), { o0: true });
    assert.match(origins.o0!.detail!, /when every check fails/);
  });

  it('all-healthy: every origin not answered is down', () => {
    const all = spec(
      three.origins.map((origin) => origin.target),
      'all-healthy',
    );
    assert.deepEqual(up(viewOfAnswer(all, 'A', ['192.0.2.10', '192.0.2.13'])), {
      o0: true,
      o1: false,
      o2: true,
    });
    assert.equal(viewOfAnswer(all, 'A', ['192.0.2.10', '192.0.2.13']).o0!.detail, 'answered');
  });

  it('CNAME origins compare without case or the trailing dot', () => {
    const cnames = spec([{ cname: 'a.origin.example' }, { cname: 'B.Origin.Example.' }]);
    assert.equal(viewType(cnames), 'CNAME');
    assert.deepEqual(up(viewOfAnswer(cnames, 'CNAME', ['b.origin.example.'])), { o0: false, o1: true });
  });

  it('an answer that is no origin target is an error naming what was answered', () => {
    assert.throws(
      () => viewOfAnswer(three, 'A', ['198.51.100.7']),
      (error: Error) =>
        /answers www\.example\.test A with 198\.51\.100\.7, which is no origin/.test(error.message),
    );
    assert.throws(() => viewOfAnswer(three, 'A', []), /with nothing/);
  });

  it('asks AAAA only when no origin has an IPv4 address', () => {
    assert.equal(viewType(three), 'A');
    assert.equal(viewType(spec([{ aaaa: ['2001:db8::1'] }, { aaaa: ['2001:db8::2'] }])), 'AAAA');
  });
});

describe('dnsAddressOf', () => {
  const settings = (entries: Record<string, string>) => new Map(Object.entries(entries));
  const api = 'http://127.0.0.9:8081';

  it('takes the configured address first', () => {
    assert.deepEqual(dnsAddressOf('[::1]:5300', settings({ 'local-address': '127.0.0.5' }), api), {
      host: '::1',
      port: 5300,
    });
  });

  it("else the server's local-address and local-port", () => {
    assert.deepEqual(
      dnsAddressOf(undefined, settings({ 'local-address': '127.0.0.5, ::1', 'local-port': '5353' }), api),
      { host: '127.0.0.5', port: 5353 },
    );
    assert.deepEqual(dnsAddressOf(undefined, settings({ 'local-address': '127.0.0.6:54' }), api), {
      host: '127.0.0.6',
      port: 54,
    });
  });

  it("a wildcard address (or none) is the API URL's host, on port 53 by default", () => {
    assert.deepEqual(dnsAddressOf(undefined, settings({ 'local-address': '0.0.0.0, ::' }), api), {
      host: '127.0.0.9',
      port: 53,
    });
    assert.deepEqual(dnsAddressOf(undefined, settings({}), 'http://[::1]:8081'), { host: '::1', port: 53 });
  });
});
