/**
 * TSIG (RFC 8945): HMAC signatures on DNS messages with a shared secret, as BIND, Knot and
 * PowerDNS use to authorize dynamic updates.
 *
 * dns-packet knows the TSIG type code but has no encoder for its RDATA, so the record is built
 * here. The MAC covers (RFC 8945 §4.3.3):
 *   - for a reply only: the request's MAC, preceded by its length;
 *   - the message as it was before the TSIG record was added (ARCOUNT one less, the original ID);
 *   - the "TSIG variables": key name and algorithm name in canonical wire form (lowercase,
 *     uncompressed), class ANY, TTL 0, time signed (48 bits), fudge, error, other length and data.
 *
 * Nothing here throws for a bad signature: `verifyMessage` says what is wrong and the caller
 * decides (the rfc2136 provider maps every problem to `permission_denied`). Never log a secret.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { CLASS_ANY, encodeName, RR_TYPES, readName, walkMessage } from './wire.ts';

export type TsigAlgorithm = 'hmac-sha256' | 'hmac-sha512';

/** A TSIG key as BIND's and Knot's key files write it. */
export interface TsigKey {
  /** The key's name (a domain name), e.g. `outlast-key`. Compared without case. */
  name: string;
  algorithm: TsigAlgorithm;
  /** The shared secret, base64. */
  secret: string;
}

/** The window either side of "time signed" that a receiver accepts (RFC 8945 §10 recommends 300 s). */
export const DEFAULT_FUDGE = 300;

/** The TSIG error codes (RFC 8945 §3, IANA "DNS RCODEs"), for messages. */
export const TSIG_ERRORS: Readonly<Record<number, string>> = {
  16: 'BADSIG',
  17: 'BADKEY',
  18: 'BADTIME',
  22: 'BADTRUNC',
};

const DIGESTS: Record<TsigAlgorithm, string> = { 'hmac-sha256': 'sha256', 'hmac-sha512': 'sha512' };

/** A TSIG record as read from a message. */
export interface TsigRecord {
  keyName: string;
  algorithm: string;
  /** Seconds since the epoch. */
  timeSigned: number;
  fudge: number;
  mac: Buffer;
  originalId: number;
  /** 0, or a TSIG error code (BADSIG 16, BADKEY 17, BADTIME 18, BADTRUNC 22). */
  error: number;
  other: Buffer;
}

export interface SignOptions {
  /** Seconds since the epoch (default: now). */
  time?: number;
  fudge?: number;
  /** Signing a reply: the MAC of the request it answers. */
  requestMac?: Buffer;
  /** A server's TSIG error, and for BADTIME its own time in `other` (used by tests that play server). */
  error?: number;
  other?: Buffer;
}

export interface SignedMessage {
  /** The message with the TSIG record appended and ARCOUNT raised by one. */
  message: Buffer;
  /** The MAC, which the reply's MAC covers (pass it to `verifyMessage`). */
  mac: Buffer;
}

/** Signs `message` (a complete message without TSIG) with `key`. */
export function signMessage(message: Buffer, key: TsigKey, options: SignOptions = {}): SignedMessage {
  const tsig = {
    keyName: key.name,
    algorithm: key.algorithm,
    timeSigned: options.time ?? nowSeconds(),
    fudge: options.fudge ?? DEFAULT_FUDGE,
    originalId: message.readUInt16BE(0),
    error: options.error ?? 0,
    other: options.other ?? Buffer.alloc(0),
  };
  const mac = computeMac(key, message, tsig, options.requestMac);
  const algorithm = encodeName(tsig.algorithm);
  const rdata = Buffer.concat([
    algorithm,
    uint48(tsig.timeSigned),
    uint16(tsig.fudge),
    uint16(mac.length),
    mac,
    uint16(tsig.originalId),
    uint16(tsig.error),
    uint16(tsig.other.length),
    tsig.other,
  ]);
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(RR_TYPES.TSIG, 0);
  fixed.writeUInt16BE(CLASS_ANY, 2);
  fixed.writeUInt32BE(0, 4);
  fixed.writeUInt16BE(rdata.length, 8);
  const signed = Buffer.concat([message, encodeName(key.name), fixed, rdata]);
  signed.writeUInt16BE(message.readUInt16BE(10) + 1, 10);
  return { message: signed, mac };
}

/** Why a message did not verify (`ok: false`), or its MAC (`ok: true`). */
export type TsigVerdict =
  | { ok: true; mac: Buffer; tsig: TsigRecord }
  /** No TSIG record at all. */
  | { ok: false; problem: 'unsigned' }
  /** Signed with another key or algorithm than ours. */
  | { ok: false; problem: 'other_key'; tsig: TsigRecord }
  /** The sender reports a TSIG error (a server that rejected our request says so here). */
  | { ok: false; problem: 'tsig_error'; tsig: TsigRecord }
  /** The MAC is wrong: a different secret, or the message was changed on the way. */
  | { ok: false; problem: 'bad_mac'; tsig: TsigRecord }
  /** The MAC is right but the time signed is outside the fudge window (clock skew or a replay). */
  | { ok: false; problem: 'bad_time'; tsig: TsigRecord };

