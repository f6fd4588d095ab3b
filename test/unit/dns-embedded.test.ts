// The embedded DNS provider: the provider conformance suite (every step checked with a real query
// at its socket), the zone's answers as pure lookups (NXDOMAIN vs NODATA, CNAME chains, ANY), the
// config's validation, and the server's protocol behaviour over UDP and TCP, IPv4 and IPv6:
// EDNS, truncation, error rcodes, AXFR and its ACL and TSIG, NOTIFY with retries, the TCP limits.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { dnsProviderSchema } from '../../src/config/schema.ts';
import { parseZoneConfig, type ZoneConfig } from '../../src/dns/embedded/records.ts';
import { buildZone, lookup, nextSerial, QTYPE, RCODE } from '../../src/dns/embedded/zone.ts';
import type { ManagedType, RecordSet } from '../../src/dns/provider.ts';
import { createEmbeddedProvider, type EmbeddedDnsProvider } from '../../src/dns/providers/embedded.ts';
import { signMessage, type TsigKey, verifyMessage } from '../../src/dns/tsig.ts';
import { isOutlastError } from '../../src/errors.ts';
import { testDnsProvider } from '../conformance/dns.ts';
import { query } from '../servers/dns.ts';
import {
  dataOf,
  decode,
  fullRcode,
  makeQuery,
  opcodeOf,
  rcodeName,
  tcpExchange,
  udpExchange,
} from '../servers/embedded-dns.ts';

const ZONE = 'example.test';
const KEY: TsigKey = {
  name: 'transfer-key',
  algorithm: 'hmac-sha256',
  secret: 'ZYuwmHCZe8EPlhMZhoaZ/C5y7GdX9+cBkOdzHBk1TD4=',
};

const BASE: ZoneConfig = {
  zone: ZONE,
  nameservers: ['ns1.example.test.', 'ns2.example.test.'],
  ttl: 300,
  soa: { email: 'hostmaster@example.test', refresh: 3600, retry: 600, expire: 604800, minimum: 60 },
  records: [
    { name: 'ns1', type: 'A', ttl: 3600, value: '127.0.0.1' },
    { name: 'ns2', type: 'AAAA', value: '::1' },
    { name: '@', type: 'MX', value: '10 mail' },
    { name: 'mail', type: 'A', value: '192.0.2.25' },
    { name: 'alias', type: 'CNAME', value: 'www' },
    { name: 'alias2', type: 'CNAME', value: 'ALIAS.example.test.' },
    { name: 'ext', type: 'CNAME', value: 'target.example.net.' },
    { name: 'dangling', type: 'CNAME', value: 'nothere' },
    { name: 'loop1', type: 'CNAME', value: 'loop2' },
    { name: 'loop2', type: 'CNAME', value: 'loop1' },
    { name: 'a.b', type: 'A', value: '192.0.2.9' },
    { name: '@', type: 'TXT', value: 'v=spf1 -all' },
    { name: '_sip._tcp', type: 'SRV', value: '10 5 5060 mail' },
    { name: '@', type: 'CAA', value: '0 issue "letsencrypt.org"' },
    ...Array.from({ length: 6 }, (_, index) => ({
      name: 'big',
      type: 'TXT' as const,
      value: `${index}${'x'.repeat(99)}`,
    })),
  ],
};

const www = (values: string[], ttl = 60): RecordSet => ({ name: `www.${ZONE}`, type: 'A', ttl, values });

// --- the conformance suite --------------------------------------------------------------------

let suiteProvider: EmbeddedDnsProvider | undefined;
testDnsProvider({
  name: 'embedded (queries to its UDP socket)',
  zone: ZONE,
  async create() {
    suiteProvider = await createEmbeddedProvider({ ...BASE, records: [], listen: ['127.0.0.1:0'] });
    return suiteProvider;
  },
  async resolve(name: string, type: ManagedType) {
    const address = suiteProvider!.addresses()[0]!;
    const { answers } = await query(address, name, type);
    return answers
      .filter((answer) => answer.name === name && answer.type === type)
      .map((answer) => answer.data);
  },
  async changeBehindBack(set: RecordSet | undefined, name: string, type: ManagedType) {
    // Another writer: a read and an apply of its own, with what it read as `before`.
    const current = (await suiteProvider!.read(name)).find((found) => found.type === type);
    await suiteProvider!.apply([{ name, type, before: current, after: set }]);
  },
});

