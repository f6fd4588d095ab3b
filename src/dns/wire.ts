/**
 * DNS messages on the wire, for the RFC 2136 provider and TSIG.
 *
 * Messages are encoded here rather than with dns-packet because an UPDATE needs what dns-packet
 * cannot write: class NONE (254) and records without RDATA (prerequisites and deletes, RFC 2136
 * §2.4 and §2.5). Names are written lowercase and uncompressed, which is also the canonical form
 * TSIG signs. Decoding the answers of a query is left to dns-packet; what is read here is only the
 * layout (where each record starts), which TSIG needs to find and strip its own record.
 *
 * `exchange` sends one message and waits for the reply with the same ID: over UDP, over TCP
 * (two-byte length prefix) when the message is larger than 512 bytes or the reply is truncated.
 * One socket per exchange, closed after; one attempt (the caller retries).
 */
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP, connect as tcpConnect } from 'node:net';
import { messageOf, OutlastError } from '../errors.ts';

export const CLASS_IN = 1;
export const CLASS_NONE = 254;
export const CLASS_ANY = 255;
export const RR_TYPES = { A: 1, CNAME: 5, SOA: 6, AAAA: 28, TSIG: 250 } as const;
export const OPCODE_QUERY = 0;
export const OPCODE_UPDATE = 5;
/** The classic UDP limit without EDNS (RFC 1035 §4.2.1); we send no OPT record. */
export const UDP_MAX = 512;
const FLAG_QR = 0x8000;
const FLAG_TC = 0x0200;

export interface WireQuestion {
  name: string;
  type: number;
  class: number;
}

export interface WireRecord {
  name: string;
  type: number;
  class: number;
  ttl: number;
  /** Empty for RFC 2136's "no RDATA" records. */
  rdata: Uint8Array;
}

/** An outgoing message. For an UPDATE the four sections are zone, prerequisite, update, additional. */
export interface WireMessage {
  id: number;
  opcode: number;
  questions: WireQuestion[];
  answers?: WireRecord[];
  authorities?: WireRecord[];
  additionals?: WireRecord[];
}

/** Where a record sits in a message, as `walkMessage` finds it. */
export interface RecordLayout {
  /** Offset of the record's owner name. */
  offset: number;
  type: number;
  class: number;
  rdataOffset: number;
  rdataLength: number;
  /** Offset just past the record. */
  end: number;
}

/** A random message ID (RFC 5452: predictable IDs make spoofed replies easy). */
export function randomId(): number {
  return randomInt(0, 0x10000);
}

/** `WWW.Example.test.` → the lowercase, uncompressed wire form; the root is `''` or `.`. */
export function encodeName(name: string): Buffer {
  const text = name.toLowerCase().replace(/\.$/, '');
  const labels = text === '' ? [] : text.split('.');
  const parts: Buffer[] = [];
  for (const label of labels) {
    const bytes = Buffer.from(label, 'utf8');
    if (bytes.length === 0 || bytes.length > 63) throw new Error(`bad DNS name ${JSON.stringify(name)}`);
    parts.push(Buffer.from([bytes.length]), bytes);
  }
  parts.push(Buffer.from([0]));
  const wire = Buffer.concat(parts);
  if (wire.length > 255) throw new Error(`DNS name too long: ${JSON.stringify(name)}`);
  return wire;
}

/** RDATA of an A, AAAA or CNAME record from its text form (already validated by the caller). */
export function encodeRdata(type: 'A' | 'AAAA' | 'CNAME', value: string): Buffer {
  if (type === 'CNAME') return encodeName(value);
  if (type === 'A') return Buffer.from(value.split('.').map(Number));
  return ipv6Bytes(value);
}

