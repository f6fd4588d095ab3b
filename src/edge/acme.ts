/**
 * `edge.tls.acme`: certificates from an ACME CA (Let's Encrypt, or pebble in tests) through
 * acme-client, HTTP-01 only, answered by the edge's HTTP listener through `challenge(token)`.
 *
 * Kept in `acme.dir`: `account.key` (made once), `<first name>.key` and `<first name>.crt`, each
 * written by temp file + fsync + rename, mode 0600. The key is written before the chain, so a crash
 * between the two leaves a pair that does not match, which the next start re-issues.
 *
 * `start()` serves the stored certificate when it names every name and is not expired; if it is
 * already inside the renewal window it is served at once and renewed in the background (a CA that
 * is down must not keep a still-valid site off HTTPS). Otherwise it issues and waits. Renewal is
 * checked at `renewTime` and at least every 12 h; a failed one is retried with backoff from 1 min
 * to 12 h, the old certificate still served and the error in `status().lastError`.
 *
 * Talking to the CA is acme-order.ts.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeAtomic } from '../daemon/state-store.ts';
import { messageOf, OutlastError } from '../errors.ts';
import type { Logger } from '../util/log.ts';
import { AcmeCa } from './acme-order.ts';
import {
  type CertificatePair,
  ChangeListeners,
  checkPair,
  coversNames,
  pairStatus,
  renewTime,
} from './certificate.ts';
import type { EdgeAcmeConfig } from './options.ts';
import type { EdgeTlsStatus, TlsManager } from './types.ts';

export interface AcmeManagerOptions {
  /** The certificate's names when `acme.names` is not set (the site's hostname). */
  names: string[];
  logger: Logger;
  now: () => number;
}

const CHECK_INTERVAL_MS = 12 * 3_600_000;
const RETRY_MIN_MS = 60_000;

export function createAcmeManager(acme: EdgeAcmeConfig, options: AcmeManagerOptions): TlsManager {
  const names = [...new Set((acme.names ?? options.names).map((name) => name.toLowerCase()))];
  if (names.length === 0) {
    throw new OutlastError(
      'invalid_argument',
      'edge.tls.acme: no names for the certificate (set acme.names)',
    );
  }
  for (const name of names) {
    if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(name)) {
      throw new OutlastError(
        'invalid_argument',
        `edge.tls.acme.names: ${JSON.stringify(name)} is not a host name HTTP-01 can validate`,
      );
    }
  }
  return new AcmeTlsManager(acme, names, options.logger.child({ acme: acme.directory }), options.now);
}

class AcmeTlsManager implements TlsManager {
  private pair: CertificatePair | undefined;
  private lastError: string | undefined;
  private readonly listeners: ChangeListeners;
  /** HTTP-01 tokens pending at the CA → their key authorizations. */
  private readonly tokens = new Map<string, string>();
  private timer: NodeJS.Timeout | undefined;
  private nextAttemptAt: number | undefined;
  private failures = 0;
  private readonly ca: AcmeCa;
  private stopped = false;
  private readonly keyPath: string;
  private readonly certPath: string;

  constructor(
    private readonly acme: EdgeAcmeConfig,
    private readonly names: string[],
    private readonly logger: Logger,
    private readonly now: () => number,
  ) {
    this.listeners = new ChangeListeners(logger);
    this.keyPath = join(acme.dir, `${names[0]}.key`);
    this.certPath = join(acme.dir, `${names[0]}.crt`);
    this.ca = new AcmeCa(acme, logger);
  }

  async start(): Promise<void> {
    if (this.pair !== undefined) return;
    this.stopped = false;
    await mkdir(this.acme.dir, { recursive: true, mode: 0o700 });
    const stored = await this.loadStored();
    if (stored !== undefined && stored.validTo > this.now()) {
      this.pair = stored;
      this.logger.info(
        { names: stored.names, validTo: stored.leaf.validTo },
        'certificate loaded from acme.dir',
      );
      this.plan(false);
      return;
    }
    const issued = await this.issue();
    if (this.stopped) return;
    this.pair = issued;
    this.plan(false);
  }

