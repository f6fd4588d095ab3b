/**
 * Zone transfers out (AXFR, RFC 5936) and change notices to the secondaries (NOTIFY, RFC 1996).
 *
 * AXFR goes over TCP only, to addresses in `allowTransfer` (and, when a TSIG key is configured,
 * only when signed with it). IXFR is answered with the whole zone in AXFR form, which RFC 1995 §4
 * allows: the server keeps no history. Over UDP an IXFR gets the current SOA alone (RFC 1995 §2:
 * "the client should then try TCP").
 *
 * A transfer is cut into messages of at most 16 KiB. Signed, the first message is a normal reply
 * signature (tsig.ts); each following one covers only the prior MAC, the message and the TSIG
 * timers (RFC 8945 §5.3.1), which tsig.ts does not do, so it is done here.
 *
 * NOTIFY: after every change, a NOTIFY (with the new SOA as a hint, §3.7) goes to each configured
 * secondary over UDP, and is sent again after 1, 2, 4, 8, 8 s until the secondary answers (any
 * answer ends it; an error rcode is logged). A newer change replaces a NOTIFY still being retried.
 */
import { createHmac } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { BlockList, isIP } from 'node:net';
import type { Logger } from '../../util/log.ts';
import { DEFAULT_FUDGE, signMessage, type TsigKey } from '../tsig.ts';
import { encodeName, formatServer, randomId, type ServerAddress } from '../wire.ts';
import { encodeIfFits, encodeResponse, type Response } from './message.ts';
import type { ParsedQuery } from './query.ts';
import type { RRset } from './records.ts';
import { allRRsets, type Zone } from './zone.ts';

const MESSAGE_BUDGET = 16_384;
/** Room left in each transfer message for a TSIG record (hmac-sha512 with a 255-byte key name). */
const TSIG_ROOM = 400;
const OPCODE_NOTIFY = 4;
/** The wait after each send before the next (the last one ends the tries). */
const NOTIFY_DELAYS_MS = [1000, 2000, 4000, 8000, 8000];

/** Who may transfer the zone: IPv4/IPv6 addresses or CIDR prefixes. Throws on a bad entry. */
export function transferAcl(entries: readonly string[]): (address: string) => boolean {
  const list = new BlockList();
  for (const entry of entries) {
    const [address = '', prefix] = entry.trim().split('/');
    const family = isIP(address);
    if (family === 0) throw new Error(`${JSON.stringify(entry)} is not an IP address or a CIDR prefix`);
    const type = family === 6 ? 'ipv6' : 'ipv4';
    if (prefix === undefined) list.addAddress(address, type);
    else {
      const bits = Number(prefix);
      if (!/^\d+$/.test(prefix) || bits > (family === 6 ? 128 : 32))
        throw new Error(`bad prefix in ${entry}`);
      list.addSubnet(address, bits, type);
    }
  }
  return (address) => {
    // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
    const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
    const family = isIP(plain);
    return family !== 0 && list.check(plain, family === 6 ? 'ipv6' : 'ipv4');
  };
}

/**
 * The messages of a full transfer of `zone` answering `query`: SOA, every other record, SOA
 * again (RFC 5936 §2.2). With `signing`, every message is signed (RFC 8945 §5.3.1).
 */
export function axfrMessages(
  zone: Zone,
  query: ParsedQuery,
  signing?: { key: TsigKey; requestMac: Buffer },
): Buffer[] {
  const records: RRset[] = [];
  for (const set of [...allRRsets(zone), zone.soa]) {
    for (const record of set.records) records.push({ ...set, records: [record] });
  }
  const limit = MESSAGE_BUDGET - (signing ? TSIG_ROOM : 0);
  const messages: Buffer[] = [];
  let start = 0;
  while (start < records.length) {
    const response = (count: number): Response => ({
      id: query.id,
      opcode: 0,
      rcode: 0,
      aa: true,
      rd: query.rd,
      cd: query.cd,
      // The question in the first message only (RFC 5936 §2.2.1 lets the others omit it).
      question: messages.length === 0 ? query.question : undefined,
      answer: records.slice(start, start + count),
      authority: [],
      additional: [],
    });
    // The most records that fit, by bisection (each try stops at the 64 KiB scratch buffer).
    let low = 1;
    let high = records.length - start;
    let best = encodeResponse(response(1), 65_535);
    while (low < high) {
      const middle = Math.ceil((low + high) / 2);
      const fits = encodeIfFits(response(middle), limit);
      if (fits) {
        low = middle;
        best = fits;
      } else {
        high = middle - 1;
      }
    }
    messages.push(best);
    start += low;
  }
  return signing ? signTransfer(messages, signing.key, signing.requestMac) : messages;
}