export interface VerifyOptions {
  /** Verifying a reply: the MAC of our request. */
  requestMac?: Buffer;
  /** Seconds since the epoch (default: now). */
  now?: number;
}

/** Checks the TSIG record that ends `message` against `key`. */
export function verifyMessage(message: Buffer, key: TsigKey, options: VerifyOptions = {}): TsigVerdict {
  const found = readTsig(message);
  if (found === undefined) return { ok: false, problem: 'unsigned' };
  const { tsig, unsigned } = found;
  if (tsig.keyName !== normalizeKeyName(key.name) || tsig.algorithm !== key.algorithm) {
    return { ok: false, problem: 'other_key', tsig };
  }
  if (tsig.error !== 0) return { ok: false, problem: 'tsig_error', tsig };
  const expected = computeMac(key, unsigned, tsig, options.requestMac);
  // RFC 8945 §5.2.2.1 allows a MAC truncated to at least half the digest and 10 bytes.
  const minLength = Math.max(10, expected.length / 2);
  if (
    tsig.mac.length < minLength ||
    tsig.mac.length > expected.length ||
    !timingSafeEqual(tsig.mac, expected.subarray(0, tsig.mac.length))
  ) {
    return { ok: false, problem: 'bad_mac', tsig };
  }
  if (Math.abs((options.now ?? nowSeconds()) - tsig.timeSigned) > tsig.fudge) {
    return { ok: false, problem: 'bad_time', tsig };
  }
  return { ok: true, mac: tsig.mac, tsig };
}

/**
 * The TSIG record that ends `message`, and the message as it was before it was added (ARCOUNT one
 * less, the original ID back), or undefined when the last record is not a TSIG.
 */
export function readTsig(message: Buffer): { tsig: TsigRecord; unsigned: Buffer } | undefined {
  const { records, additionalCount } = walkMessage(message);
  const last = records.at(-1);
  if (last === undefined || additionalCount === 0 || last.type !== RR_TYPES.TSIG) return undefined;
  let offset = last.rdataOffset;
  const algorithm = readName(message, offset);
  offset = algorithm.end;
  const read16 = () => {
    if (offset + 2 > last.end) throw new Error('TSIG record runs past its RDATA');
    const value = message.readUInt16BE(offset);
    offset += 2;
    return value;
  };
  const readBytes = (length: number) => {
    if (offset + length > last.end) throw new Error('TSIG record runs past its RDATA');
    const bytes = Buffer.from(message.subarray(offset, offset + length));
    offset += length;
    return bytes;
  };
  const timeSigned = read16() * 2 ** 32 + readBytes(4).readUInt32BE(0);
  const fudge = read16();
  const mac = readBytes(read16());
  const originalId = read16();
  const error = read16();
  const other = readBytes(read16());
  const tsig: TsigRecord = {
    keyName: readName(message, last.offset).name,
    algorithm: algorithm.name,
    timeSigned,
    fudge,
    mac,
    originalId,
    error,
    other,
  };
  const unsigned = Buffer.from(message.subarray(0, last.offset));
  unsigned.writeUInt16BE(originalId, 0);
  unsigned.writeUInt16BE(additionalCount - 1, 10);
  return { tsig, unsigned };
}

/** A TSIG error a server sent, named and explained for a user (`BADSIG: the server has …`). */
export function describeTsigError(error: number): string {
  const name = TSIG_ERRORS[error] ?? `TSIG error ${error}`;
  if (error === 16) return `${name}: the server has another secret for this key`;
  if (error === 17)
    return `${name}: the server does not know this key (name and algorithm) or not for this zone`;
  if (error === 18)
    return `${name}: this host's clock and the server's differ by more than the fudge (check NTP)`;
  return name;
}

type MacFields = Pick<TsigRecord, 'timeSigned' | 'fudge' | 'error' | 'other'> & {
  keyName: string;
  algorithm: string;
};

function computeMac(
  key: TsigKey,
  unsigned: Buffer,
  fields: MacFields,
  requestMac: Buffer | undefined,
): Buffer {
  const secret = Buffer.from(key.secret, 'base64');
  const hmac = createHmac(DIGESTS[key.algorithm], secret);
  if (requestMac !== undefined) hmac.update(uint16(requestMac.length)).update(requestMac);
  hmac.update(unsigned);
  hmac.update(encodeName(fields.keyName));
  hmac.update(uint16(CLASS_ANY));
  hmac.update(Buffer.alloc(4)); // TTL 0
  hmac.update(encodeName(fields.algorithm));
  hmac.update(uint48(fields.timeSigned));
  hmac.update(uint16(fields.fudge));
  hmac.update(uint16(fields.error));
  hmac.update(uint16(fields.other.length));
  hmac.update(fields.other);
  return hmac.digest();
}

function normalizeKeyName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function uint16(value: number): Buffer {
  const bytes = Buffer.alloc(2);
  bytes.writeUInt16BE(value);
  return bytes;
}

function uint48(value: number): Buffer {
  const bytes = Buffer.alloc(6);
  bytes.writeUIntBE(value, 0, 6);
  return bytes;
}
