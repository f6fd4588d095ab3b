/**
 * What the embedded server answers to one message: a pure function of the message, the zone
 * snapshot and the transfer policy (no sockets), so the listeners stay thin and every rule below
 * is tested without the network.
 *
 * - Only QUERY (opcode 0) is served; every other opcode, UPDATE and an incoming NOTIFY included, is
 *   NOTIMP: the zone changes only through the provider's `apply` (RFC 2136 §3.8 has a server
 *   without UPDATE answer NOTIMP).
 * - Class IN only; another class is REFUSED (the zone has no data there).
 * - EDNS (RFC 6891): an OPT is answered with an OPT (our size 1232, DO copied); version > 0 is
 *   BADVERS. The UDP limit is the client's size clamped to 512–1232, or 512 without EDNS.
 * - TSIG: a signed query is checked against the configured key and its answer signed; a wrong
 *   key or signature is NOTAUTH with the TSIG error (BADKEY, BADSIG, BADTIME) (RFC 8945 §5.2).
 * - Never recursion: RA stays clear, RD is copied, and names outside the zone are REFUSED (with
 *   the Extended DNS Error 20 "Not Authoritative", as Knot sends).
 * - A message that cannot be read at all gets no answer; one whose header is readable and whose
 *   rest is not gets FORMERR. A bug in here gives SERVFAIL, never a crash.
 */
import type { Logger } from '../../util/log.ts';
import { readTsig, signMessage, type TsigKey, type TsigRecord, verifyMessage } from '../tsig.ts';
import { encodeName } from '../wire.ts';
import { ADVERTISED_PAYLOAD, encodeResponse, errorResponse, type Response } from './message.ts';
import { type ParsedQuery, parseQuery, TYPE_OPT, TYPE_TSIG } from './query.ts';
import { axfrMessages } from './transfer.ts';
import { lookup, QTYPE, RCODE, type Zone } from './zone.ts';

export type Transport = 'udp' | 'tcp';

export interface ResponderOptions {
  /** The zone now (read per message, so an apply takes effect at the next query). */
  zone(): Zone;
  /** May `address` transfer the zone? (TSIG is checked besides, when a key is set.) */
  mayTransfer(address: string): boolean;
  /** Signs transfers and NOTIFYs; when set, AXFR must be signed with it. */
  key?: TsigKey;
  log: Logger;
}

/** Without EDNS, a UDP answer is at most 512 bytes (RFC 1035 §4.2.1). */
const CLASSIC_UDP = 512;
const TCP_MAX = 65_535;
const CLASS_IN = 1;
const EDE_NOT_AUTHORITATIVE = 20;
const BADVERS = 16;
const TSIG_ERROR = { BADSIG: 16, BADKEY: 17, BADTIME: 18 } as const;

/** The messages answering `message` (none: drop it; several only for a zone transfer). */
export function respond(
  options: ResponderOptions,
  message: Buffer,
  transport: Transport,
  address: string,
): Buffer[] {
  try {
    return answer(options, message, transport, address);
  } catch (error) {
    options.log.error({ err: error, transport, address }, 'query handling failed');
    if (message.length < 12 || message.readUInt16BE(2) & 0x8000) return [];
    const header = Buffer.alloc(12);
    message.copy(header, 0, 0, 2);
    // QR, the opcode and RD copied, SERVFAIL.
    header.writeUInt16BE(0x8000 | (message.readUInt16BE(2) & 0x7900) | RCODE.SERVFAIL, 2);
    return [header];
  }
}

function answer(options: ResponderOptions, message: Buffer, transport: Transport, address: string): Buffer[] {
  const parsed = parseQuery(message);
  if (parsed.kind === 'drop') return [];
  if (parsed.kind === 'formerr') {
    const reply = errorResponse({ ...parsed, cd: false }, RCODE.FORMERR);
    return [encodeResponse(reply, CLASSIC_UDP)];
  }
  const query = parsed.query;
  let requestMac: Buffer | undefined;
  if (query.signed) {
    const checked = checkTsig(options.key, message);
    if (checked === undefined) return [encodeResponse(errorResponse(query, RCODE.FORMERR), CLASSIC_UDP)];
    if (!checked.ok) return [tsigFailure(query, checked, options.key)];
    requestMac = checked.mac;
  }
  const limit = transport === 'tcp' ? TCP_MAX : udpLimit(query);
  const send = (response: Response): Buffer[] => [finish(response, limit, options.key, requestMac)];

  if (query.edns && query.edns.version !== 0) return send(errorResponse(query, BADVERS));
  if (query.opcode !== 0) return send(errorResponse(query, RCODE.NOTIMP));
  const { question } = query;
  if (question.type === TYPE_OPT || question.type === TYPE_TSIG)
    return send(errorResponse(query, RCODE.FORMERR));
  if (question.class !== CLASS_IN) return send(errorResponse(query, RCODE.REFUSED));
  if (question.type === QTYPE.MAILA || question.type === QTYPE.MAILB)
    return send(errorResponse(query, RCODE.NOTIMP));

  const zone = options.zone();
  if (question.type === QTYPE.AXFR || question.type === QTYPE.IXFR) {
    if (question.key !== zone.origin) return send(errorResponse(query, RCODE.NOTAUTH));
    if (transport === 'udp') {
      // AXFR is TCP only (RFC 5936 §4.2); an IXFR over UDP gets the SOA (RFC 1995 §2).
      if (question.type === QTYPE.AXFR) return send(errorResponse(query, RCODE.NOTIMP));
      return send({ ...errorResponse(query, RCODE.NOERROR), aa: true, answer: [zone.soa] });
    }
    const signedByKey = options.key === undefined || requestMac !== undefined;
    if (!options.mayTransfer(address) || !signedByKey) {
      options.log.warn({ address, signed: query.signed }, 'zone transfer refused');
      return send(errorResponse(query, RCODE.REFUSED));
    }
    options.log.info({ address, serial: zone.serial }, 'zone transfer');
    const signing = options.key && requestMac ? { key: options.key, requestMac } : undefined;
    return axfrMessages(zone, query, signing);
  }

  const result = lookup(zone, question.key, question.type);
  const ede = result.rcode === RCODE.REFUSED ? EDE_NOT_AUTHORITATIVE : undefined;
  return send({
    ...errorResponse(query, result.rcode, ede),
    aa: result.authoritative,
    answer: result.answer,
    authority: result.authority,
    additional: result.additional,
  });
}