/** Signs a multi-message reply: the first as any reply, the others per RFC 8945 §5.3.1. */
function signTransfer(messages: Buffer[], key: TsigKey, requestMac: Buffer): Buffer[] {
  const signed: Buffer[] = [];
  let priorMac = requestMac;
  messages.forEach((message, index) => {
    if (index === 0) {
      const first = signMessage(message, key, { requestMac });
      signed.push(first.message);
      priorMac = first.mac;
      return;
    }
    const time = Math.floor(Date.now() / 1000);
    const timers = Buffer.alloc(8);
    timers.writeUIntBE(time, 0, 6);
    timers.writeUInt16BE(DEFAULT_FUDGE, 6);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(priorMac.length);
    const digest = key.algorithm === 'hmac-sha512' ? 'sha512' : 'sha256';
    const mac = createHmac(digest, Buffer.from(key.secret, 'base64'))
      .update(length)
      .update(priorMac)
      .update(message)
      .update(timers)
      .digest();
    signed.push(appendTsig(message, key, time, mac));
    priorMac = mac;
  });
  return signed;
}

/** `message` with a TSIG record (error 0, no other data) appended and ARCOUNT raised. */
function appendTsig(message: Buffer, key: TsigKey, time: number, mac: Buffer): Buffer {
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(250, 0);
  fixed.writeUInt16BE(255, 2); // class ANY
  const tail = Buffer.alloc(10);
  tail.writeUIntBE(time, 0, 6);
  tail.writeUInt16BE(DEFAULT_FUDGE, 6);
  tail.writeUInt16BE(mac.length, 8);
  const trailer = Buffer.alloc(6);
  trailer.writeUInt16BE(message.readUInt16BE(0), 0);
  const rdata = Buffer.concat([encodeName(key.algorithm), tail, mac, trailer]);
  fixed.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([message, encodeName(key.name), fixed, rdata]);
  out.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return out;
}

/** The NOTIFY for `zone` (RFC 1996 §3.7: AA set, the SOA as a hint in the answer section). */
export function notifyMessage(zone: Zone, id: number): Buffer {
  const labels = zone.origin.split('.').map((label) => Buffer.from(label, 'latin1'));
  const message = encodeResponse(
    {
      id,
      opcode: OPCODE_NOTIFY,
      rcode: 0,
      aa: true,
      rd: false,
      cd: false,
      question: { labels, key: zone.origin, type: 6, class: 1 },
      answer: [zone.soa],
      authority: [],
      additional: [],
    },
    512,
  );
  // encodeResponse writes responses; a NOTIFY is a request, so QR is cleared.
  message.writeUInt16BE(message.readUInt16BE(2) & 0x7fff, 2);
  return message;
}

export interface Notifier {
  /** Sends the NOTIFY for `zone` to every secondary (in the background, with retries). */
  notify(zone: Zone): void;
  /** Cancels every pending retry and closes the sockets. */
  close(): void;
}

/** A notifier for `targets`; NOTIFYs are signed with `key` when given. */
export function createNotifier(
  targets: readonly ServerAddress[],
  key: TsigKey | undefined,
  log: Logger,
): Notifier {
  /** Per target, the cancel function of the NOTIFY still being retried. */
  const pending = new Map<string, () => void>();
  let closed = false;

  function send(target: ServerAddress, zone: Zone): void {
    const where = formatServer(target);
    pending.get(where)?.();
    const socket = createSocket(isIP(target.host) === 6 ? 'udp6' : 'udp4');
    let timer: NodeJS.Timeout | undefined;
    let attempt = 0;
    let id = randomId();
    const stop = () => {
      if (timer) clearTimeout(timer);
      socket.close();
      if (pending.get(where) === stop) pending.delete(where);
    };
    pending.set(where, stop);
    socket.on('error', (error) => log.debug({ target: where, err: error.message }, 'notify socket error'));
    socket.on('message', (reply) => {
      if (reply.length < 12 || reply.readUInt16BE(0) !== id || (reply.readUInt16BE(2) & 0x8000) === 0) return;
      const rcode = reply.readUInt16BE(2) & 0xf;
      if (rcode === 0) log.info({ target: where, serial: zone.serial }, 'notify acknowledged');
      else log.warn({ target: where, serial: zone.serial, rcode }, 'notify refused by the secondary');
      stop();
    });
    const attemptOnce = () => {
      if (closed) return stop();
      if (attempt >= NOTIFY_DELAYS_MS.length) {
        log.warn(
          { target: where, serial: zone.serial },
          'notify not acknowledged; the secondary will catch up at its SOA refresh',
        );
        return stop();
      }
      id = randomId();
      const unsigned = notifyMessage(zone, id);
      const message = key ? signMessage(unsigned, key).message : unsigned;
      socket.send(message, target.port, target.host, (error) => {
        if (error) log.debug({ target: where, err: error.message }, 'notify send failed');
      });
      timer = setTimeout(attemptOnce, NOTIFY_DELAYS_MS[attempt++]);
      timer.unref();
    };
    attemptOnce();
  }

  return {
    notify(zone) {
      if (closed) return;
      for (const target of targets) send(target, zone);
    },
    close() {
      closed = true;
      for (const stop of [...pending.values()]) stop();
    },
  };
}
