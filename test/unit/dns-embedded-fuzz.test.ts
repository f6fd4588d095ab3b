// Fuzzing the embedded DNS server with random and mutated messages (seeded, so a failure replays):
// random bytes, truncated headers, huge section counts, compression pointers that loop, point
// forward or into the header, bad EDNS (OPT not at the root, twice, in the answer section, options
// running past the record, other versions), bad TSIG, odd opcodes and flags, bit flips of valid
// queries. Two levels:
//   - the responder itself, 60,000 messages: it never throws, never falls back to its own
//     "handling failed" SERVFAIL (so no exception was even caught inside), and every reply it gives
//     is a response that dns-packet can decode, with the query's ID;
//   - the real sockets, UDP and TCP (framed, partial frames, lying length prefixes): after every
//     batch a valid query is still answered correctly, and no exception reaches the process.
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { pino } from 'pino';
import { respond } from '../../src/dns/embedded/responder.ts';
import { transferAcl } from '../../src/dns/embedded/transfer.ts';
import { buildZone } from '../../src/dns/embedded/zone.ts';
import {
  createEmbeddedProvider,
  type EmbeddedDnsProvider,
  embeddedZoneDefinition,
} from '../../src/dns/providers/embedded.ts';
import { signMessage, type TsigKey } from '../../src/dns/tsig.ts';
import {
  dataOf,
  decode,
  framed,
  makeQuery,
  prng,
  tcpExchange,
  udpExchange,
} from '../servers/embedded-dns.ts';

const ZONE = 'example.test';
const SEED = Number(process.env.OUTLAST_FUZZ_SEED ?? 20240601);
const KEY: TsigKey = {
  name: 'fuzz-key',
  algorithm: 'hmac-sha256',
  secret: 'ZYuwmHCZe8EPlhMZhoaZ/C5y7GdX9+cBkOdzHBk1TD4=',
};
const CONFIG = {
  zone: ZONE,
  nameservers: ['ns1.example.test.'],
  records: [
    { name: 'ns1', type: 'A' as const, value: '127.0.0.1' },
    { name: 'alias', type: 'CNAME' as const, value: 'www' },
    { name: '@', type: 'MX' as const, value: '10 ns1' },
    ...Array.from({ length: 8 }, (_, index) => ({
      name: 'big',
      type: 'TXT' as const,
      value: `${index}${'z'.repeat(120)}`,
    })),
  ],
};

type Random = () => number;

