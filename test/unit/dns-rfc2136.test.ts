// The rfc2136 provider against real Knot 3.2, BIND 9.18 and PowerDNS 4.7 (started by
// test/servers/dns.ts), plus fake servers on loopback for what real ones will not do on demand
// (never answer, answer unsigned, listen on ::1).
//
// This file starts servers of its own (on random ports) instead of sharing dnsServersForTests():
// other test files call resetZone() on the shared servers at any moment, which would wipe the
// records these tests write between an apply and the read that checks it.
//
// Per server: create, read back, A → CNAME in one UPDATE, AAAA, TTL, compare-and-set against
// nsupdate writing behind the provider's back, a CNAME that would land beside data, unsigned and
// wrongly signed requests, zones the server does not serve or will not update, a message too big
// for UDP, hmac-sha512.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { planDns } from '../../src/dns/plan.ts';
import type { DnsProvider, ManagedType, RecordSet } from '../../src/dns/provider.ts';
import { createRfc2136Provider, type Rfc2136Options } from '../../src/dns/providers/rfc2136.ts';
import { signMessage } from '../../src/dns/tsig.ts';
import { type ErrorCode, isOutlastError } from '../../src/errors.ts';
import { expectCode as expectErrorCode } from '../helpers/errors.ts';
import {
  type DnsServer,
  type DnsServerKind,
  query,
  resetZone,
  startDnsServer,
  type TsigKeyInfo,
} from '../servers/dns.ts';

const KINDS: DnsServerKind[] = ['knot', 'bind', 'pdns'];
/** The rfc2136 provider's timeout when none is configured (src/dns/providers/rfc2136.ts). */
const RFC2136_DEFAULT_TIMEOUT_MS = 3000;
const servers = new Map<DnsServerKind, DnsServer>();

/**
 * A server of this file's own, on a random port. Not startDnsServer's default ports: two test
 * processes probing the same ports at once can both start on one (dns.sh's port check races, and
 * BIND and Knot bind with SO_REUSEPORT), and then each query lands on either server.
 */
async function startPrivateServer(kind: DnsServerKind): Promise<DnsServer> {
  for (let attempt = 0; ; attempt++) {
    // Even (PowerDNS's API takes port + 1) and below Linux's ephemeral range.
    const port = 24000 + 2 * randomInt(0, 4000);
    try {
      return await startDnsServer(kind, { port });
    } catch (error) {
      if (attempt >= 10 || !/\(exit 3\)/.test(String(error))) throw error;
    }
  }
}

before(async () => {
  const started = await Promise.allSettled(KINDS.map((kind) => startPrivateServer(kind)));
  for (const result of started) {
    if (result.status === 'fulfilled') servers.set(result.value.kind, result.value);
  }
  const failed = started.find((result): result is PromiseRejectedResult => result.status === 'rejected');
  if (failed) throw failed.reason;
});

after(async () => {
  await Promise.all([...servers.values()].map((server) => server.stop()));
});

const expectCode = (promise: Promise<unknown>, code: ErrorCode) => expectErrorCode(promise, code, 'rfc2136');

/** Runs Debian's nsupdate as another writer would; throws when it fails. */
function nsupdate(server: DnsServer, key: TsigKeyInfo, commands: string[]): Promise<void> {
  const input = [`server ${server.host} ${server.port}`, `zone ${server.zone}`, ...commands, 'send', ''].join(
    '\n',
  );
  return new Promise((resolve, reject) => {
    const child = execFile(
      'nsupdate',
      ['-t', '5', '-y', `${key.algorithm}:${key.name}:${key.secret}`],
      { timeout: 20_000 },
      (error, stdout, stderr) =>
        error ? reject(new Error(`nsupdate failed: ${stderr}${stdout}`)) : resolve(),
    );
    child.stdin?.end(input);
  });
}

/** What a plain DNS query at the server answers for name/type (values, sorted). */
async function served(server: DnsServer, name: string, type: ManagedType): Promise<string[]> {
  const { answers } = await query(server, name, type);
  return answers
    .filter((answer) => answer.name === name && answer.type === type)
    .map((answer) => answer.data)
    .sort();
}

async function soaSerial(server: DnsServer): Promise<number> {
  const { answers } = await query(server, server.zone, 'SOA');
  return Number(answers[0]?.data.split(' ')[2]);
}

const set = (name: string, type: ManagedType, ttl: number, values: string[]): RecordSet => ({
  name,
  type,
  ttl,
  values,
});

