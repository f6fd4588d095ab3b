// Differential test: the same zone served by outlast's embedded server and by a real Knot DNS 3.2
// (Debian's knotd, started for this file from a zone file written here), the same queries sent to
// both over UDP and again over TCP, and the replies compared: rcode (extended by the OPT), the
// AA, TC, RA, RD, CD and AD flags, the question as echoed, the answer, authority and additional
// sections as sets of records (owner names with their case, TTLs and data included, order
// ignored), and the OPT (present or not, version, payload size, DO, options).
//
// Differences that are ignored or expected, each allowed by an RFC:
//   - Record order inside a section (RFC 1035 gives none; both servers may rotate RRsets).
//   - Name compression (bytes on the wire differ; the decoded records are compared).
//   - The SOA serial: both serve the same number, because the zone file is written with the
//     embedded server's time-based serial; nothing is ignored there.
//   - UPDATE (opcode 5): Knot answers NOTAUTH (no ACL allows updates to this zone), the embedded
//     server NOTIMP (it implements no UPDATE; RFC 2136 §3.8: NOTIMP from a server without UPDATE).
//     Asserted per server below rather than compared.
//   - A datagram with two questions: Knot drops it, the embedded server answers FORMERR (RFC 1035
//     leaves QDCOUNT > 1 undefined; RFC 9619 says FORMERR). Asserted per server, not compared.
//   - CD (checking disabled) in the reply: the embedded server copies it from the query, as RFC
//     4035 §3.1.6 asks of security-aware servers (BIND does too); Knot 3.2 clears it in a reply
//     from an unsigned zone. It means nothing without DNSSEC; for that one case the flag is
//     asserted per server, not compared.
// Knot adds no NSID here (it is off unless `nsid` is configured), so no option is ignored.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Answer, DecodedPacket } from 'dns-packet';
import { createEmbeddedProvider, type EmbeddedDnsProvider } from '../../src/dns/providers/embedded.ts';
import {
  dataOf,
  decode,
  fullRcode,
  type KnotServer,
  makeQuery,
  type QuerySpec,
  rcodeName,
  startKnot,
  tcpExchange,
  udpExchange,
} from '../servers/embedded-dns.ts';

const ZONE = 'example.test';
const BIG = Array.from({ length: 6 }, (_, index) => `${index}${'0123456789'.repeat(10).slice(1)}`);

/** The zone, as the embedded provider's config writes it… */
const RECORDS = [
  { name: 'ns1', type: 'A' as const, ttl: 3600, value: '127.0.0.1' },
  { name: 'ns2', type: 'AAAA' as const, value: '::1' },
  { name: '@', type: 'MX' as const, value: '10 mail' },
  { name: 'mail', type: 'A' as const, value: '192.0.2.25' },
  { name: '@', type: 'TXT' as const, value: '"v=spf1 -all"' },
  { name: '@', type: 'CAA' as const, value: '0 issue "letsencrypt.org"' },
  { name: '_sip._tcp', type: 'SRV' as const, value: '10 5 5060 mail' },
  { name: 'ext', type: 'CNAME' as const, value: 'target.example.net.' },
  { name: 'dangling', type: 'CNAME' as const, value: 'nothere' },
  { name: 'a.b', type: 'A' as const, value: '192.0.2.9' },
  ...BIG.map((text) => ({ name: 'big', type: 'TXT' as const, value: `"${text}"` })),
];

/** …and as Knot's zone file writes it (the managed www A and site CNAME included). */
function zoneFile(serial: number): string {
  return `$ORIGIN ${ZONE}.
$TTL 300
@ 300 IN SOA ns1.${ZONE}. hostmaster.${ZONE}. ${serial} 3600 600 604800 60
@ IN NS ns1
@ IN NS ns2
ns1 3600 IN A 127.0.0.1
ns2 IN AAAA ::1
@ IN MX 10 mail
mail IN A 192.0.2.25
@ IN TXT "v=spf1 -all"
@ IN CAA 0 issue "letsencrypt.org"
_sip._tcp IN SRV 10 5 5060 mail
ext IN CNAME target.example.net.
dangling IN CNAME nothere
a.b IN A 192.0.2.9
${BIG.map((text) => `big IN TXT "${text}"`).join('\n')}
www 60 IN A 192.0.2.1
www 60 IN A 192.0.2.2
site 60 IN CNAME www
`;
}

const at = (label: string) => `${label}.${ZONE}`;

