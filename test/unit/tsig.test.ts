// TSIG (src/dns/tsig.ts) against messages that BIND's own tools signed, captured on the wire:
//   - `dig -y hmac-sha256:outlast-key:… www.example.test A` and `dig -y hmac-sha512:outlast-key512:…
//     www.example.test AAAA` (BIND 9.18.49, with its EDNS cookie), caught by a UDP listener: our
//     signer, given the same message, time and fudge, reproduces them byte for byte;
//   - a query and an UPDATE (from `nsupdate -y`) relayed through a UDP proxy to `named` 9.18.49,
//     with named's signed replies: our verifier accepts the replies given the requests' MACs, and
//     refuses them once a byte is changed.
// Then round trips, hmac-sha512, and every way a verification fails. Plus the wire helpers TSIG
// relies on (names, record layout, server addresses).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readTsig, signMessage, type TsigKey, verifyMessage } from '../../src/dns/tsig.ts';
import {
  CLASS_IN,
  encodeMessage,
  encodeName,
  encodeRdata,
  formatServer,
  OPCODE_QUERY,
  parseServer,
  RR_TYPES,
  readName,
  walkMessage,
} from '../../src/dns/wire.ts';

const hex = (text: string) => Buffer.from(text.replace(/\s/g, ''), 'hex');

/** The keys the captures were made with (test secrets, nowhere else in use). */
const DIG_KEY256: TsigKey = {
  name: 'outlast-key',
  algorithm: 'hmac-sha256',
  secret: 'c2VjcmV0LW91dGxhc3QtdGVzdC1rZXktMzItYnl0ZXMh',
};
const DIG_KEY512: TsigKey = {
  name: 'outlast-key512',
  algorithm: 'hmac-sha512',
  secret: 'c2VjcmV0LW91dGxhc3QtdGVzdC1rZXktNjQtYnl0ZXMtc2hhNTEyLXBhZGRpbmctLS0tLS0tLS0tLS0hIQ==',
};
const NAMED_KEY: TsigKey = {
  name: 'outlast-key',
  algorithm: 'hmac-sha256',
  secret: 'ZYuwmHCZe8EPlhMZhoaZ/C5y7GdX9+cBkOdzHBk1TD4=',
};

/** dig 9.18.49: www.example.test A, EDNS + cookie, signed at 1795465797 (fudge 300, MAC 19ad9e…). */
const DIG_QUERY256 = hex(`
  37690120000100000000000203777777076578616d706c650474657374000001000100002904d000000000000c000a0008
  4574f3aec3efcb680b6f75746c6173742d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b04a2
  45012c002019ad9ed27656aa9db8522621ee652966b96ab11e5cc558fb17d65a47b9fdab90376900000000`);
/** dig 9.18.49: www.example.test AAAA with hmac-sha512, signed at 1795465799. */
const DIG_QUERY512 = hex(`
  71410120000100000000000203777777076578616d706c65047465737400001c000100002904d000000000000c000a0008
  5a09040c2454cda60e6f75746c6173742d6b65793531320000fa00ff00000000005d0b686d61632d7368613531320000006b
  04a247012c0040605081f2feab5bbda66d67ee7b152bd9be2800c069a0e51117c7d0196b507cbb2bf0f9cd63098b3dd4f471
  1f61bd7671022ccf7affaf25a81e29259b6222c054714100000000`);
/** dig → named: example.test SOA (+noedns), and named's signed answer. */
const NAMED_QUERY = hex(`
  bc3700200001000000000001076578616d706c65047465737400000600010b6f75746c6173742d6b65790000fa00ff0000
  0000003d0b686d61632d7368613235360000006b04a261012c002054a6988f52e9deb497b648c12f597db8618ff1719ed4
  17478888d92fa727a8aebc3700000000`);