/** A generator of hostile messages; `rand` decides everything, so the sequence is replayable. */
function hostileMessage(rand: Random): Buffer {
  const int = (max: number) => Math.floor(rand() * max);
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]!;
  const names = [
    ZONE,
    `www.${ZONE}`,
    `WWW.${ZONE.toUpperCase()}`,
    `alias.${ZONE}`,
    `big.${ZONE}`,
    'example.net',
    `a.b.c.${ZONE}`,
  ];
  const types = ['A', 'AAAA', 'TXT', 'CNAME', 'SOA', 'NS', 'MX', 'ANY', 'AXFR', 'IXFR', 'OPT', 'CAA', 'SRV'];
  const valid = () =>
    makeQuery({
      name: pick(names),
      type: pick(types),
      id: int(65536),
      rd: rand() < 0.5,
      opcode: rand() < 0.9 ? 0 : int(16),
      ...(rand() < 0.5
        ? { edns: { size: int(70000) % 65536, version: rand() < 0.8 ? 0 : int(256), do: rand() < 0.5 } }
        : {}),
    });
  const header = (qd: number, an: number, ns: number, ar: number, flags = 0) => {
    const bytes = Buffer.alloc(12);
    bytes.writeUInt16BE(int(65536), 0);
    bytes.writeUInt16BE(flags, 2);
    bytes.writeUInt16BE(qd, 4);
    bytes.writeUInt16BE(an, 6);
    bytes.writeUInt16BE(ns, 8);
    bytes.writeUInt16BE(ar, 10);
    return bytes;
  };
  const question = Buffer.from([
    3,
    0x77,
    0x77,
    0x77,
    7,
    ...Buffer.from('example'),
    4,
    ...Buffer.from('test'),
    0,
    0,
    1,
    0,
    1,
  ]);
  const opt = (owner: number[], payload: number, ttl: number, rdata: Buffer) => {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(41, 0);
    fixed.writeUInt16BE(payload, 2);
    fixed.writeUInt32BE(ttl >>> 0, 4);
    fixed.writeUInt16BE(rdata.length, 8);
    return Buffer.concat([Buffer.from(owner), fixed, rdata]);
  };
  switch (int(12)) {
    case 0: // random bytes
      return Buffer.from(Array.from({ length: int(600) }, () => int(256)));
    case 1: // a truncated header or question
      return valid().subarray(0, int(30));
    case 2: // huge counts over a short body
      return Buffer.concat([
        header(int(65536), int(65536), int(65536), 65535),
        question.subarray(0, int(question.length + 1)),
      ]);
    case 3: {
      // compression pointers: to itself, forward, into the header, a chain of two that loops
      const pointers = [
        [0xc0, 12],
        [0xc0, 14],
        [0xc0, 2],
        [0xc0 | int(64), int(256)],
        [1, 0x61, 0xc0, 12],
        [1, 0x61, 0xc0, 16, 0xc0, 12],
      ];
      return Buffer.concat([header(1, 0, 0, 0), Buffer.from(pick(pointers)), Buffer.from([0, 1, 0, 1])]);
    }
    case 4: {
      // bad EDNS: owner not root, two OPTs, OPT as an answer, options past the record, odd versions
      const good = opt([0], 4096, 0, Buffer.alloc(0));
      const variants = [
        () => Buffer.concat([header(1, 0, 0, 1), question, opt([1, 0x61, 0], 4096, 0, Buffer.alloc(0))]),
        () => Buffer.concat([header(1, 0, 0, 2), question, good, good]),
        () => Buffer.concat([header(1, 1, 0, 0), question, good]),
        () =>
          Buffer.concat([header(1, 0, 0, 1), question, opt([0], 512, 0, Buffer.from([0, 10, 0, 200, 1, 2]))]),
        () =>
          Buffer.concat([header(1, 0, 0, 1), question, opt([0], int(65536), int(2 ** 32), Buffer.alloc(0))]),
        () =>
          Buffer.concat([header(1, 0, 0, 1), question, opt([0], 0, 0xff000000, Buffer.from([0, 15, 0, 0]))]),
      ];
      return pick(variants)();
    }
    case 5: {
      // TSIG: signed by us then damaged, signed with another key, or not the last record
      const signed = signMessage(valid(), rand() < 0.5 ? KEY : { ...KEY, name: 'stranger' }).message;
      const at = 12 + int(signed.length - 12);
      const damaged = Buffer.from(signed);
      damaged[at] = int(256);
      const extra = Buffer.concat([signed, opt([0], 4096, 0, Buffer.alloc(0))]);
      extra.writeUInt16BE(extra.readUInt16BE(10) + 1, 10);
      return pick([signed, damaged, extra, signed.subarray(0, signed.length - int(20))]);
    }
    case 6: // a response (QR set): must not be answered
      return Buffer.concat([header(1, 0, 0, 0, 0x8000 | int(0x8000)), question]);
    case 7: // every header flag and opcode at random
      return Buffer.concat([header(int(3), int(2), int(2), int(2), int(0x8000)), question, question]);
    case 8: {
      // a label longer than 63 (the two top bits 01 or 10: unknown label types) or a name > 255
      const long = Buffer.concat(
        Array.from({ length: 5 }, () => Buffer.from([63, ...Buffer.alloc(63, 0x61)])),
      );
      return Buffer.concat([
        header(1, 0, 0, 0),
        pick([Buffer.from([0x40 | int(64)]), Buffer.from([0x80 | int(64)]), long]),
        Buffer.from([0, 0, 1, 0, 1]),
      ]);
    }
    default: {
      // a valid query with a few bytes flipped, cut, or grown
      const bytes = Buffer.from(valid());
      for (let flips = 1 + int(4); flips > 0; flips--) bytes[int(bytes.length)] = int(256);
      if (rand() < 0.3) return bytes.subarray(0, int(bytes.length));
      if (rand() < 0.3)
        return Buffer.concat([bytes, Buffer.from(Array.from({ length: int(40) }, () => int(256)))]);
      return bytes;
    }
  }
}

