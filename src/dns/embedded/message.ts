/**
 * The embedded server's writing of the messages it sends (query.ts reads the ones it gets).
 *
 * Hand-written rather than dns-packet for name compression (RFC 1035 §4.1.4: a response is as
 * small as Knot's, so TC is set at the same sizes; dns-packet does not compress), for a question
 * written back with the asker's case, and for speed: one scratch buffer, RDATA written in place.
 */
import type { Edns, ParsedQuery, Question } from './query.ts';
import { type Rdata, type RRset, TYPE_CODES } from './records.ts';

/** The UDP payload size the server advertises and the most it sends (DNS Flag Day 2020). */
export const ADVERTISED_PAYLOAD = 1232;
const TYPE_OPT = 41;
/** RFC 8914 Extended DNS Error option. */
const OPTION_EDE = 15;
const HEADER = 12;
const FLAG_QR = 0x8000;
const FLAG_AA = 0x0400;
const FLAG_TC = 0x0200;
const FLAG_RD = 0x0100;
const FLAG_CD = 0x0010;

/** A response to encode. */
export interface Response {
  id: number;
  opcode: number;
  /** 0–4095: the low 4 bits go in the header, the rest in the OPT (BADVERS is 16). */
  rcode: number;
  aa: boolean;
  rd: boolean;
  cd: boolean;
  question: Question | undefined;
  answer: readonly RRset[];
  authority: readonly RRset[];
  additional: readonly RRset[];
  /** Our OPT: present when the query had one (RFC 6891 §7). */
  edns?: { payloadSize: number; dnssecOk: boolean; ede?: number };
}

/** One scratch buffer for all encodes: encoding is synchronous, so it is never shared. */
const scratch = Buffer.alloc(65535);

/**
 * The response on the wire, at most `limit` bytes: without the additional section if that is
 * enough; else (the answer itself does not fit) the same header with TC set, the question, the
 * OPT and empty sections, as Knot and BIND send it, so the client retries over TCP (RFC 2181 §9,
 * RFC 7766 §5).
 */
export function encodeResponse(response: Response, limit: number): Buffer {
  const full = new Writer().write(response, false);
  if (full !== undefined && full <= limit) return Buffer.from(scratch.subarray(0, full));
  if (response.additional.length > 0) {
    // The additional section is a courtesy: dropped, not truncated, when it is what does not fit.
    const lean = new Writer().write({ ...response, additional: [] }, false);
    if (lean !== undefined && lean <= limit) return Buffer.from(scratch.subarray(0, lean));
  }
  const cut = new Writer().write(response, true) ?? HEADER;
  return Buffer.from(scratch.subarray(0, cut));
}

/** The response on the wire if it fits in `limit` bytes, else undefined (for AXFR's packing). */
export function encodeIfFits(response: Response, limit: number): Buffer | undefined {
  const length = new Writer().write(response, false);
  return length !== undefined && length <= limit ? Buffer.from(scratch.subarray(0, length)) : undefined;
}

class Overflow extends Error {}

class Writer {
  private offset = 0;
  /** Lowercase name → offset of a copy already written (RFC 1035 §4.1.4). */
  private readonly names = new Map<string, number>();

  /** The length written into `scratch`, or undefined when it does not fit in 65535 bytes. */
  write(response: Response, truncated: boolean): number | undefined {
    try {
      const sections = truncated ? [[], [], []] : [response.answer, response.authority, response.additional];
      let flags = FLAG_QR | ((response.opcode & 0xf) << 11) | (response.rcode & 0xf);
      if (response.aa) flags |= FLAG_AA;
      if (truncated) flags |= FLAG_TC;
      if (response.rd) flags |= FLAG_RD;
      if (response.cd) flags |= FLAG_CD;
      this.u16(response.id);
      this.u16(flags);
      this.u16(response.question ? 1 : 0);
      const counts = sections.map((sets) => sets.reduce((sum, set) => sum + set.records.length, 0));
      this.u16(counts[0]!);
      this.u16(counts[1]!);
      this.u16(counts[2]! + (response.edns ? 1 : 0));
      if (response.question) this.question(response.question);
      for (const sets of sections) for (const set of sets) this.rrset(set);
      if (response.edns) this.opt(response.edns, response.rcode);
      return this.offset;
    } catch (error) {
      if (error instanceof Overflow) return undefined;
      throw error;
    }
  }

  private question(question: Question): void {
    const keys = question.key.split('.');
    question.labels.forEach((label, index) => {
      if (this.offset < 0x4000) this.names.set(keys.slice(index).join('.'), this.offset);
      this.u8(label.length);
      this.bytes(label);
    });
    this.u8(0);
    this.u16(question.type);
    this.u16(question.class);
  }

  private rrset(set: RRset): void {
    for (const record of set.records) {
      this.name(set.name, true);
      this.u16(typeCode(record));
      this.u16(1);
      this.u32(set.ttl);
      const lengthAt = this.offset;
      this.u16(0);
      this.rdata(record);
      scratch.writeUInt16BE(this.offset - lengthAt - 2, lengthAt);
    }
  }

