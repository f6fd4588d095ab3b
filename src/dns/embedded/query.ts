/**
 * The embedded server's reading of the messages it is sent: a strict parser (message.ts writes
 * the answers).
 *
 * Hand-written rather than dns-packet because the server needs what dns-packet does not give:
 * the question's labels as sent (the answer keeps the asker's case, RFC 4343), where each record
 * sits (TSIG must be last, one OPT with the root as owner), and a verdict instead of an exception:
 * parsing stops at the first problem.
 *
 * The parser never throws: an input that is not a DNS query is `drop` (shorter than a header, or
 * a response: answering responses could start a loop between two servers), or `formerr` when the
 * header is readable. Names may only point backwards (a pointer loop or a forward pointer is
 * malformed), and every count is checked against the bytes really there.
 */

/** The question, as parsed. */
export interface Question {
  /** The labels as sent (case kept). */
  labels: Buffer[];
  /** The name lowercase, dot-joined, without the trailing dot; a dot inside a label becomes NUL. */
  key: string;
  type: number;
  class: number;
}

export interface Edns {
  /** The requestor's UDP payload size (the OPT's CLASS). */
  payloadSize: number;
  version: number;
  dnssecOk: boolean;
}

export interface ParsedQuery {
  id: number;
  opcode: number;
  rd: boolean;
  cd: boolean;
  question: Question;
  edns: Edns | undefined;
  /** The last additional record is a TSIG (tsig.ts reads and checks it). */
  signed: boolean;
}

export type ParseOutcome =
  | { kind: 'drop' }
  | { kind: 'formerr'; id: number; opcode: number; rd: boolean; reason: string }
  | { kind: 'query'; query: ParsedQuery };

export const TYPE_OPT = 41;
export const TYPE_TSIG = 250;
const HEADER = 12;
const MAX_NAME = 255;
const FLAG_QR = 0x8000;
const FLAG_RD = 0x0100;
const FLAG_CD = 0x0010;

/** Parses a message sent to the server. Never throws. */
export function parseQuery(message: Buffer): ParseOutcome {
  if (message.length < HEADER) return { kind: 'drop' };
  const id = message.readUInt16BE(0);
  const flags = message.readUInt16BE(2);
  if (flags & FLAG_QR) return { kind: 'drop' };
  const opcode = (flags >> 11) & 0xf;
  const rd = (flags & FLAG_RD) !== 0;
  const formerr = (reason: string): ParseOutcome => ({ kind: 'formerr', id, opcode, rd, reason });
  const qdcount = message.readUInt16BE(4);
  const records = message.readUInt16BE(6) + message.readUInt16BE(8);
  const arcount = message.readUInt16BE(10);
  if (qdcount !== 1) return formerr(`${qdcount} questions`);
  const name = readName(message, HEADER);
  if (typeof name === 'string') return formerr(name);
  if (name.end + 4 > message.length) return formerr('question runs past the message');
  const question: Question = {
    labels: name.labels,
    key: name.labels.map((label) => label.toString('latin1').toLowerCase().replaceAll('.', '\0')).join('.'),
    type: message.readUInt16BE(name.end),
    class: message.readUInt16BE(name.end + 2),
  };
  let offset = name.end + 4;
  let edns: Edns | undefined;
  let signed = false;
  for (let index = 0; index < records + arcount; index++) {
    const owner = readName(message, offset);
    if (typeof owner === 'string') return formerr(owner);
    offset = owner.end;
    if (offset + 10 > message.length) return formerr('record runs past the message');
    const type = message.readUInt16BE(offset);
    const rdlength = message.readUInt16BE(offset + 8);
    const rdata = offset + 10;
    if (rdata + rdlength > message.length) return formerr('record data runs past the message');
    const inAdditional = index >= records;
    if (type === TYPE_OPT) {
      // RFC 6891 §6.1.1: one OPT, owned by the root, in the additional section.
      if (!inAdditional || edns || owner.labels.length > 0) return formerr('misplaced OPT record');
      if (!optionsFit(message, rdata, rdlength)) return formerr('malformed EDNS options');
      const ttl = message.readUInt32BE(offset + 4);
      edns = {
        payloadSize: message.readUInt16BE(offset + 2),
        version: (ttl >>> 16) & 0xff,
        dnssecOk: (ttl & 0x8000) !== 0,
      };
    } else if (type === TYPE_TSIG) {
      // RFC 8945 §5.1: the TSIG is the last record.
      if (!inAdditional || index !== records + arcount - 1) return formerr('TSIG is not the last record');
      signed = true;
    }
    offset = rdata + rdlength;
  }
  return { kind: 'query', query: { id, opcode, rd, cd: (flags & FLAG_CD) !== 0, question, edns, signed } };
}

/** A name's labels and where it ends in the message, or why it is malformed. */
function readName(message: Buffer, start: number): { labels: Buffer[]; end: number } | string {
  const labels: Buffer[] = [];
  let offset = start;
  let end: number | undefined;
  let length = 1;
  // A pointer must point before the pointer itself and before where the last one went: so
  // every jump goes strictly backwards and no loop can form.
  let limit = start;
  for (;;) {
    const byte = message[offset];
    if (byte === undefined) return 'name runs past the message';
    if ((byte & 0xc0) === 0xc0) {
      const low = message[offset + 1];
      if (low === undefined) return 'name runs past the message';
      const target = ((byte & 0x3f) << 8) | low;
      if (target >= limit) return 'compression pointer does not point backwards';
      end ??= offset + 2;
      limit = target;
      offset = target;
      continue;
    }
    if (byte & 0xc0) return 'unknown label type';
    if (byte === 0) return { labels, end: end ?? offset + 1 };
    length += byte + 1;
    if (length > MAX_NAME) return 'name longer than 255 bytes';
    if (offset + 1 + byte > message.length) return 'name runs past the message';
    labels.push(message.subarray(offset + 1, offset + 1 + byte));
    offset += 1 + byte;
  }
}

function optionsFit(message: Buffer, start: number, length: number): boolean {
  let offset = start;
  const end = start + length;
  while (offset < end) {
    if (offset + 4 > end) return false;
    offset += 4 + message.readUInt16BE(offset + 2);
  }
  return offset === end;
}
