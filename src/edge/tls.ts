/**
 * The certificate side of `outlast edge`: a `TlsManager` gives the server the PEM pair to serve
 * now, says when it changed (so the server calls `setSecureContext`) and answers HTTP-01
 * challenges. Two kinds, from `edge.tls`:
 *
 * - files (`cert` + `key`): read and checked as a pair at start; reloaded when either file changes
 *   (fs.watch on their folders, plus a stat poll, since certbot-like tools replace files by
 *   rename and some file systems miss events). A reload that fails keeps serving the old pair and
 *   shows in `status().lastError`; the next good one clears it.
 * - acme: see acme.ts (acme-client is loaded only then).
 */
import { type FSWatcher, watch } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { messageOf, OutlastError } from '../errors.ts';
import { componentLogger, type Logger } from '../util/log.ts';
import { createAcmeManager } from './acme.ts';
import { type CertificatePair, ChangeListeners, checkPair, pairStatus } from './certificate.ts';
import type { EdgeTlsConfig } from './options.ts';
import type { EdgeTlsStatus, TlsManager } from './types.ts';

export type { TlsManager } from './types.ts';

export interface TlsManagerOptions {
  /** The site's names: the certificate's names when `acme.names` is not set. */
  names: string[];
  logger?: Logger;
  /** The clock (ms since the epoch), for days left and renewal times. */
  now?: () => number;
  /** Files: how often both files are stat'ed besides fs.watch (default 5 s). */
  pollIntervalMs?: number;
  /** Files: `false` leaves changes to the poll alone (tests of the poll). Default true. */
  watch?: boolean;
}

/** How long after a file event the pair is read: both files of a replacement have landed by then. */
const SETTLE_MS = 250;
const POLL_INTERVAL_MS = 5_000;

/**
 * The manager for `edge.tls` (paths already absolute). Nothing is read before `start()`; throws
 * `invalid_argument` at once for a config no manager can serve (no names for ACME, a wildcard).
 */
export function createTlsManager(tls: EdgeTlsConfig, options: TlsManagerOptions): TlsManager {
  const logger = options.logger ?? componentLogger('edge-tls');
  const now = options.now ?? Date.now;
  if (tls.acme !== undefined) {
    return createAcmeManager(tls.acme, { names: options.names, logger, now });
  }
  if (tls.cert === undefined || tls.key === undefined) {
    throw new OutlastError('invalid_argument', 'edge.tls: expected cert and key files, or an acme block');
  }
  return new FileTlsManager(tls.cert, tls.key, logger, now, {
    pollIntervalMs: options.pollIntervalMs ?? POLL_INTERVAL_MS,
    watch: options.watch ?? true,
  });
}

class FileTlsManager implements TlsManager {
  private pair: CertificatePair | undefined;
  private lastError: string | undefined;
  private readonly listeners: ChangeListeners;
  private readonly sources: { cert: string; key: string };
  private watchers: FSWatcher[] = [];
  private pollTimer: NodeJS.Timeout | undefined;
  private settleTimer: NodeJS.Timeout | undefined;
  /** The files' stat at the last read, to notice a change the watcher missed. */
  private seen = '';
  /** One reload at a time; a change during one asks for another. */
  private reloading: Promise<void> | undefined;
  private again = false;
  private stopped = false;

  constructor(
    private readonly certPath: string,
    private readonly keyPath: string,
    private readonly logger: Logger,
    private readonly now: () => number,
    private readonly changes: { pollIntervalMs: number; watch: boolean },
  ) {
    this.listeners = new ChangeListeners(logger);
    this.sources = { cert: `edge.tls.cert ${certPath}`, key: `edge.tls.key ${keyPath}` };
  }

  async start(): Promise<void> {
    if (this.pair !== undefined) return;
    this.seen = await this.fingerprint();
    this.pair = await this.read();
    if (this.stopped) return;
    this.warnIfExpired(this.pair);
    this.watch();
  }

  current(): { cert: string; key: string } {
    if (this.pair === undefined) throw new OutlastError('internal', 'edge.tls: current() before start()');
    return { cert: this.pair.cert, key: this.pair.key };
  }