for (const kind of KINDS) {
  describe(`rfc2136 on ${kind}`, () => {
    let server: DnsServer;
    let key: TsigKeyInfo;
    let key512: TsigKeyInfo;
    let provider: DnsProvider;
    const at = (label: string) => `${label}.example.test`;
    const make = (options: Partial<Rfc2136Options> = {}) =>
      createRfc2136Provider({
        server: `${server.host}:${server.port}`,
        zone: server.zone,
        tsig: key,
        ...options,
      });

    before(async () => {
      server = servers.get(kind)!;
      [key, key512] = server.tsig as [TsigKeyInfo, TsigKeyInfo];
      await resetZone(server);
      provider = make();
    });

    it('describes itself and its capabilities', () => {
      assert.equal(
        provider.describe(),
        `rfc2136 example.test @ ${server.host}:${server.port} (key ${key.name})`,
      );
      assert.deepEqual(provider.capabilities, {
        compareAndSet: true,
        atomic: true,
        minTtl: 1,
        types: ['A', 'AAAA', 'CNAME'],
      });
      assert.ok(!provider.describe().includes(key.secret));
    });

    it('creates an A set, reads it back, and the server serves it', async () => {
      const name = at('create');
      assert.deepEqual(await provider.read(name), []);
      const wanted = set(name, 'A', 300, ['192.0.2.2', '192.0.2.1']);
      await provider.apply(planDns([], [wanted]));
      assert.deepEqual(await provider.read(name), [set(name, 'A', 300, ['192.0.2.1', '192.0.2.2'])]);
      assert.deepEqual(await served(server, name, 'A'), ['192.0.2.1', '192.0.2.2']);
    });

    it('replaces an A set with a CNAME in one UPDATE', async () => {
      const name = at('move');
      await provider.apply(planDns([], [set(name, 'A', 300, ['192.0.2.3'])]));
      const serial = await soaSerial(server);
      const changes = planDns(await provider.read(name), [
        set(name, 'CNAME', 300, ['Origin-B.Example.NET.']),
      ]);
      assert.equal(changes.length, 2);
      await provider.apply(changes);
      assert.deepEqual(await provider.read(name), [set(name, 'CNAME', 300, ['origin-b.example.net'])]);
      assert.deepEqual(await served(server, name, 'CNAME'), ['origin-b.example.net']);
      assert.deepEqual(await served(server, name, 'A'), []);
      // BIND and Knot move the serial once per UPDATE; PowerDNS only with SOA-EDIT-DNSUPDATE.
      if (kind !== 'pdns') assert.equal(await soaSerial(server), serial + 1, 'one UPDATE, one serial');
      // And back: CNAME → A, the CNAME deleted before the A is added.
      await provider.apply(planDns(await provider.read(name), [set(name, 'A', 300, ['192.0.2.4'])]));
      assert.deepEqual(await provider.read(name), [set(name, 'A', 300, ['192.0.2.4'])]);
    });

    it('writes AAAA sets given in any form, reads them canonical', async () => {
      const name = at('six');
      await provider.apply(planDns([], [set(name, 'AAAA', 300, ['2001:DB8:0:0::1', '2001:db8::a:0:0:2'])]));
      assert.deepEqual(await provider.read(name), [
        set(name, 'AAAA', 300, ['2001:db8::1', '2001:db8::a:0:0:2']),
      ]);
      assert.deepEqual(await served(server, name, 'AAAA'), ['2001:db8::1', '2001:db8::a:0:0:2']);
    });

    it('changes only the TTL', async () => {
      const name = at('ttl');
      await provider.apply(planDns([], [set(name, 'A', 300, ['192.0.2.5'])]));
      const changes = planDns(await provider.read(name), [set(name, 'A', 60, ['192.0.2.5'])]);
      assert.equal(changes.length, 1);
      await provider.apply(changes);
      assert.deepEqual(await provider.read(name), [set(name, 'A', 60, ['192.0.2.5'])]);
      const { answers } = await query(server, name, 'A');
      assert.equal(answers[0]?.ttl, 60);
    });

    it('refuses TTL 0 and bad values before sending anything', async () => {
      const name = at('bad');
      await expectCode(provider.apply(planDns([], [set(name, 'A', 0, ['192.0.2.6'])])), 'invalid_argument');
      await expectCode(
        provider.apply(planDns([], [set(name, 'A', 60, ['2001:db8::1'])])),
        'invalid_argument',
      );
      await expectCode(
        provider.apply(planDns([], [set(name, 'CNAME', 60, ['a.test', 'b.test'])])),
        'invalid_argument',
      );
      assert.deepEqual(await provider.read(name), []);
    });

    it('compare-and-set: a set changed by nsupdate since the read is a conflict and stays theirs', async () => {
      const name = at('cas');
      await provider.apply(planDns([], [set(name, 'A', 300, ['192.0.2.10'])]));
      const stale = await provider.read(name);
      await nsupdate(server, key512, [`update delete ${name}. A`, `update add ${name}. 300 A 192.0.2.99`]);
      const error = await expectCode(
        provider.apply(planDns(stale, [set(name, 'A', 300, ['192.0.2.11'])])),
        'conflict',
      );
      assert.match(error.message, /cas\.example\.test changed since they were read/);
      assert.deepEqual(await provider.read(name), [set(name, 'A', 300, ['192.0.2.99'])]);
      assert.deepEqual(await served(server, name, 'A'), ['192.0.2.99']);
    });

    it('compare-and-set: a set created since the read (before: none) is a conflict', async () => {
      const name = at('cas-new');
      await nsupdate(server, key, [`update add ${name}. 300 AAAA 2001:db8::99`]);
      await expectCode(provider.apply(planDns([], [set(name, 'AAAA', 300, ['2001:db8::1'])])), 'conflict');
      assert.deepEqual(await provider.read(name), [set(name, 'AAAA', 300, ['2001:db8::99'])]);
    });

    it('compare-and-set: one stale change stops the whole UPDATE', async () => {
      const stale = at('cas-gone');
      const other = at('cas-other');
      const start = [set(stale, 'A', 300, ['192.0.2.12'])];
      await provider.apply(planDns([], start));
      await nsupdate(server, key, [`update delete ${stale}. A`]);
      const changes = [
        ...planDns([], [set(other, 'A', 300, ['192.0.2.13'])]),
        ...planDns(start, [set(stale, 'A', 300, ['192.0.2.14'])]),
      ];
      await expectCode(provider.apply(changes), 'conflict');
      assert.deepEqual(await provider.read(stale), []);
      assert.deepEqual(await provider.read(other), [], 'atomic: the other change did not happen either');
    });

    it('a CNAME that would land beside A/AAAA the read did not see is a conflict, not a silent no-op', async () => {
      const name = at('beside');
      await nsupdate(server, key, [`update add ${name}. 300 A 192.0.2.15`]);
      // A change list from a read that saw nothing at the name: only the CNAME.
      await expectCode(provider.apply(planDns([], [set(name, 'CNAME', 300, ['x.example.net'])])), 'conflict');
      assert.deepEqual(await provider.read(name), [set(name, 'A', 300, ['192.0.2.15'])]);
    });

    it('applying the same changes twice succeeds (the second finds them done)', async () => {
      const name = at('twice');
      const changes = planDns([], [set(name, 'A', 300, ['192.0.2.16'])]);
      await provider.apply(changes);
      await provider.apply(changes);
      const removal = planDns(await provider.read(name), []);
      await provider.apply(removal);
      await provider.apply(removal);
      assert.deepEqual(await provider.read(name), []);
    });

    it('sends an UPDATE too big for UDP over TCP, and reads the truncated answer over TCP', async () => {
      const name = at('many-addresses-for-a-long-message');
      const values = Array.from({ length: 60 }, (_, index) => `198.51.100.${index + 1}`).sort();
      await provider.apply(planDns([], [set(name, 'A', 300, values)]));
      assert.deepEqual(await provider.read(name), [set(name, 'A', 300, values)]);
      await provider.apply(planDns(await provider.read(name), []));
      assert.deepEqual(await provider.read(name), []);
    });

    it('works with the hmac-sha512 key', async () => {
      const name = at('sha512');
      const with512 = make({ tsig: key512 });
      await with512.apply(planDns([], [set(name, 'CNAME', 120, ['sha512.example.net'])]));
      assert.deepEqual(await with512.read(name), [set(name, 'CNAME', 120, ['sha512.example.net'])]);
    });

    it('an unsigned UPDATE is permission_denied (the server wants a key)', async () => {
      const unsigned = make({ tsig: undefined });
      assert.match(unsigned.describe(), /\(unsigned\)$/);
      const name = at('unsigned');
      const error = await expectCode(
        unsigned.apply(planDns([], [set(name, 'A', 300, ['192.0.2.17'])])),
        'permission_denied',
      );
      assert.match(error.message, /TSIG key \(none is configured\)/);
      // Queries need no key on these servers.
      assert.deepEqual(await unsigned.read(name), []);
    });

    it('a wrong secret is permission_denied, naming the key and never the secret', async () => {
      const secret = Buffer.alloc(32, 7).toString('base64');
      const wrong = make({ tsig: { ...key, secret } });
      const name = at('wrong-secret');
      // One request at a time, each handled as it is made: two started at once, the second could
      // reject (PowerDNS answers fast) before it was awaited, and an early rejection fails the run.
      for (const attempt of [
        () => wrong.apply(planDns([], [set(name, 'A', 300, ['192.0.2.18'])])),
        () => wrong.read(name),
      ]) {
        const error = await expectCode(attempt(), 'permission_denied');
        assert.match(error.message, /"outlast-key"/);
        assert.ok(!error.message.includes(secret) && !error.message.includes(key.secret), error.message);
      }
      assert.deepEqual(await provider.read(name), []);
    });

    it('an unknown key is permission_denied', async () => {
      const unknown = make({ tsig: { ...key, name: 'nobody-key' } });
      const error = await expectCode(
        unknown.apply(planDns([], [set(at('unknown-key'), 'A', 300, ['192.0.2.19'])])),
        'permission_denied',
      );
      assert.match(error.message, /nobody-key/);
    });

    it('a zone the server does not serve, or will not update, is permission_denied', async () => {
      const nowhere = make({ zone: 'nowhere.test' });
      await expectCode(
        nowhere.apply(planDns([], [set('www.nowhere.test', 'A', 300, ['192.0.2.20'])])),
        'permission_denied',
      );
      await expectCode(nowhere.read('www.nowhere.test'), 'permission_denied');
      const other = make({ zone: server.otherZone ?? 'other.test' });
      const name = `www.${server.otherZone ?? 'other.test'}`;
      await expectCode(other.apply(planDns([], [set(name, 'A', 300, ['192.0.2.21'])])), 'permission_denied');
    });

    it('a name outside the zone is invalid_argument', async () => {
      for (const name of ['www.example.invalid', 'evilexample.test', 'test']) {
        await expectCode(provider.read(name), 'invalid_argument');
        await expectCode(
          provider.apply(planDns([], [set(name, 'A', 300, ['192.0.2.22'])])),
          'invalid_argument',
        );
      }
    });
  });
}