const NAMED_ANSWER = hex(`
  bc3784000001000100010002076578616d706c6504746573740000060001c00c0006000100000e100027036e7331c00c0a
  686f73746d6173746572c00c0000000100000e1000000258000151800000003cc00c0002000100000e100002c02ac02a00
  01000100000e1000047f0000010b6f75746c6173742d6b65790000fa00ff00000000003d0b686d61632d73686132353600
  00006b04a261012c0020e5d24daee15fd89d0ee3f10b9537b1d62c007e2734ed90fce39463156f0ce8cdbc3700000000`);
/** nsupdate → named: prereq nxrrset vec.example.test A; update add vec.example.test 60 A 192.0.2.1. */
const NSUPDATE_UPDATE = hex(`
  fb4f28000001000100010001076578616d706c650474657374000006000103766563c00c000100fe000000000000c01e00
  0100010000003c0004c00002010b6f75746c6173742d6b65790000fa00ff00000000003d0b686d61632d73686132353600
  00006b04a265012c002008ff4a60335f5bf20c10442a987803656506fdae5e1d952cd2cef5da43341c57fb4f00000000`);
const NAMED_UPDATE_REPLY = hex(`
  fb4fa8000001000000000001076578616d706c65047465737400000600010b6f75746c6173742d6b65790000fa00ff0000
  0000003d0b686d61632d7368613235360000006b04a265012c0020144f12ce62e1c49835e4e62af0b115e0f278fa39ee2f
  10fd28809e568da93a45fb4f00000000`);

/** Verifies at the message's own signing time (the captures are old). */
function verifyAtSigningTime(message: Buffer, key: TsigKey, requestMac?: Buffer) {
  const now = readTsig(message)?.tsig.timeSigned;
  return verifyMessage(message, key, { now, ...(requestMac ? { requestMac } : {}) });
}

function query(id: number, name = 'www.example.test'): Buffer {
  return encodeMessage({
    id,
    opcode: OPCODE_QUERY,
    questions: [{ name, type: RR_TYPES.A, class: CLASS_IN }],
  });
}

/** A reply to `request` with one A record, as a server would build it. */
function answer(request: Buffer, address = '192.0.2.1'): Buffer {
  const message = encodeMessage({
    id: request.readUInt16BE(0),
    opcode: OPCODE_QUERY,
    questions: [{ name: 'www.example.test', type: RR_TYPES.A, class: CLASS_IN }],
    answers: [
      {
        name: 'www.example.test',
        type: RR_TYPES.A,
        class: CLASS_IN,
        ttl: 60,
        rdata: encodeRdata('A', address),
      },
    ],
  });
  message.writeUInt16BE(0x8400, 2); // QR, AA
  return message;
}