/** RFC 6891 §6.2.5: the client's size, at least 512, and at most what we advertise. */
function udpLimit(query: ParsedQuery): number {
  if (!query.edns) return CLASSIC_UDP;
  return Math.min(Math.max(query.edns.payloadSize, CLASSIC_UDP), ADVERTISED_PAYLOAD);
}

/** Encodes within `limit` (leaving room for the signature) and signs when the query was signed. */
function finish(
  response: Response,
  limit: number,
  key: TsigKey | undefined,
  requestMac: Buffer | undefined,
): Buffer {
  if (!key || !requestMac) return encodeResponse(response, limit);
  const room = encodeName(key.name).length + encodeName(key.algorithm).length + 10 + 16 + 64;
  return signMessage(encodeResponse(response, limit - room), key, { requestMac }).message;
}

type TsigCheck = { ok: true; mac: Buffer } | { ok: false; error: number; tsig: TsigRecord | undefined };

/** The TSIG verdict, or undefined when the TSIG record itself is malformed (FORMERR). */
function checkTsig(key: TsigKey | undefined, message: Buffer): TsigCheck | undefined {
  if (!key) return { ok: false, error: TSIG_ERROR.BADKEY, tsig: readTsigSafe(message) };
  let verdict: ReturnType<typeof verifyMessage>;
  try {
    verdict = verifyMessage(message, key);
  } catch {
    // tsig.ts throws on RDATA that runs past its record or a bad algorithm name.
    return undefined;
  }
  if (verdict.ok) return { ok: true, mac: verdict.mac };
  const tsig = 'tsig' in verdict ? verdict.tsig : undefined;
  if (verdict.problem === 'other_key') return { ok: false, error: TSIG_ERROR.BADKEY, tsig };
  if (verdict.problem === 'bad_time') return { ok: false, error: TSIG_ERROR.BADTIME, tsig };
  return { ok: false, error: TSIG_ERROR.BADSIG, tsig };
}

function readTsigSafe(message: Buffer): TsigRecord | undefined {
  try {
    return readTsig(message)?.tsig;
  } catch {
    return undefined;
  }
}

/**
 * NOTAUTH with the TSIG error (RFC 8945 §5.2): for BADTIME signed, with our time in "other data";
 * for BADKEY and BADSIG unsigned (a TSIG record with an empty MAC), as we cannot sign for that key.
 */
function tsigFailure(
  query: ParsedQuery,
  check: Extract<TsigCheck, { ok: false }>,
  key: TsigKey | undefined,
): Buffer {
  const reply = encodeResponse(errorResponse(query, RCODE.NOTAUTH), TCP_MAX);
  const tsig = check.tsig;
  if (!tsig) return reply;
  const now = Math.floor(Date.now() / 1000);
  if (check.error === TSIG_ERROR.BADTIME && key) {
    const other = Buffer.alloc(6);
    other.writeUIntBE(now, 0, 6);
    return signMessage(reply, key, { requestMac: tsig.mac, error: check.error, other }).message;
  }
  const fixed = Buffer.alloc(10);
  fixed.writeUInt16BE(TYPE_TSIG, 0);
  fixed.writeUInt16BE(255, 2);
  const body = Buffer.alloc(16);
  body.writeUIntBE(now, 0, 6);
  body.writeUInt16BE(tsig.fudge, 6);
  body.writeUInt16BE(0, 8); // MAC size 0
  body.writeUInt16BE(query.id, 10);
  body.writeUInt16BE(check.error, 12);
  body.writeUInt16BE(0, 14);
  let rdata: Buffer;
  let owner: Buffer;
  try {
    rdata = Buffer.concat([encodeName(tsig.algorithm), body]);
    owner = encodeName(tsig.keyName);
  } catch {
    return reply;
  }
  fixed.writeUInt16BE(rdata.length, 8);
  const out = Buffer.concat([reply, owner, fixed, rdata]);
  out.writeUInt16BE(out.readUInt16BE(10) + 1, 10);
  return out;
}