/** The queries: each is sent over UDP and over TCP to both servers. */
const CASES: Array<{ title: string; spec: QuerySpec; cdDiffers?: true }> = [
  { title: 'managed A', spec: { name: at('www'), type: 'A', edns: { size: 1232 } } },
  { title: 'managed A without EDNS', spec: { name: at('www'), type: 'A' } },
  { title: 'managed A, RD set', spec: { name: at('www'), type: 'A', rd: true } },
  { title: 'mixed case', spec: { name: 'WwW.ExAmPlE.tEsT', type: 'A', edns: { size: 1232 } } },
  { title: 'missing name', spec: { name: at('nope'), type: 'A', edns: { size: 1232 } } },
  { title: 'missing name, deeper', spec: { name: at('deep.nope'), type: 'AAAA' } },
  { title: 'wrong type (NODATA)', spec: { name: at('www'), type: 'TXT', edns: { size: 1232 } } },
  { title: 'empty non-terminal', spec: { name: at('b'), type: 'A' } },
  { title: 'an unknown type', spec: { name: at('www'), type: 'NULL' } },
  { title: 'managed CNAME, chain followed', spec: { name: at('site'), type: 'A', edns: { size: 1232 } } },
  { title: 'managed CNAME asked as CNAME', spec: { name: at('site'), type: 'CNAME' } },
  { title: 'CNAME, then NODATA, mixed case', spec: { name: 'SITE.example.test', type: 'AAAA' } },
  { title: 'CNAME out of the zone', spec: { name: at('ext'), type: 'A' } },
  { title: 'dangling CNAME (NXDOMAIN)', spec: { name: at('dangling'), type: 'A' } },
  { title: 'SOA', spec: { name: ZONE, type: 'SOA', edns: { size: 1232 } } },
  { title: 'NS (with glue)', spec: { name: ZONE, type: 'NS' } },
  { title: 'MX', spec: { name: ZONE, type: 'MX' } },
  { title: 'TXT', spec: { name: ZONE, type: 'TXT' } },
  { title: 'CAA', spec: { name: ZONE, type: 'CAA' } },
  { title: 'SRV', spec: { name: at('_sip._tcp'), type: 'SRV' } },
  { title: 'AAAA', spec: { name: at('ns2'), type: 'AAAA' } },
  { title: 'out of zone', spec: { name: 'www.example.net', type: 'A', edns: { size: 1232 } } },
  { title: 'out of zone, no EDNS', spec: { name: 'example.net', type: 'A' } },
  { title: 'the parent zone', spec: { name: 'test', type: 'SOA', edns: { size: 1232 } } },
  { title: 'EDNS 512', spec: { name: at('www'), type: 'A', edns: { size: 512 } } },
  { title: 'EDNS 4096', spec: { name: at('www'), type: 'A', edns: { size: 4096 } } },
  { title: 'too large for 512, no EDNS → TC', spec: { name: at('big'), type: 'TXT' } },
  { title: 'too large for EDNS 512 → TC', spec: { name: at('big'), type: 'TXT', edns: { size: 512 } } },
  { title: 'fits EDNS 4096 (capped to 1232)', spec: { name: at('big'), type: 'TXT', edns: { size: 4096 } } },
  { title: 'DO bit', spec: { name: at('www'), type: 'A', edns: { size: 1232, do: true } } },
  {
    title: 'CD bit (copied by us, cleared by Knot)',
    spec: { name: at('www'), type: 'A', cd: true },
    cdDiffers: true,
  },
  {
    title: 'EDNS version 1 → BADVERS',
    spec: { name: at('www'), type: 'A', edns: { size: 1232, version: 1 } },
  },
  { title: 'ANY at a name with one type', spec: { name: at('www'), type: 'ANY' } },
  { title: 'ANY at the apex (RFC 8482: one RRset)', spec: { name: ZONE, type: 'ANY' } },
];