describe('tsig: vectors signed by BIND tools', () => {
  for (const [title, message, key] of [
    ['dig -y hmac-sha256', DIG_QUERY256, DIG_KEY256],
    ['dig -y hmac-sha512', DIG_QUERY512, DIG_KEY512],
    ['nsupdate -y hmac-sha256', NSUPDATE_UPDATE, NAMED_KEY],
  ] as const) {
    it(`reproduces the request ${title} signed, byte for byte`, () => {
      const found = readTsig(message);
      assert.ok(found);
      assert.equal(found.tsig.keyName, key.name);
      assert.equal(found.tsig.algorithm, key.algorithm);
      assert.equal(found.tsig.fudge, 300);
      assert.equal(found.tsig.error, 0);
      const again = signMessage(found.unsigned, key, { time: found.tsig.timeSigned });
      assert.equal(again.message.toString('hex'), message.toString('hex'));
      assert.deepEqual(again.mac, found.tsig.mac);
      assert.equal(verifyAtSigningTime(message, key).ok, true);
    });
  }

  it('pins the MAC of the dig hmac-sha256 capture', () => {
    const found = readTsig(DIG_QUERY256)!;
    assert.equal(found.tsig.timeSigned, 1795465797);
    assert.equal(
      found.tsig.mac.toString('hex'),
      '19ad9ed27656aa9db8522621ee652966b96ab11e5cc558fb17d65a47b9fdab90',
    );
    assert.equal(found.tsig.originalId, 0x3769);
  });

  for (const [title, request, reply] of [
    ['a query', NAMED_QUERY, NAMED_ANSWER],
    ['an UPDATE', NSUPDATE_UPDATE, NAMED_UPDATE_REPLY],
  ] as const) {
    it(`verifies named's signed reply to ${title}`, () => {
      const requestVerdict = verifyAtSigningTime(request, NAMED_KEY);
      assert.ok(requestVerdict.ok);
      const verdict = verifyAtSigningTime(reply, NAMED_KEY, requestVerdict.mac);
      assert.equal(verdict.ok, true, JSON.stringify(verdict));
    });

    it(`refuses named's reply to ${title} once changed, or checked against another request`, () => {
      const requestMac = readTsig(request)!.tsig.mac;
      const changed = Buffer.from(reply);
      changed[3]! ^= 0x01; // rcode NOERROR → FORMERR, as a forger would
      const verdict = verifyAtSigningTime(changed, NAMED_KEY, requestMac);
      assert.equal(verdict.ok === false && verdict.problem, 'bad_mac');
      const otherMac = Buffer.from(requestMac);
      otherMac[0]! ^= 0xff;
      const other = verifyAtSigningTime(reply, NAMED_KEY, otherMac);
      assert.equal(other.ok === false && other.problem, 'bad_mac');
      const wrongSecret = { ...NAMED_KEY, secret: DIG_KEY256.secret };
      const wrong = verifyAtSigningTime(reply, wrongSecret, requestMac);
      assert.equal(wrong.ok === false && wrong.problem, 'bad_mac');
    });
  }

  it('reads the answer section of the signed reply untouched (the TSIG is only appended)', () => {
    const { records } = walkMessage(NAMED_ANSWER);
    assert.deepEqual(
      records.map((record) => record.type),
      [RR_TYPES.SOA, 2, RR_TYPES.A, RR_TYPES.TSIG],
    );
  });
});

describe('tsig: round trips', () => {
  for (const key of [NAMED_KEY, DIG_KEY512]) {
    it(`signs a request and a reply and verifies both (${key.algorithm})`, () => {
      const request = signMessage(query(4242), key);
      assert.equal(request.message.readUInt16BE(10), 1, 'ARCOUNT counts the TSIG record');
      assert.equal(request.mac.length, key.algorithm === 'hmac-sha256' ? 32 : 64);
      const asServer = verifyMessage(request.message, key);
      assert.ok(asServer.ok);
      const reply = signMessage(answer(request.message), key, { requestMac: asServer.mac });
      const verdict = verifyMessage(reply.message, key, { requestMac: request.mac });
      assert.ok(verdict.ok);
      assert.deepEqual(verdict.mac, reply.mac);
    });
  }

  it('refuses a tampered reply, a reply to another request, and a reply without the request MAC', () => {
    const request = signMessage(query(7), NAMED_KEY);
    const reply = signMessage(answer(request.message), NAMED_KEY, { requestMac: request.mac }).message;
    const tampered = Buffer.from(reply);
    tampered.set(encodeRdata('A', '203.0.113.66'), tampered.indexOf(encodeRdata('A', '192.0.2.1')));
    const problem = (message: Buffer, requestMac?: Buffer) => {
      const verdict = verifyMessage(message, NAMED_KEY, requestMac ? { requestMac } : {});
      return verdict.ok ? 'ok' : verdict.problem;
    };
    assert.equal(problem(reply, request.mac), 'ok');
    assert.equal(problem(tampered, request.mac), 'bad_mac');
    assert.equal(problem(reply, signMessage(query(7), NAMED_KEY, { time: 1 }).mac), 'bad_mac');
    assert.equal(problem(reply), 'bad_mac');
  });

  it('tells unsigned, another key, a TSIG error and a time outside the fudge apart', () => {
    const plain = query(9);
    assert.deepEqual(verifyMessage(plain, NAMED_KEY), { ok: false, problem: 'unsigned' });
    const byOther = signMessage(plain, { ...NAMED_KEY, name: 'someone-else' }).message;
    const foreign = verifyMessage(byOther, NAMED_KEY);
    assert.equal(foreign.ok === false && foreign.problem, 'other_key');
    const otherAlgorithm = signMessage(plain, { ...DIG_KEY512, name: NAMED_KEY.name }).message;
    const verdict = verifyMessage(otherAlgorithm, NAMED_KEY);
    assert.equal(verdict.ok === false && verdict.problem, 'other_key');
    const badsig = signMessage(plain, NAMED_KEY, { error: 16 }).message;
    const error = verifyMessage(badsig, NAMED_KEY);
    assert.equal(error.ok === false && error.problem === 'tsig_error' && error.tsig.error, 16);
    const old = signMessage(plain, NAMED_KEY, { time: 1_000_000 }).message;
    const late = verifyMessage(old, NAMED_KEY);
    assert.equal(late.ok === false && late.problem, 'bad_time');
    assert.equal(verifyMessage(old, NAMED_KEY, { now: 1_000_300 }).ok, true, 'inside the fudge');
    assert.equal(verifyMessage(old, NAMED_KEY, { now: 1_000_301 }).ok, false, 'just outside');
  });

  it('compares key names without case and ignores a trailing dot', () => {
    const signed = signMessage(query(11), { ...NAMED_KEY, name: 'Outlast-Key.' }).message;
    assert.equal(readTsig(signed)?.tsig.keyName, 'outlast-key');
    assert.equal(verifyMessage(signed, NAMED_KEY).ok, true);
  });

  it('restores the original ID when a middlebox changed the message ID', () => {
    const signed = signMessage(query(0x1234), NAMED_KEY).message;
    signed.writeUInt16BE(0x4321, 0);
    const found = readTsig(signed)!;
    assert.equal(found.unsigned.readUInt16BE(0), 0x1234);
    assert.equal(verifyMessage(signed, NAMED_KEY).ok, true);
  });
});