describe('embedded server fuzz', () => {
  const uncaught: unknown[] = [];
  const onUncaught = (error: unknown) => uncaught.push(error);
  let provider: EmbeddedDnsProvider;
  let port: number;

  before(async () => {
    process.on('uncaughtException', onUncaught);
    process.on('unhandledRejection', onUncaught);
    provider = await createEmbeddedProvider({
      ...CONFIG,
      listen: ['127.0.0.1:0'],
      secondaries: { allowTransfer: ['127.0.0.1'] },
    });
    port = provider.addresses()[0]!.port;
    await provider.apply([
      {
        name: `www.${ZONE}`,
        type: 'A',
        before: undefined,
        after: { name: `www.${ZONE}`, type: 'A', ttl: 60, values: ['192.0.2.1'] },
      },
    ]);
  });

  after(async () => {
    await provider.close();
    process.off('uncaughtException', onUncaught);
    process.off('unhandledRejection', onUncaught);
  });

  /** The server still answers www A correctly over UDP and TCP. */
  async function stillAnswers(): Promise<void> {
    const udp = await udpExchange('127.0.0.1', port, makeQuery({ name: `www.${ZONE}`, type: 'A' }));
    assert.ok(udp, 'a UDP answer');
    assert.deepEqual(decode(udp).answers?.map(dataOf), ['192.0.2.1']);
    const { replies } = await tcpExchange('127.0.0.1', port, [makeQuery({ name: `www.${ZONE}`, type: 'A' })]);
    assert.deepEqual(decode(replies[0]!).answers?.map(dataOf), ['192.0.2.1']);
    assert.deepEqual(uncaught, [], 'no uncaught exception');
  }

  it('the responder: 60,000 hostile messages, no exception, every reply a decodable response', () => {
    const errors: string[] = [];
    const log = pino({ level: 'error' }, { write: (line: string) => errors.push(line) });
    const definition = embeddedZoneDefinition(CONFIG);
    const zone = buildZone(
      definition,
      [{ name: `www.${ZONE}`, type: 'A', ttl: 60, values: ['192.0.2.1'] }],
      1,
    );
    const options = { zone: () => zone, mayTransfer: transferAcl(['127.0.0.1']), key: KEY, log };
    const rand = prng(SEED);
    const rcodes = new Map<number, number>();
    let dropped = 0;
    for (let index = 0; index < 60_000; index++) {
      const message = hostileMessage(rand);
      const transport = rand() < 0.5 ? 'udp' : 'tcp';
      const replies = respond(options, message, transport, '127.0.0.1');
      if (replies.length === 0) dropped++;
      for (const reply of replies) {
        assert.ok(
          transport === 'tcp' || reply.length <= 1232,
          'a UDP reply fits the largest payload we allow',
        );
        assert.equal(reply.readUInt16BE(0), message.readUInt16BE(0), 'the query ID');
        assert.ok(reply.readUInt16BE(2) & 0x8000, 'QR set');
        assert.doesNotThrow(() => decode(reply), `decodable reply to ${message.toString('hex')}`);
        const rcode = reply.readUInt16BE(2) & 0xf;
        rcodes.set(rcode, (rcodes.get(rcode) ?? 0) + 1);
      }
    }
    assert.deepEqual(errors, [], 'no exception caught inside the responder');
    const summary = [...rcodes].sort((a, b) => a[0] - b[0]).map(([code, count]) => `rcode ${code}: ${count}`);
    console.log(`# responder fuzz (seed ${SEED}): dropped ${dropped}; ${summary.join(', ')}`);
    assert.ok(
      (rcodes.get(1) ?? 0) > 1000 && (rcodes.get(0) ?? 0) > 1000,
      'both FORMERR and answers were exercised',
    );
  });

  it('UDP: 10 batches of 500 datagrams, a valid query answered after each', async () => {
    const rand = prng(SEED + 1);
    const socket = createSocket('udp4');
    let replies = 0;
    socket.on('message', () => replies++);
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    try {
      for (let batch = 0; batch < 10; batch++) {
        for (let index = 0; index < 500; index++) {
          const message = hostileMessage(rand);
          if (message.length > 0) socket.send(message, port, '127.0.0.1');
          if (index % 50 === 0) await sleep(1); // some room for the server's socket buffer
        }
        await stillAnswers();
      }
    } finally {
      socket.close();
    }
    console.log(`# udp fuzz: 5000 datagrams sent, ${replies} answered`);
  });

  it('TCP: 10 batches of 300 messages on 30 connections, with partial frames and lying lengths', async () => {
    const rand = prng(SEED + 2);
    let answered = 0;
    for (let batch = 0; batch < 10; batch++) {
      const connections = Array.from({ length: 3 }, async () => {
        const messages = Array.from({ length: 100 }, () => hostileMessage(rand));
        const stream = Buffer.concat(messages.map(framed));
        // Cut the stream at a random point and end with a length prefix promising more.
        const cut = rand() < 0.5 ? stream.subarray(0, Math.floor(rand() * stream.length)) : stream;
        const tail = rand() < 0.5 ? Buffer.from([0xff, 0xff, 1, 2, 3]) : Buffer.alloc(0);
        const socket = connect({ host: '127.0.0.1', port });
        await new Promise<void>((resolve) => {
          let received = Buffer.alloc(0);
          socket.on('data', (chunk: Buffer) => {
            received = Buffer.concat([received, chunk]);
            // Count whole replies; each must be a response dns-packet decodes.
            while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
              const reply = received.subarray(2, 2 + received.readUInt16BE(0));
              assert.doesNotThrow(() => decode(reply));
              answered++;
              received = received.subarray(2 + reply.length);
            }
          });
          socket.on('connect', () => {
            // Written in random pieces, so frames are split across reads.
            let offset = 0;
            const whole = Buffer.concat([cut, tail]);
            while (offset < whole.length) {
              const size = 1 + Math.floor(rand() * 700);
              socket.write(whole.subarray(offset, offset + size));
              offset += size;
            }
            setTimeout(() => {
              socket.destroy();
              resolve();
            }, 150);
          });
          socket.on('error', () => resolve());
        });
      });
      await Promise.all(connections);
      await stillAnswers();
    }
    console.log(`# tcp fuzz: 3000 messages on 30 connections, ${answered} answers`);
  });
});