  private rdata(record: Rdata): void {
    switch (record.type) {
      case 'A':
      case 'AAAA':
        this.bytes(addressBytes(record.address));
        break;
      case 'CNAME':
      case 'NS':
        this.name(record.target, true);
        break;
      case 'MX':
        this.u16(record.preference);
        this.name(record.exchange, true);
        break;
      case 'SOA':
        this.name(record.mname, true);
        this.name(record.rname, true);
        for (const value of [record.serial, record.refresh, record.retry, record.expire, record.minimum]) {
          this.u32(value);
        }
        break;
      case 'TXT':
        for (const string of record.strings) this.string(Buffer.from(string));
        break;
      case 'SRV':
        this.u16(record.priority);
        this.u16(record.weight);
        this.u16(record.port);
        // RFC 2782: the target is not compressed.
        this.name(record.target, false);
        break;
      case 'CAA':
        this.u8(record.flags);
        this.string(Buffer.from(record.tag));
        this.bytes(Buffer.from(record.value));
        break;
      case 'HINFO':
        this.string(Buffer.from(record.cpu));
        this.string(Buffer.from(record.os));
        break;
    }
  }

  private opt(edns: NonNullable<Response['edns']>, rcode: number): void {
    this.u8(0);
    this.u16(TYPE_OPT);
    this.u16(edns.payloadSize);
    this.u32(((rcode >> 4) << 24) | (edns.dnssecOk ? 0x8000 : 0));
    if (edns.ede === undefined) {
      this.u16(0);
      return;
    }
    this.u16(6);
    this.u16(OPTION_EDE);
    this.u16(2);
    this.u16(edns.ede);
  }

  /** A zone name (lowercase, no trailing dot; '' is the root), compressed against earlier ones. */
  private name(name: string, compress: boolean): void {
    const labels = name === '' ? [] : name.split('.');
    for (let index = 0; index < labels.length; index++) {
      const suffix = index === 0 ? name : labels.slice(index).join('.');
      const known = compress ? this.names.get(suffix) : undefined;
      if (known !== undefined) {
        this.u16(0xc000 | known);
        return;
      }
      // Only names that may be compressed are pointed at: some readers do not expect a pointer
      // into an SRV target.
      if (compress && this.offset < 0x4000 && !this.names.has(suffix)) this.names.set(suffix, this.offset);
      const label = Buffer.from(labels[index]!, 'latin1');
      this.u8(label.length);
      this.bytes(label);
    }
    this.u8(0);
  }

  private string(bytes: Buffer): void {
    this.u8(bytes.length);
    this.bytes(bytes);
  }

  private room(size: number): void {
    if (this.offset + size > scratch.length) throw new Overflow();
  }

  private u8(value: number): void {
    this.room(1);
    scratch[this.offset++] = value;
  }

  private u16(value: number): void {
    this.room(2);
    scratch.writeUInt16BE(value, this.offset);
    this.offset += 2;
  }

  private u32(value: number): void {
    this.room(4);
    scratch.writeUInt32BE(value >>> 0, this.offset);
    this.offset += 4;
  }

  private bytes(bytes: Uint8Array): void {
    this.room(bytes.length);
    scratch.set(bytes, this.offset);
    this.offset += bytes.length;
  }
}

function typeCode(record: Rdata): number {
  return TYPE_CODES[record.type];
}

/** Address bytes, cached: the zone's addresses are few and asked for again and again. */
const addressCache = new Map<string, Buffer>();

function addressBytes(address: string): Buffer {
  let bytes = addressCache.get(address);
  if (bytes) return bytes;
  if (!address.includes(':')) {
    bytes = Buffer.from(address.split('.').map(Number));
  } else {
    const [head = '', tail] = address.split('::');
    const groups = (part: string) => (part === '' ? [] : part.split(':'));
    const left = groups(head);
    const right = tail === undefined ? [] : groups(tail);
    const all = [...left, ...new Array<string>(8 - left.length - right.length).fill('0'), ...right];
    bytes = Buffer.alloc(16);
    all.forEach((group, index) => {
      bytes!.writeUInt16BE(Number.parseInt(group, 16), index * 2);
    });
  }
  if (addressCache.size < 10_000) addressCache.set(address, bytes);
  return bytes;
}

/** A bare error response (FORMERR, NOTIMP, REFUSED…) for a query that could be read. */
export function errorResponse(
  query: Pick<ParsedQuery, 'id' | 'opcode' | 'rd' | 'cd'> & { question?: Question; edns?: Edns | undefined },
  rcode: number,
  ede?: number,
): Response {
  return {
    id: query.id,
    opcode: query.opcode,
    rcode,
    aa: false,
    rd: query.rd,
    cd: query.cd,
    question: query.question,
    answer: [],
    authority: [],
    additional: [],
    ...(query.edns ? { edns: ourOpt(query.edns, ede) } : {}),
  };
}

/** The OPT the server sends back to a query with `edns`: its own payload size, DO copied (RFC 3225). */
function ourOpt(edns: Edns, ede?: number): NonNullable<Response['edns']> {
  return { payloadSize: ADVERTISED_PAYLOAD, dnssecOk: edns.dnssecOk, ...(ede === undefined ? {} : { ede }) };
}