describe('wire', () => {
  it('writes names lowercase, uncompressed, and refuses bad ones', () => {
    assert.equal(
      encodeName('WWW.Example.Test.').toString('hex'),
      '03777777076578616d706c650474657374' + '00',
    );
    assert.deepEqual(encodeName(''), Buffer.from([0]));
    assert.throws(() => encodeName('a..b'));
    assert.throws(() => encodeName(`${'x'.repeat(64)}.test`));
  });

  it('reads compressed names and refuses pointer loops', () => {
    assert.deepEqual(readName(NAMED_ANSWER, 0x1e), { name: 'example.test', end: 0x20 });
    const loop = Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0, 12]);
    assert.throws(() => readName(loop, 12), /backwards/);
  });

  it('writes IPv6 addresses in every form as 16 bytes', () => {
    assert.equal(encodeRdata('AAAA', '2001:db8::1').toString('hex'), '20010db8000000000000000000000001');
    assert.equal(encodeRdata('AAAA', '::').toString('hex'), '0'.repeat(32));
    assert.equal(encodeRdata('AAAA', '::ffff:192.0.2.1').toString('hex'), '00000000000000000000ffffc0000201');
    assert.equal(encodeRdata('AAAA', '1:2:3:4:5:6:7:8').toString('hex'), '00010002000300040005000600070008');
  });

  it('parses HOST:PORT and [IPV6]:PORT', () => {
    assert.deepEqual(parseServer('127.0.0.1:53'), { host: '127.0.0.1', port: 53 });
    assert.deepEqual(parseServer('[::1]:5353'), { host: '::1', port: 5353 });
    assert.deepEqual(parseServer('ns1.example.test:53'), { host: 'ns1.example.test', port: 53 });
    assert.equal(formatServer(parseServer('[::1]:53')), '[::1]:53');
    for (const bad of ['::1:53', '127.0.0.1', '127.0.0.1:0', '127.0.0.1:70000', '[::1]']) {
      assert.throws(() => parseServer(bad), { code: 'invalid_argument' }, bad);
    }
  });
});
