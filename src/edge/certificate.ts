/**
 * A PEM certificate chain and its private key, checked as a pair: both parse, the key is the
 * certificate's, and what `status()` shows of it (subject, names, expiry); and the listeners told
 * of a change. Shared by the two ways `outlast edge` gets its certificate (files in tls.ts, ACME in
 * acme.ts).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { messageOf, OutlastError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import type { EdgeTlsStatus } from './types.ts';

const DAY_MS = 86_400_000;

/** A checked pair: what is served, and what is known of its leaf certificate. */
export interface CertificatePair {
  /** PEM chain, leaf first, as read. */
  cert: string;
  /** PEM private key, as read. */
  key: string;
  leaf: X509Certificate;
  /** The DNS names (and IP addresses) of the leaf's subjectAltName. */
  names: string[];
  /** The leaf's notAfter, in ms since the epoch. */
  validTo: number;
}

/** Where each half of the pair came from, for the messages (`edge.tls.cert /etc/x.pem`). */
export interface PairSources {
  cert: string;
  key: string;
}

/**
 * Parses `cert` and `key` and checks that the key belongs to the certificate. Throws
 * `invalid_argument` naming the source that is wrong and what is wrong with it (never its text).
 */
export function checkPair(cert: string, key: string, sources: PairSources): CertificatePair {
  if (!cert.includes('-----BEGIN CERTIFICATE-----')) {
    throw new OutlastError('invalid_argument', `${sources.cert}: no PEM certificate in it`);
  }
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(cert);
  } catch (error) {
    throw new OutlastError('invalid_argument', `${sources.cert}: not a readable PEM certificate`, {
      cause: error,
    });
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch (error) {
    throw new OutlastError('invalid_argument', `${sources.key}: not a readable PEM private key`, {
      cause: error,
    });
  }
  if (!leaf.checkPrivateKey(privateKey)) {
    throw new OutlastError(
      'invalid_argument',
      `${sources.key}: this private key does not belong to the certificate in ${sources.cert}`,
    );
  }
  return { cert, key, leaf, names: altNames(leaf), validTo: Date.parse(leaf.validTo) };
}

/** The names of a certificate's subjectAltName (`DNS:a, DNS:b, IP Address:1.2.3.4`). */
export function altNames(leaf: X509Certificate): string[] {
  const names: string[] = [];
  for (const entry of (leaf.subjectAltName ?? '').split(',')) {
    const match = /^\s*(?:DNS|IP Address):(.+?)\s*$/.exec(entry);
    if (match) names.push(match[1]!);
  }
  return names;
}

/** Whole days left until `validTo` (negative once expired). */
export function daysLeft(pair: CertificatePair, now: number): number {
  return Math.floor((pair.validTo - now) / DAY_MS);
}

/** When a certificate is due for renewal: `renewDaysBefore` days before it expires. */
export function renewTime(pair: CertificatePair, renewDaysBefore: number): number {
  return pair.validTo - renewDaysBefore * DAY_MS;
}

/** Whether `pair` names every one of `names` (case-insensitively). */
export function coversNames(pair: CertificatePair, names: string[]): boolean {
  const held = new Set(pair.names.map((name) => name.toLowerCase()));
  return names.every((name) => held.has(name.toLowerCase()));
}

/** The certificate part of a status: subject, names, expiry and days left. */
export function pairStatus(pair: CertificatePair, now: number): Omit<EdgeTlsStatus, 'mode'> {
  return {
    subject: pair.leaf.subject.replaceAll('\n', ', '),
    names: pair.names,
    validTo: new Date(pair.validTo).toISOString(),
    daysLeft: daysLeft(pair, now),
  };
}

/** Listeners of a manager, each called in turn; one that throws is logged, the others still run. */
export class ChangeListeners {
  private readonly listeners = new Set<() => void>();

  constructor(private readonly logger: Logger) {}

  add(listener: () => void): () => void {
    const entry = () => listener();
    this.listeners.add(entry);
    return () => this.listeners.delete(entry);
  }

  fire(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (error) {
        this.logger.error({ err: messageOf(error) }, 'certificate change listener failed');
      }
    }
  }
}