// --- pure lookups -----------------------------------------------------------------------------

describe('embedded zone lookups', () => {
  const { zone: definition, problems } = parseZoneConfig(BASE);
  const zone = buildZone(definition, [www(['192.0.2.1'])], 2024010101);
  const types = (sets: { type: string }[]) => sets.map((set) => set.type);

  it('parses the config without problems', () => assert.deepEqual(problems, []));

  it('answers an existing name and type', () => {
    const result = lookup(zone, `www.${ZONE}`, 1);
    assert.equal(result.rcode, RCODE.NOERROR);
    assert.ok(result.authoritative);
    assert.equal(result.answer.length, 1);
    assert.deepEqual(result.answer[0]?.records, [{ type: 'A', address: '192.0.2.1' }]);
    assert.deepEqual(result.authority, []);
  });

  it('tells NXDOMAIN (no such name) from NODATA (name without that type), both with the SOA', () => {
    const missing = lookup(zone, `nope.${ZONE}`, 1);
    assert.equal(missing.rcode, RCODE.NXDOMAIN);
    assert.deepEqual(types(missing.authority), ['SOA']);
    const nodata = lookup(zone, `www.${ZONE}`, 16);
    assert.equal(nodata.rcode, RCODE.NOERROR);
    assert.deepEqual(nodata.answer, []);
    assert.deepEqual(types(nodata.authority), ['SOA']);
    // b.example.test has no records but a.b.example.test does: an empty non-terminal (RFC 8020).
    const ent = lookup(zone, `b.${ZONE}`, 1);
    assert.equal(ent.rcode, RCODE.NOERROR);
    assert.deepEqual(types(ent.authority), ['SOA']);
  });

  it('gives the negative SOA the TTL min(SOA TTL, minimum) (RFC 2308 §3)', () => {
    assert.equal(lookup(zone, `nope.${ZONE}`, 1).authority[0]?.ttl, 60);
    const long = buildZone({ ...definition, soa: { ...definition.soa, ttl: 30 } }, [], 1);
    assert.equal(lookup(long, `nope.${ZONE}`, 1).authority[0]?.ttl, 30);
  });

  it('follows a CNAME chain inside the zone, and answers the CNAME itself for type CNAME', () => {
    const chain = lookup(zone, `alias2.${ZONE}`, 1);
    assert.equal(chain.rcode, RCODE.NOERROR);
    assert.deepEqual(
      chain.answer.map((set) => `${set.name} ${set.type}`),
      [`alias2.${ZONE} CNAME`, `alias.${ZONE} CNAME`, `www.${ZONE} A`],
    );
    assert.deepEqual(types(lookup(zone, `alias.${ZONE}`, 5).answer), ['CNAME']);
    // A type the target lacks: the chain, then NODATA's SOA.
    const nodata = lookup(zone, `alias.${ZONE}`, 16);
    assert.deepEqual(types(nodata.answer), ['CNAME']);
    assert.deepEqual(types(nodata.authority), ['SOA']);
  });

  it('stops at a target outside the zone, and gives NXDOMAIN for a dangling one (RFC 6604)', () => {
    const ext = lookup(zone, `ext.${ZONE}`, 1);
    assert.equal(ext.rcode, RCODE.NOERROR);
    assert.deepEqual(types(ext.answer), ['CNAME']);
    assert.deepEqual(ext.authority, []);
    const dangling = lookup(zone, `dangling.${ZONE}`, 1);
    assert.equal(dangling.rcode, RCODE.NXDOMAIN);
    assert.deepEqual(types(dangling.answer), ['CNAME']);
    assert.deepEqual(types(dangling.authority), ['SOA']);
  });

  it('ends a CNAME loop', () => {
    const loop = lookup(zone, `loop1.${ZONE}`, 1);
    assert.deepEqual(types(loop.answer), ['CNAME', 'CNAME']);
  });

  it('REFUSES names outside the zone, without AA', () => {
    for (const name of ['example.net', 'test', `evil${ZONE}`, '']) {
      const result = lookup(zone, name, 1);
      assert.equal(result.rcode, RCODE.REFUSED, name);
      assert.equal(result.authoritative, false);
    }
  });

  it('answers ANY with one RRset (RFC 8482)', () => {
    assert.deepEqual(types(lookup(zone, ZONE, QTYPE.ANY).answer), ['NS']);
    assert.deepEqual(types(lookup(zone, `alias.${ZONE}`, QTYPE.ANY).answer), ['CNAME']);
    assert.equal(lookup(zone, `nope.${ZONE}`, QTYPE.ANY).rcode, RCODE.NXDOMAIN);
  });

  it('adds the in-zone addresses of NS, MX and SRV targets', () => {
    const ns = lookup(zone, ZONE, 2);
    assert.deepEqual(
      ns.additional.map((set) => `${set.name} ${set.type}`),
      [`ns1.${ZONE} A`, `ns2.${ZONE} AAAA`],
    );
    assert.deepEqual(
      lookup(zone, ZONE, 15).additional.map((set) => set.name),
      [`mail.${ZONE}`],
    );
  });

  it('makes serials that always grow, time-based', () => {
    assert.equal(nextSerial(0, 1_700_000_000.7), 1_700_000_000);
    assert.equal(nextSerial(1_700_000_000, 1_700_000_000), 1_700_000_001);
    assert.equal(nextSerial(1_800_000_000, 1_700_000_000), 1_800_000_001);
  });
});