describe('embedded server vs Knot DNS: the same zone, the same answers', () => {
  let provider: EmbeddedDnsProvider;
  let knot: KnotServer;
  let embedded: { host: string; port: number };

  before(async () => {
    provider = await createEmbeddedProvider({
      listen: ['127.0.0.1:0'],
      zone: ZONE,
      nameservers: [`ns1.${ZONE}.`, `ns2.${ZONE}.`],
      ttl: 300,
      soa: { email: `hostmaster.${ZONE}`, refresh: 3600, retry: 600, expire: 604800, minimum: 60 },
      records: RECORDS,
    });
    embedded = provider.addresses()[0]!;
    await provider.apply([
      {
        name: at('www'),
        type: 'A',
        before: undefined,
        after: { name: at('www'), type: 'A', ttl: 60, values: ['192.0.2.1', '192.0.2.2'] },
      },
      {
        name: at('site'),
        type: 'CNAME',
        before: undefined,
        after: { name: at('site'), type: 'CNAME', ttl: 60, values: [at('www')] },
      },
    ]);
    const serial = provider.serial();
    knot = await startKnot({
      files: () => ({ [`${ZONE}.zone`]: zoneFile(serial) }),
      yaml: (dir) => `zone:\n  - domain: ${ZONE}\n    file: "${dir}/${ZONE}.zone"\n`,
      async ready(server) {
        const reply = await udpExchange(
          server.host,
          server.port,
          makeQuery({ name: ZONE, type: 'SOA' }),
          300,
        );
        const soa = reply && decode(reply).answers?.[0];
        return soa !== undefined && (dataOf(soa) as { serial?: number }).serial === serial;
      },
    });
  });

  after(async () => {
    await knot?.stop();
    await provider?.close();
  });

  for (const transport of ['udp', 'tcp'] as const) {
    describe(transport, () => {
      for (const { title, spec, cdDiffers } of CASES) {
        it(title, async () => {
          const id = 0x4242;
          const message = makeQuery({ ...spec, id });
          const ours = summary(await exchange(embedded, message, transport));
          const theirs = summary(await exchange(knot, message, transport));
          if (cdDiffers) {
            assert.equal(ours.flags.cd, true, 'the embedded server copies CD');
            assert.equal(theirs.flags.cd, false, 'Knot clears CD');
            theirs.flags.cd = true;
          }
          assert.deepEqual(
            ours,
            theirs,
            `embedded (actual) vs Knot (expected) for ${spec.name} ${spec.type}`,
          );
        });
      }
    });
  }

  it('UPDATE: NOTIMP from the embedded server, NOTAUTH from Knot (both refuse it)', async () => {
    const message = makeQuery({ name: ZONE, type: 'SOA', opcode: 5 });
    assert.equal(rcodeName(await exchange(embedded, message, 'udp')), 'NOTIMP');
    assert.equal(rcodeName(await exchange(knot, message, 'udp')), 'NOTAUTH');
  });

  it('two questions: FORMERR from the embedded server, no answer from Knot', async () => {
    const one = makeQuery({ name: at('www'), type: 'A', id: 0x4343 });
    const question = one.subarray(12);
    const two = Buffer.concat([one, question]);
    two.writeUInt16BE(2, 4);
    // The answer that must come is waited for as long as udpExchange's default allows (the wait
    // ends at the reply); the one that must not come gets a short window.
    const ours = await udpExchange(embedded.host, embedded.port, two);
    assert.equal(ours && rcodeName(decode(ours)), 'FORMERR');
    assert.equal(await udpExchange(knot.host, knot.port, two, 500), undefined);
  });
});

async function exchange(
  server: { host: string; port: number },
  message: Buffer,
  transport: 'udp' | 'tcp',
): Promise<DecodedPacket> {
  const reply =
    transport === 'udp'
      ? await udpExchange(server.host, server.port, message)
      : (await tcpExchange(server.host, server.port, [message])).replies[0];
  assert.ok(reply, `an answer from ${server.host}:${server.port} over ${transport}`);
  return decode(reply);
}

/** What is compared: everything that means something, order inside a section left out. */
function summary(packet: DecodedPacket) {
  const records = (section: Answer[] | undefined) =>
    (section ?? [])
      .filter((record) => record.type !== 'OPT')
      .map(
        (record) =>
          `${record.name} ${'ttl' in record ? record.ttl : ''} ${record.type} ${JSON.stringify(dataOf(record))}`,
      )
      .sort();
  const opt = (packet.additionals ?? []).find((record) => record.type === 'OPT') as
    | {
        udpPayloadSize: number;
        ednsVersion: number;
        flag_do: boolean;
        options: Array<{ code: number; data?: Buffer }>;
      }
    | undefined;
  return {
    id: packet.id,
    rcode: fullRcode(packet),
    flags: {
      qr: packet.flag_qr,
      aa: packet.flag_aa,
      tc: packet.flag_tc,
      rd: packet.flag_rd,
      ra: packet.flag_ra,
      ad: packet.flag_ad,
      cd: packet.flag_cd,
    },
    question: packet.questions,
    answer: records(packet.answers),
    authority: records(packet.authorities),
    additional: records(packet.additionals),
    opt: opt && {
      version: opt.ednsVersion,
      size: opt.udpPayloadSize,
      do: opt.flag_do,
      options: opt.options.map((option) => `${option.code}:${option.data?.toString('hex') ?? ''}`),
    },
  };
}