  current(): { cert: string; key: string } {
    if (this.pair === undefined)
      throw new OutlastError('internal', 'edge.tls.acme: current() before start()');
    return { cert: this.pair.cert, key: this.pair.key };
  }

  onChange(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  challenge(token: string): string | undefined {
    return this.tokens.get(token);
  }

  status(): EdgeTlsStatus {
    const pair = this.pair;
    const due = pair
      ? Math.max(renewTime(pair, this.acme.renewDaysBefore), this.nextAttemptAt ?? 0)
      : undefined;
    return {
      mode: 'acme',
      ...(pair ? pairStatus(pair, this.now()) : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
      ...(due !== undefined ? { renewAt: new Date(due).toISOString() } : {}),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.ca.close();
  }

  /** The next renewal check: at renewTime, at least every 12 h; inside the window, now. */
  private plan(justRenewed: boolean): void {
    if (this.stopped || this.pair === undefined) return;
    this.nextAttemptAt = undefined;
    const untilRenewal = renewTime(this.pair, this.acme.renewDaysBefore) - this.now();
    let delay = Math.min(Math.max(untilRenewal, 0), CHECK_INTERVAL_MS);
    if (untilRenewal <= 0 && justRenewed) {
      // A CA whose certificates live less than renewDaysBefore: renew twice a day, not in a loop.
      this.logger.warn(
        { renewDaysBefore: this.acme.renewDaysBefore, validTo: this.pair.leaf.validTo },
        'the new certificate is already due for renewal (its lifetime is shorter than renewDaysBefore)',
      );
      delay = CHECK_INTERVAL_MS;
      this.nextAttemptAt = this.now() + delay;
    }
    this.schedule(delay);
  }

  private schedule(delay: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.check(), delay);
    this.timer.unref();
  }

  private check(): void {
    if (this.stopped || this.pair === undefined) return;
    if (this.now() < renewTime(this.pair, this.acme.renewDaysBefore)) this.plan(false);
    else this.renew();
  }

  private async renew(): Promise<void> {
    try {
      const pair = await this.issue();
      if (this.stopped) return;
      this.pair = pair;
      this.lastError = undefined;
      this.failures = 0;
      this.listeners.fire();
      this.plan(true);
    } catch (error) {
      if (this.stopped) return;
      this.failures++;
      this.lastError = messageOf(error);
      const delay = Math.min(RETRY_MIN_MS * 2 ** (this.failures - 1), CHECK_INTERVAL_MS);
      this.nextAttemptAt = this.now() + delay;
      this.logger.warn(
        { err: this.lastError, failures: this.failures, retryInMs: delay },
        'certificate renewal failed; still serving the previous one',
      );
      this.schedule(delay);
    }
  }

  /** The pair in acme.dir if it is whole, matches and names every name; else undefined. */
  private async loadStored(): Promise<CertificatePair | undefined> {
    let cert: string;
    let key: string;
    try {
      [cert, key] = await Promise.all([readFile(this.certPath, 'utf8'), readFile(this.keyPath, 'utf8')]);
    } catch {
      return undefined;
    }
    try {
      const pair = checkPair(cert, key, { cert: this.certPath, key: this.keyPath });
      if (coversNames(pair, this.names)) return pair;
      this.logger.info(
        { held: pair.names, names: this.names },
        'stored certificate lacks a name; ordering one',
      );
    } catch (error) {
      this.logger.warn({ err: messageOf(error) }, 'stored certificate unusable; ordering one');
    }
    return undefined;
  }

  /** Orders a certificate for every name, stores it (key first) and returns it. */
  private async issue(): Promise<CertificatePair> {
    const { chain, key } = await this.ca.order(this.names, this.tokens);
    const pair = checkPair(chain, key, {
      cert: `acme ${this.acme.directory}: the issued certificate`,
      key: 'its key',
    });
    await writeAtomic(this.keyPath, pair.key);
    await writeAtomic(this.certPath, pair.cert);
    this.logger.info(
      { names: pair.names, serial: pair.leaf.serialNumber, validTo: pair.leaf.validTo },
      'issued',
    );
    return pair;
  }
}