// --- config validation ------------------------------------------------------------------------

describe('embedded zone config', () => {
  const problemsOf = (records: ZoneConfig['records']) =>
    parseZoneConfig({ ...BASE, records }).problems.map(
      (problem) => `${problem.path.join('.')}: ${problem.message}`,
    );

  it('takes the config of the docs through the schema', () => {
    const parsed = dnsProviderSchema.parse({
      type: 'embedded',
      listen: ['127.0.0.1:5353', '[::1]:5353'],
      zone: 'example.com',
      nameservers: ['ns1.example.com.', 'ns2.example.com.'],
      ttl: 300,
      soa: { email: 'hostmaster.example.com', refresh: 3600, retry: 600, expire: 604800, minimum: 60 },
      records: [
        { name: 'ns1', type: 'A', ttl: 3600, value: '192.0.2.53' },
        { name: '@', type: 'MX', value: '10 mail.example.com.' },
      ],
      secondaries: { notify: ['192.0.2.54:53'], allowTransfer: ['192.0.2.54'] },
    });
    assert.equal(parsed.type, 'embedded');
  });

  it('rejects a CNAME beside other data, two CNAMEs, a CNAME at the apex', () => {
    assert.match(
      problemsOf([
        { name: 'mail', type: 'CNAME', value: 'x.example.net.' },
        { name: 'mail', type: 'A', value: '192.0.2.1' },
      ]).join('\n'),
      /records\.0: mail\.example\.test has a CNAME and A/,
    );
    assert.match(
      problemsOf([
        { name: 'c', type: 'CNAME', value: 'a.' },
        { name: 'c', type: 'CNAME', value: 'b.' },
      ]).join('\n'),
      /two CNAMEs/,
    );
    assert.match(
      problemsOf([{ name: '@', type: 'CNAME', value: 'x.example.net.' }]).join('\n'),
      /apex cannot be a CNAME/,
    );
  });

  it('rejects a relative name that already ends with the zone, and names outside it', () => {
    assert.match(
      problemsOf([{ name: 'mail', type: 'MX', value: '10 mail.example.test' }]).join('\n'),
      /records\.0\.value: .*relative/,
    );
    assert.match(
      problemsOf([{ name: 'www.example.net.', type: 'A', value: '192.0.2.1' }]).join('\n'),
      /outside the zone/,
    );
  });

  it('rejects NS below the apex, mixed TTLs in one set, bad values, wildcards', () => {
    assert.match(
      problemsOf([{ name: 'sub', type: 'NS', value: 'ns.example.net.' }]).join('\n'),
      /does not delegate/,
    );
    assert.match(
      problemsOf([
        { name: 't', type: 'A', ttl: 1, value: '192.0.2.1' },
        { name: 't', type: 'A', ttl: 2, value: '192.0.2.2' },
      ]).join('\n'),
      /records\.1\.ttl: .*share a TTL/,
    );
    assert.match(
      problemsOf([{ name: 't', type: 'AAAA', value: '192.0.2.1' }]).join('\n'),
      /records\.0\.value/,
    );
    assert.match(problemsOf([{ name: 't', type: 'MX', value: 'mail' }]).join('\n'), /PREFERENCE EXCHANGE/);
    assert.match(problemsOf([{ name: '*', type: 'A', value: '192.0.2.1' }]).join('\n'), /wildcard/);
  });

  it('reports the problems through the schema with their path', () => {
    const result = dnsProviderSchema.safeParse({
      type: 'embedded',
      listen: ['127.0.0.1:5353'],
      zone: 'example.com',
      nameservers: ['ns1.example.com.'],
      records: [
        { name: 'www', type: 'CNAME', value: 'a.' },
        { name: 'www', type: 'TXT', value: 'x' },
      ],
    });
    assert.equal(result.success, false);
    assert.deepEqual(result.error?.issues[0]?.path, ['records', 0]);
  });
});