  onChange(listener: () => void): () => void {
    return this.listeners.add(listener);
  }

  challenge(): string | undefined {
    return undefined;
  }

  status(): EdgeTlsStatus {
    return {
      mode: 'files',
      ...(this.pair ? pairStatus(this.pair, this.now()) : {}),
      ...(this.lastError !== undefined ? { lastError: this.lastError } : {}),
    };
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const watcher of this.watchers) watcher.close();
    this.watchers = [];
    clearInterval(this.pollTimer);
    clearTimeout(this.settleTimer);
    await this.reloading;
  }

  private async read(): Promise<CertificatePair> {
    const [cert, key] = await Promise.all([
      readText(this.certPath, this.sources.cert),
      readText(this.keyPath, this.sources.key),
    ]);
    return checkPair(cert, key, this.sources);
  }

  private watch(): void {
    const names = new Set([basename(this.certPath), basename(this.keyPath)]);
    const folders = this.changes.watch ? [dirname(this.certPath), dirname(this.keyPath)] : [];
    for (const folder of new Set(folders)) {
      try {
        const watcher = watch(folder, { persistent: false }, (_event, name) => {
          if (name === null || names.has(name.toString())) this.soon();
        });
        watcher.on('error', (error) => this.logger.debug({ folder, err: messageOf(error) }, 'watch failed'));
        this.watchers.push(watcher);
      } catch (error) {
        // The poll still notices changes.
        this.logger.debug({ folder, err: messageOf(error) }, 'cannot watch the certificate folder');
      }
    }
    this.pollTimer = setInterval(() => {
      this.fingerprint().then((seen) => {
        if (seen !== this.seen) this.soon();
      });
    }, this.changes.pollIntervalMs);
    this.pollTimer.unref();
  }

  /** A reload shortly after the first sign of a change (a replacement is two renames, cert and key). */
  private soon(): void {
    if (this.stopped || this.settleTimer !== undefined) return;
    this.settleTimer = setTimeout(() => {
      this.settleTimer = undefined;
      this.reload();
    }, SETTLE_MS);
    this.settleTimer.unref();
  }

  private reload(): void {
    if (this.reloading !== undefined) {
      this.again = true;
      return;
    }
    this.reloading = this.reloadOnce().finally(() => {
      this.reloading = undefined;
      if (this.again && !this.stopped) {
        this.again = false;
        this.reload();
      }
    });
  }

  private async reloadOnce(): Promise<void> {
    this.seen = await this.fingerprint();
    let pair: CertificatePair;
    try {
      pair = await this.read();
    } catch (error) {
      if (this.stopped) return;
      this.lastError = messageOf(error);
      this.logger.warn(
        { cert: this.certPath, key: this.keyPath, err: this.lastError },
        'certificate reload failed; still serving the previous one',
      );
      return;
    }
    if (this.stopped) return;
    this.lastError = undefined;
    const previous = this.pair;
    if (previous !== undefined && previous.cert === pair.cert && previous.key === pair.key) return;
    this.pair = pair;
    this.warnIfExpired(pair);
    this.logger.info(
      { subject: pair.leaf.subject, serial: pair.leaf.serialNumber, validTo: pair.leaf.validTo },
      'certificate reloaded',
    );
    this.listeners.fire();
  }

  /** Inode, size and mtime of both files ('' for a missing one): a rename changes the inode. */
  private async fingerprint(): Promise<string> {
    const parts = await Promise.all(
      [this.certPath, this.keyPath].map((path) =>
        stat(path).then(
          (info) => `${info.ino}:${info.size}:${info.mtimeMs}`,
          () => '',
        ),
      ),
    );
    return parts.join('|');
  }

  private warnIfExpired(pair: CertificatePair): void {
    if (pair.validTo <= this.now()) {
      this.logger.warn({ cert: this.certPath, validTo: pair.leaf.validTo }, 'certificate has expired');
    }
  }
}

async function readText(path: string, source: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : messageOf(error);
    throw new OutlastError('invalid_argument', `${source}: cannot read it (${why})`, { cause: error });
  }
}