describe('rfc2136 against fake servers', () => {
  const key: TsigKeyInfo = {
    name: 'outlast-key',
    algorithm: 'hmac-sha256',
    secret: Buffer.alloc(32, 1).toString('base64'),
  };

  /** A UDP server on `host` that hands each datagram to `reply` (undefined: stay silent). */
  async function fakeServer(host: string, reply: (message: Buffer) => Buffer | undefined) {
    const socket: Socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    const received: Buffer[] = [];
    socket.on('message', (message, peer) => {
      received.push(message);
      const answer = reply(message);
      if (answer) socket.send(answer, peer.port, peer.address);
    });
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    const { port } = socket.address();
    const server = host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
    return { server, received, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
  }

  /** The request turned into a reply with `rcode` (question kept, TSIG dropped). */
  function replyTo(message: Buffer, rcode: number, aa = true): Buffer {
    const questionEnd = message.indexOf(0, 12) + 5;
    const reply = Buffer.from(message.subarray(0, questionEnd));
    reply.writeUInt16BE(0x8000 | (aa ? 0x0400 : 0) | (message.readUInt16BE(2) & 0x7800) | rcode, 2);
    reply.writeUInt16BE(0, 6);
    reply.writeUInt16BE(0, 8);
    reply.writeUInt16BE(0, 10);
    return reply;
  }

  it('checks names and TTLs before any packet leaves', async () => {
    const fake = await fakeServer('127.0.0.1', () => undefined);
    try {
      const provider = createRfc2136Provider({
        server: fake.server,
        zone: 'example.test',
        tsig: key,
        timeout: 200,
      });
      await expectCode(provider.read('www.example.invalid'), 'invalid_argument');
      await expectCode(
        provider.apply(planDns([], [set('www.example.invalid', 'A', 60, ['192.0.2.1'])])),
        'invalid_argument',
      );
      await expectCode(
        provider.apply(planDns([], [set('www.example.test', 'A', 0, ['192.0.2.1'])])),
        'invalid_argument',
      );
      await provider.apply([]);
      assert.equal(fake.received.length, 0);
    } finally {
      await fake.close();
    }
  });

  it('a server that never answers is timeout (retryable), within the budget', async () => {
    const fake = await fakeServer('127.0.0.1', () => undefined);
    try {
      const provider = createRfc2136Provider({
        server: fake.server,
        zone: 'example.test',
        tsig: key,
        timeout: 300,
      });
      const started = Date.now();
      const error = await expectCode(provider.read('www.example.test'), 'timeout');
      assert.ok(error.retryable);
      // The budget given (300 ms), not the provider's default of 3 s: the bound is the default, so
      // that a loaded machine's delays cannot fail it, and an ignored `timeout` still does.
      const took = Date.now() - started;
      assert.ok(took < RFC2136_DEFAULT_TIMEOUT_MS, `gave up after ${took} ms`);
      assert.equal(fake.received.length, 3, 'one query per type, each sent once');
    } finally {
      await fake.close();
    }
  });

  it('a dead port is unavailable (retryable)', async () => {
    const fake = await fakeServer('127.0.0.1', () => undefined);
    const { server } = fake;
    await fake.close();
    const provider = createRfc2136Provider({ server, zone: 'example.test', tsig: key, timeout: 1000 });
    const error = await expectCode(
      provider.apply(planDns([], [set('www.example.test', 'A', 60, ['192.0.2.1'])])),
      'unavailable',
    );
    assert.ok(error.retryable);
  });

  it('an unsigned "success" to a signed request is permission_denied (it could be forged)', async () => {
    const fake = await fakeServer('127.0.0.1', (message) => replyTo(message, 0));
    try {
      const provider = createRfc2136Provider({ server: fake.server, zone: 'example.test', tsig: key });
      const error = await expectCode(
        provider.apply(planDns([], [set('www.example.test', 'A', 60, ['192.0.2.1'])])),
        'permission_denied',
      );
      assert.match(error.message, /not signed with TSIG key "outlast-key"/);
      await expectCode(provider.read('www.example.test'), 'permission_denied');
    } finally {
      await fake.close();
    }
  });

  it('a reply signed with the wrong secret is permission_denied', async () => {
    const forger = { ...key, secret: Buffer.alloc(32, 2).toString('base64') };
    const fake = await fakeServer('127.0.0.1', (message) => signMessage(replyTo(message, 0), forger).message);
    try {
      const provider = createRfc2136Provider({ server: fake.server, zone: 'example.test', tsig: key });
      const error = await expectCode(provider.read('www.example.test'), 'permission_denied');
      assert.match(error.message, /does not verify/);
    } finally {
      await fake.close();
    }
  });

  it('maps SERVFAIL to unavailable, NOTZONE to invalid_argument, a non-authoritative answer to permission_denied', async () => {
    for (const [rcode, code, aa] of [
      [2, 'unavailable', true],
      [10, 'invalid_argument', true],
      [0, 'permission_denied', false],
    ] as const) {
      const fake = await fakeServer('127.0.0.1', (message) => replyTo(message, rcode, aa));
      try {
        const provider = createRfc2136Provider({ server: fake.server, zone: 'example.test' });
        const attempt =
          rcode === 0
            ? provider.read('www.example.test')
            : provider.apply(planDns([], [set('www.example.test', 'A', 60, ['192.0.2.1'])]));
        await expectCode(attempt, code);
      } finally {
        await fake.close();
      }
    }
  });

  it('a reply that does not parse is internal', async () => {
    const fake = await fakeServer('127.0.0.1', (message) => {
      const reply = replyTo(message, 0);
      reply.writeUInt16BE(1, 6); // one answer record that is not there
      return reply;
    });
    try {
      const provider = createRfc2136Provider({ server: fake.server, zone: 'example.test', tsig: key });
      await expectCode(provider.read('www.example.test'), 'internal');
    } finally {
      await fake.close();
    }
  });

  it('talks to a server at an IPv6 address ([::1]:PORT)', async () => {
    const fake = await fakeServer('::1', (message) => replyTo(message, 3));
    try {
      const provider = createRfc2136Provider({ server: fake.server, zone: 'example.test' });
      assert.match(provider.describe(), /@ \[::1\]:\d+ \(unsigned\)$/);
      assert.deepEqual(await provider.read('www.example.test'), [], 'NXDOMAIN: no sets');
      assert.equal(fake.received.length, 3);
    } finally {
      await fake.close();
    }
  });

  it('refuses a secret that is not base64, without showing it', () => {
    assert.throws(
      () =>
        createRfc2136Provider({
          server: '127.0.0.1:53',
          zone: 'example.test',
          tsig: { ...key, secret: 'not base64!' },
        }),
      (error: unknown) => isOutlastError(error, 'invalid_config') && !error.message.includes('not base64!'),
    );
  });
});