// --- the server -------------------------------------------------------------------------------

describe('embedded server', () => {
  let provider: EmbeddedDnsProvider;
  let host: string;
  let port: number;
  let port6: number;
  const ask = async (spec: Parameters<typeof makeQuery>[0], transport: 'udp' | 'tcp' = 'udp', at = host) => {
    const message = makeQuery(spec);
    const target = at === '::1' ? port6 : port;
    const reply =
      transport === 'udp'
        ? await udpExchange(at, target, message)
        : (await tcpExchange(at, target, [message])).replies[0];
    assert.ok(reply, `an answer to ${spec.name} ${spec.type}`);
    return { packet: decode(reply), size: reply.length, raw: reply };
  };

  before(async () => {
    provider = await createEmbeddedProvider({
      ...BASE,
      listen: ['127.0.0.1:0', '[::1]:0'],
      secondaries: { allowTransfer: ['127.0.0.0/8'] },
      maxTcpConnections: 3,
      tcpIdleMs: 500,
    });
    [host, port] = [provider.addresses()[0]!.host, provider.addresses()[0]!.port];
    port6 = provider.addresses()[1]!.port;
    await provider.apply([{ name: `www.${ZONE}`, type: 'A', before: undefined, after: www(['192.0.2.1']) }]);
  });
  after(() => provider.close());

  it('answers over UDP and TCP, IPv4 and IPv6, with AA and the question as asked', async () => {
    for (const transport of ['udp', 'tcp'] as const) {
      for (const at of ['127.0.0.1', '::1']) {
        const { packet } = await ask({ name: 'WwW.ExAmPle.TeSt', type: 'A', rd: true }, transport, at);
        assert.equal(rcodeName(packet), 'NOERROR');
        assert.ok(packet.flag_aa && packet.flag_rd && !packet.flag_ra, 'AA, RD copied, no RA');
        assert.equal(packet.questions?.[0]?.name, 'WwW.ExAmPle.TeSt');
        assert.deepEqual(
          packet.answers?.map((answer) => [
            answer.name,
            answer.type,
            'ttl' in answer ? answer.ttl : 0,
            dataOf(answer),
          ]),
          [['WwW.ExAmPle.TeSt', 'A', 60, '192.0.2.1']],
        );
      }
    }
  });

  it('echoes EDNS (payload 1232, DO copied) and sets TC when the answer does not fit', async () => {
    const plain = await ask({ name: `big.${ZONE}`, type: 'TXT' });
    assert.ok(plain.packet.flag_tc, 'no EDNS: 512 bytes, truncated');
    assert.equal(plain.packet.answers?.length, 0);
    assert.equal(plain.packet.additionals?.length, 0, 'no OPT without EDNS');
    const small = await ask({ name: `big.${ZONE}`, type: 'TXT', edns: { size: 100 } });
    assert.ok(small.packet.flag_tc, 'a size below 512 counts as 512');
    const large = await ask({ name: `big.${ZONE}`, type: 'TXT', edns: { size: 4096, do: true } });
    assert.ok(!large.packet.flag_tc);
    assert.equal(large.packet.answers?.length, 6);
    const opt = large.packet.additionals?.find((record) => record.type === 'OPT') as
      | { udpPayloadSize: number; flag_do: boolean; ednsVersion: number }
      | undefined;
    assert.equal(opt?.udpPayloadSize, 1232);
    assert.equal(opt?.flag_do, true);
    const tcp = await ask({ name: `big.${ZONE}`, type: 'TXT' }, 'tcp');
    assert.ok(!tcp.packet.flag_tc);
    assert.equal(tcp.packet.answers?.length, 6);
  });

  it('answers BADVERS to EDNS versions other than 0', async () => {
    const { packet } = await ask({ name: `www.${ZONE}`, type: 'A', edns: { size: 1232, version: 1 } });
    assert.equal(fullRcode(packet), 16);
    assert.deepEqual(packet.answers, []);
  });

  it('REFUSES names outside the zone (EDE 20), NOTIMP for UPDATE and NOTIFY, FORMERR for no question', async () => {
    const out = await ask({ name: 'example.net', type: 'A', edns: { size: 1232 } });
    assert.equal(rcodeName(out.packet), 'REFUSED');
    assert.ok(!out.packet.flag_aa);
    for (const opcode of [4, 5]) {
      const { packet } = await ask({ name: ZONE, type: 'SOA', opcode });
      assert.equal(rcodeName(packet), 'NOTIMP', `opcode ${opcode}`);
    }
    const noQuestion = Buffer.from([0x12, 0x34, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    const reply = await udpExchange(host, port, noQuestion);
    assert.ok(reply);
    assert.equal(reply.readUInt16BE(0), 0x1234);
    assert.equal(reply.readUInt16BE(2) & 0xf, RCODE.FORMERR);
    assert.equal(reply.readUInt16BE(2) & 0x100, 0x100, 'RD copied');
    // A response is not answered (no loops between servers); nor is a short datagram.
    assert.equal(
      await udpExchange(host, port, Buffer.from([0x12, 0x35, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0]), 300),
      undefined,
    );
    assert.equal(await udpExchange(host, port, Buffer.from([1, 2, 3]), 300), undefined);
  });

  it('transfers the zone over TCP only, to allowed addresses; IXFR over UDP gets the SOA', async () => {
    const axfr = makeQuery({ name: ZONE, type: 'AXFR' });
    const { replies } = await tcpExchange(host, port, [axfr], (got) => soaCount(got) >= 2);
    const records = replies.flatMap((reply) => decode(reply).answers ?? []);
    assert.equal(records[0]?.type, 'SOA');
    assert.equal(records.at(-1)?.type, 'SOA');
    assert.ok(records.some((record) => record.name === `www.${ZONE}` && record.type === 'A'));
    const udp = await ask({ name: ZONE, type: 'AXFR' });
    assert.equal(rcodeName(udp.packet), 'NOTIMP');
    const ixfr = await ask({ name: ZONE, type: 'IXFR' });
    assert.deepEqual(
      ixfr.packet.answers?.map((answer) => answer.type),
      ['SOA'],
    );
    const notApex = await ask({ name: `www.${ZONE}`, type: 'AXFR' }, 'tcp');
    assert.equal(rcodeName(notApex.packet), 'NOTAUTH');
  });

  it('refuses AXFR to an address outside allowTransfer, and unsigned when a key is set', async () => {
    const closed = await createEmbeddedProvider({
      ...BASE,
      listen: ['127.0.0.1:0'],
      secondaries: { allowTransfer: ['192.0.2.0/24'] },
    });
    const signed = await createEmbeddedProvider({
      ...BASE,
      listen: ['127.0.0.1:0'],
      secondaries: { allowTransfer: ['127.0.0.1'], tsig: KEY },
    });
    try {
      for (const server of [closed, signed]) {
        const { port: at } = server.addresses()[0]!;
        const { replies } = await tcpExchange('127.0.0.1', at, [makeQuery({ name: ZONE, type: 'AXFR' })]);
        assert.equal(rcodeName(decode(replies[0]!)), 'REFUSED');
      }
      // Signed with the key: every message of the transfer is signed, the first one verifiable
      // as an ordinary reply.
      const request = signMessage(makeQuery({ name: ZONE, type: 'AXFR' }), KEY);
      const { port: at } = signed.addresses()[0]!;
      const { replies } = await tcpExchange('127.0.0.1', at, [request.message], (got) => soaCount(got) >= 2);
      assert.ok(
        verifyMessage(replies[0]!, KEY, { requestMac: request.mac }).ok,
        'the first message verifies',
      );
      // A wrong key: NOTAUTH with BADKEY.
      const other = signMessage(makeQuery({ name: ZONE, type: 'SOA' }), { ...KEY, name: 'other-key' });
      const refused = await udpExchange('127.0.0.1', at, other.message);
      assert.equal(refused!.readUInt16BE(2) & 0xf, RCODE.NOTAUTH);
      // A signed ordinary query is answered signed.
      const soa = signMessage(makeQuery({ name: ZONE, type: 'SOA' }), KEY);
      const answer = await udpExchange('127.0.0.1', at, soa.message);
      assert.ok(verifyMessage(answer!, KEY, { requestMac: soa.mac }).ok);
    } finally {
      await closed.close();
      await signed.close();
    }
  });

  it('signs every message of a long transfer so that dig verifies it (RFC 8945 §5.3.1)', async (t) => {
    const many = Array.from({ length: 1500 }, (_, index) => ({
      name: `host${index}`,
      type: 'TXT' as const,
      value: `record number ${index} ${'y'.repeat(40)}`,
    }));
    const big = await createEmbeddedProvider({
      ...BASE,
      records: [...BASE.records!, ...many],
      listen: ['127.0.0.1:0'],
      secondaries: { allowTransfer: ['127.0.0.1'], tsig: KEY },
    });
    try {
      const { port: at } = big.addresses()[0]!;
      const output = await promisify(execFile)('dig', [
        '-p',
        String(at),
        '@127.0.0.1',
        '-y',
        `${KEY.algorithm}:${KEY.name}:${KEY.secret}`,
        ZONE,
        'AXFR',
        '+time=5',
        '+tries=1',
      ]).catch((error: unknown) => {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      });
      if (!output) return t.skip('dig is not installed');
      assert.doesNotMatch(
        output.stdout,
        /failed|tsig verify failure|expected a TSIG/i,
        output.stdout.slice(-500),
      );
      assert.match(output.stdout, /XFR size: 15\d\d records \(messages ([2-9]|\d\d)/);
    } finally {
      await big.close();
    }
  });

  it('bumps the serial on every change, not on a no-op', async () => {
    const first = provider.serial();
    const set = www(['192.0.2.2']);
    await provider.apply([{ name: set.name, type: 'A', before: www(['192.0.2.1']), after: set }]);
    const second = provider.serial();
    assert.ok(second > first);
    await provider.apply([{ name: set.name, type: 'A', before: www(['192.0.2.1']), after: set }]);
    assert.equal(provider.serial(), second, 'the same apply again changes nothing');
    const { packet } = await ask({ name: ZONE, type: 'SOA' });
    assert.equal((dataOf(packet.answers![0]!) as { serial: number }).serial, second);
  });

  it('refuses managed sets that clash with static records', async () => {
    const clash = async (set: RecordSet) => {
      const error = await provider
        .apply([{ name: set.name, type: set.type, before: undefined, after: set }])
        .catch((caught: unknown) => caught);
      assert.ok(isOutlastError(error, 'invalid_argument'), String(error));
    };
    await clash({ name: `mail.${ZONE}`, type: 'A', ttl: 60, values: ['192.0.2.3'] });
    await clash({ name: `alias.${ZONE}`, type: 'A', ttl: 60, values: ['192.0.2.3'] });
    await clash({ name: ZONE, type: 'CNAME', ttl: 60, values: ['x.example.net'] });
  });

  it('answers several queries on one TCP connection, closes idle ones, and caps their number', async () => {
    const queries = ['www', 'mail', 'ns1'].map((label) => makeQuery({ name: `${label}.${ZONE}`, type: 'A' }));
    const { replies } = await tcpExchange(host, port, queries);
    assert.deepEqual(
      replies.map((reply) => decode(reply).answers?.[0]?.name),
      ['www', 'mail', 'ns1'].map((label) => `${label}.${ZONE}`),
    );
    // The wait ends when the server closes; its deadline is roomy for a loaded machine, and still
    // short of the default idle time (10 s), so only tcpIdleMs (500 ms) can pass it.
    const idle = await tcpExchange(host, port, [], () => false, 8000);
    assert.ok(idle.closed, 'the server closed the idle connection (tcpIdleMs 500)');
    // maxTcpConnections 3: a fourth connection is closed at once (the wait ends at the close).
    const held = await Promise.all([0, 1, 2].map(() => openSocket(port)));
    const fourth = await tcpExchange(host, port, [makeQuery({ name: ZONE, type: 'SOA' })], undefined, 5000);
    assert.ok(fourth.closed && fourth.replies.length === 0, 'over the cap: closed without an answer');
    for (const socket of held) socket.destroy();
  });

  it('sends NOTIFY to the secondaries after a change, again until one answers', async () => {
    const secondary = createSocket('udp4');
    await new Promise<void>((resolve) => secondary.bind(0, '127.0.0.1', () => resolve()));
    const received: Buffer[] = [];
    let answered = 0;
    const answeredOnce = new Promise<void>((resolve) => {
      secondary.on('message', (message, peer) => {
        received.push(message);
        // Ignore the first NOTIFY: the server must send it again.
        if (received.length < 2) return;
        const reply = Buffer.from(message.subarray(0, 12));
        reply.writeUInt16BE(message.readUInt16BE(2) | 0x8000, 2);
        reply.writeUInt16BE(0, 4);
        reply.writeUInt16BE(0, 6);
        secondary.send(reply, peer.port, peer.address);
        answered++;
        resolve();
      });
    });
    const notifying = await createEmbeddedProvider({
      ...BASE,
      listen: ['127.0.0.1:0'],
      secondaries: { notify: [`127.0.0.1:${secondary.address().port}`] },
    });
    try {
      await notifying.apply([
        { name: `www.${ZONE}`, type: 'A', before: undefined, after: www(['192.0.2.7']) },
      ]);
      await answeredOnce;
      // Nothing is awaited here but time: had the answer not stopped the retries, the next NOTIFY
      // would be due 2 s after the answered one (the schedule is 1 s, 2 s, 4 s …), inside this
      // window; a correct server sends nothing, however slow the machine.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      assert.equal(answered, 1, 'no NOTIFY after the answer');
      const notify = decode(received[0]!);
      assert.equal(opcodeOf(notify), 4);
      assert.ok(notify.flag_aa && !notify.flag_qr);
      assert.deepEqual(notify.questions, [{ name: ZONE, type: 'SOA', class: 'IN' }]);
      assert.equal((dataOf(notify.answers![0]!) as { serial: number }).serial, notifying.serial());
    } finally {
      await notifying.close();
      secondary.close();
    }
  });

  it('fails to start with unavailable when the port is taken', async () => {
    const { port: taken } = provider.addresses()[0]!;
    const error = await createEmbeddedProvider({ ...BASE, listen: [`127.0.0.1:${taken}`] }).catch(
      (caught: unknown) => caught,
    );
    assert.ok(isOutlastError(error, 'unavailable'), String(error));
  });
});

function soaCount(replies: Buffer[]): number {
  return replies.flatMap((reply) => decode(reply).answers ?? []).filter((record) => record.type === 'SOA')
    .length;
}

function openSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port }, () => resolve(socket));
    socket.on('error', reject);
  });
}