export function encodeMessage(message: WireMessage): Buffer {
  const answers = message.answers ?? [];
  const authorities = message.authorities ?? [];
  const additionals = message.additionals ?? [];
  const header = Buffer.alloc(12);
  header.writeUInt16BE(message.id, 0);
  header.writeUInt16BE((message.opcode & 0xf) << 11, 2);
  header.writeUInt16BE(message.questions.length, 4);
  header.writeUInt16BE(answers.length, 6);
  header.writeUInt16BE(authorities.length, 8);
  header.writeUInt16BE(additionals.length, 10);
  const parts: Buffer[] = [header];
  for (const question of message.questions) {
    const fixed = Buffer.alloc(4);
    fixed.writeUInt16BE(question.type, 0);
    fixed.writeUInt16BE(question.class, 2);
    parts.push(encodeName(question.name), fixed);
  }
  for (const record of [...answers, ...authorities, ...additionals]) {
    const fixed = Buffer.alloc(10);
    fixed.writeUInt16BE(record.type, 0);
    fixed.writeUInt16BE(record.class, 2);
    fixed.writeUInt32BE(record.ttl, 4);
    fixed.writeUInt16BE(record.rdata.length, 8);
    parts.push(encodeName(record.name), fixed, Buffer.from(record.rdata));
  }
  return Buffer.concat(parts);
}

/** The reply code in the header (the low four bits; we send no EDNS, so there is no extension). */
export function rcodeOf(message: Buffer): number {
  return message.readUInt16BE(2) & 0xf;
}

/**
 * The layout of every record in a message (answer, authority and additional sections, in order),
 * and the additional count. Throws on a message that does not parse.
 */
export function walkMessage(message: Buffer): { records: RecordLayout[]; additionalCount: number } {
  if (message.length < 12) throw new Error('DNS message shorter than its header');
  const questions = message.readUInt16BE(4);
  const recordCount = message.readUInt16BE(6) + message.readUInt16BE(8) + message.readUInt16BE(10);
  let offset = 12;
  for (let i = 0; i < questions; i++) offset = readName(message, offset).end + 4;
  const records: RecordLayout[] = [];
  for (let i = 0; i < recordCount; i++) {
    const start = offset;
    offset = readName(message, offset).end;
    if (offset + 10 > message.length) throw new Error('DNS record runs past the message');
    const rdataLength = message.readUInt16BE(offset + 8);
    const end = offset + 10 + rdataLength;
    if (end > message.length) throw new Error('DNS record runs past the message');
    records.push({
      offset: start,
      type: message.readUInt16BE(offset),
      class: message.readUInt16BE(offset + 2),
      rdataOffset: offset + 10,
      rdataLength,
      end,
    });
    offset = end;
  }
  return { records, additionalCount: message.readUInt16BE(10) };
}

/** Reads a (possibly compressed) name: the lowercase text without trailing dot, and where it ends. */
export function readName(message: Buffer, start: number): { name: string; end: number } {
  const labels: string[] = [];
  let offset = start;
  let end: number | undefined;
  // Each pointer must go backwards, so a loop of pointers cannot hang us.
  let limit = start;
  for (;;) {
    const length = message[offset];
    if (length === undefined) throw new Error('DNS name runs past the message');
    if ((length & 0xc0) === 0xc0) {
      const target = ((length & 0x3f) << 8) | (message[offset + 1] ?? 0xff);
      if (target >= limit) throw new Error('DNS name pointer does not point backwards');
      end ??= offset + 2;
      limit = target;
      offset = target;
      continue;
    }
    if (length & 0xc0) throw new Error('unknown DNS label type');
    if (length === 0) break;
    if (offset + 1 + length > message.length) throw new Error('DNS name runs past the message');
    labels.push(message.toString('latin1', offset + 1, offset + 1 + length).toLowerCase());
    offset += 1 + length;
  }
  return { name: labels.join('.'), end: end ?? offset + 1 };
}

/** A DNS server's address, as the config writes it: `HOST:PORT` or `[IPV6]:PORT`. */
export interface ServerAddress {
  host: string;
  port: number;
}

export function parseServer(text: string): ServerAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s[\]]+)):(\d{1,5})$/.exec(text.trim());
  const port = Number(match?.[3]);
  const host = match?.[1] ?? match?.[2];
  if (!match || host === undefined || port < 1 || port > 65535) {
    throw new OutlastError(
      'invalid_argument',
      `expected HOST:PORT or [IPV6]:PORT, got ${JSON.stringify(text)}`,
    );
  }
  return { host, port };
}

export function formatServer(server: ServerAddress): string {
  return isIP(server.host) === 6 ? `[${server.host}]:${server.port}` : `${server.host}:${server.port}`;
}

export interface ExchangeOptions {
  /** The whole budget, UDP try and TCP fallback together (ms). */
  timeoutMs: number;
  /** The `source` of the errors thrown (the provider's name). */
  source: string;
}

/**
 * Sends `message` to `server` and resolves with the reply carrying the same ID: over UDP first,
 * over TCP if the message does not fit in 512 bytes or the UDP reply is truncated. Throws
 * `timeout` when the budget runs out and `unavailable` when the server cannot be reached.
 */
export async function exchange(
  server: ServerAddress,
  message: Buffer,
  options: ExchangeOptions,
): Promise<Buffer> {
  const deadline = Date.now() + options.timeoutMs;
  const where = formatServer(server);
  try {
    const family = isIP(server.host);
    const address = family !== 0 ? { address: server.host, family } : await lookup(server.host);
    if (message.length <= UDP_MAX) {
      const reply = await udpExchange(address.address, address.family, server.port, message, deadline);
      if ((reply.readUInt16BE(2) & FLAG_TC) === 0) return reply;
    }
    return await tcpExchange(address.address, server.port, message, deadline);
  } catch (error) {
    if (error instanceof OutlastError) throw error;
    if (error instanceof TimeoutError) {
      throw new OutlastError('timeout', `no answer from ${where} within ${options.timeoutMs} ms`, {
        source: options.source,
      });
    }
    throw new OutlastError('unavailable', `cannot reach DNS server ${where}: ${messageOf(error)}`, {
      source: options.source,
      cause: error,
    });
  }
}

class TimeoutError extends Error {}

function isReplyTo(reply: Buffer, request: Buffer): boolean {
  return (
    reply.length >= 12 &&
    reply.readUInt16BE(0) === request.readUInt16BE(0) &&
    (reply.readUInt16BE(2) & FLAG_QR) !== 0
  );
}

function udpExchange(address: string, family: number, port: number, message: Buffer, deadline: number) {
  return new Promise<Buffer>((resolve, reject) => {
    const socket = createSocket(family === 6 ? 'udp6' : 'udp4');
    let done = false;
    const finish = (error: Error | undefined, reply?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new TimeoutError()), Math.max(0, deadline - Date.now()));
    // A connected socket only takes datagrams from the server, and hears its ICMP "port
    // unreachable" as ECONNREFUSED instead of waiting for the timeout.
    socket.on('error', (error) => finish(error));
    socket.on('message', (reply) => {
      if (isReplyTo(reply, message)) finish(undefined, reply);
    });
    socket.connect(port, address, () => {
      socket.send(message, (error) => {
        if (error) finish(error);
      });
    });
  });
}

function tcpExchange(address: string, port: number, message: Buffer, deadline: number) {
  return new Promise<Buffer>((resolve, reject) => {
    const socket = tcpConnect({ host: address, port });
    let received = Buffer.alloc(0);
    let done = false;
    const finish = (error: Error | undefined, reply?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (error) reject(error);
      else resolve(reply!);
    };
    const timer = setTimeout(() => finish(new TimeoutError()), Math.max(0, deadline - Date.now()));
    socket.on('error', (error) => finish(error));
    socket.on('close', () => finish(new Error('the server closed the TCP connection without a reply')));
    socket.on('connect', () => {
      const length = Buffer.alloc(2);
      length.writeUInt16BE(message.length);
      socket.write(Buffer.concat([length, message]));
    });
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
      // Several messages may arrive on one connection; take the first that answers ours.
      while (received.length >= 2 && received.length >= 2 + received.readUInt16BE(0)) {
        const reply = received.subarray(2, 2 + received.readUInt16BE(0));
        received = received.subarray(2 + reply.length);
        if (isReplyTo(reply, message)) return finish(undefined, Buffer.from(reply));
      }
    });
  });
}

/** `2001:db8::1` → 16 bytes; accepts the embedded IPv4 form (`::ffff:192.0.2.1`). */
function ipv6Bytes(address: string): Buffer {
  const groups = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((group) => {
          if (!group.includes('.')) return [Number.parseInt(group, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = address.split('::');
  const left = groups(head);
  const right = tail === undefined ? [] : groups(tail);
  const all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  const bytes = Buffer.alloc(16);
  all.forEach((group, index) => {
    bytes.writeUInt16BE(group, index * 2);
  });
  return bytes;
}
