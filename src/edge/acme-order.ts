/**
 * One ACME CA as acme.ts uses it: `order(names)` registers (or finds) the account of
 * `acme.dir/account.key`, orders a certificate for the names, answers HTTP-01 through the token
 * map it is given, and returns the chain and its new ECDSA P-256 key. acme-client is imported
 * here, on the first order, so configurations without ACME never load it.
 *
 * acme-client talks through one shared axios instance: a request interceptor scoped to the
 * directory's origin adds a timeout and, with `acme.ca`, an https.Agent trusting that CA besides
 * the usual roots (verification is never turned off). Its own pre-check of a challenge (a GET to
 * the name on port 80) is skipped: the CA's validation is the one that counts, and an edge behind
 * NAT often cannot reach itself by its public name. Before an order the directory is fetched once
 * with a short timeout, so a CA that is down is `unavailable` at once rather than after axios'
 * retries.
 */
import { readFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { rootCertificates } from 'node:tls';
import { writeAtomic } from '../daemon/state-store.ts';
import { isOutlastError, messageOf, OutlastError } from '../errors.ts';
import { CODE_BY_ERRNO } from '../storage/network-errors.ts';
import type { Logger } from '../util/log.ts';
import type { EdgeAcmeConfig } from './options.ts';

type AcmeModule = typeof import('acme-client');

/** Reaching the directory before an order. */
const DIRECTORY_TIMEOUT_MS = 10_000;
/** Each request to the CA. */
const REQUEST_TIMEOUT_MS = 30_000;
/** A whole order: account, challenges, finalize, download. */
const ORDER_TIMEOUT_MS = 5 * 60_000;

let acmeModule: Promise<AcmeModule> | undefined;

function loadAcme(): Promise<AcmeModule> {
  acmeModule ??= import('acme-client').then((mod) => (mod as { default?: AcmeModule }).default ?? mod);
  return acmeModule;
}

export class AcmeCa {
  private readonly source: string;
  private interceptor: number | undefined;
  private agent: HttpsAgent | undefined;

  constructor(
    private readonly acme: EdgeAcmeConfig,
    private readonly logger: Logger,
  ) {
    this.source = `acme ${acme.directory}`;
  }

  /**
   * A certificate for `names` (the first is its common name). `tokens` holds each HTTP-01 token's
   * key authorization while the CA may ask for it. Rejects with an OutlastError naming the
   * directory: `unavailable` (cannot reach it, or the order failed), `rate_limited`, `timeout`.
   */
  async order(names: string[], tokens: Map<string, string>): Promise<{ chain: string; key: string }> {
    const acme = await loadAcme();
    await this.trustDirectory(acme);
    await this.reachDirectory();
    const client = new acme.Client({
      directoryUrl: this.acme.directory,
      accountKey: await this.accountKey(acme),
      backoffAttempts: 10,
      backoffMin: 1_000,
      backoffMax: 10_000,
    });
    const [key, csr] = await acme.crypto.createCsr(
      { commonName: names[0]!, altNames: names },
      await acme.crypto.createPrivateEcdsaKey(),
    );
    this.logger.info({ names }, 'ordering a certificate');
    let deadline: NodeJS.Timeout | undefined;
    try {
      const chain = await Promise.race([
        this.account(client).then(() => this.auto(client, csr, tokens)),
        new Promise<never>((_resolve, reject) => {
          deadline = setTimeout(
            () => reject(new OutlastError('timeout', `no certificate within ${ORDER_TIMEOUT_MS / 1000} s`)),
            ORDER_TIMEOUT_MS,
          );
        }),
      ]);
      return { chain, key: key.toString() };
    } catch (error) {
      throw acmeError(error, this.source);
    } finally {
      clearTimeout(deadline);
    }
  }

  /**
   * The account of the key: registered, or found. (For a key that has one, acme-client follows
   * newAccount with an update of what it was given, which pebble refuses as an empty update when
   * there is no contact: the account URL is known by then, which is all an order needs.)
   */
  private async account(client: InstanceType<AcmeModule['Client']>): Promise<void> {
    try {
      await client.createAccount({
        termsOfServiceAgreed: this.acme.termsOfServiceAgreed,
        ...(this.acme.email !== undefined ? { contact: [`mailto:${this.acme.email}`] } : {}),
      });
    } catch (error) {
      try {
        client.getAccountUrl();
      } catch {
        throw error;
      }
      this.logger.debug({ err: messageOf(error) }, 'account found; its update refused');
    }
  }

  private auto(
    client: InstanceType<AcmeModule['Client']>,
    csr: Buffer,
    tokens: Map<string, string>,
  ): Promise<string> {
    return client.auto({
      csr,
      ...(this.acme.email !== undefined ? { email: this.acme.email } : {}),
      termsOfServiceAgreed: this.acme.termsOfServiceAgreed,
      challengePriority: ['http-01'],
      skipChallengeVerification: true,
      challengeCreateFn: async (_authz, challenge, keyAuthorization) => {
        if (challenge.type !== 'http-01') throw new Error(`the CA offered ${challenge.type}, not http-01`);
        tokens.set(challenge.token, keyAuthorization);
      },
      challengeRemoveFn: async (_authz, challenge) => {
        tokens.delete(challenge.token);
      },
    });
  }

  /** Removes the interceptor and closes the agent. Idempotent. */
  async close(): Promise<void> {
    if (this.interceptor !== undefined) {
      (await loadAcme()).axios.interceptors.request.eject(this.interceptor);
      this.interceptor = undefined;
    }
    this.agent?.destroy();
    this.agent = undefined;
  }

  /** `acme.dir/account.key`, made (ECDSA P-256, mode 0600) the first time. */
  private async accountKey(acme: AcmeModule): Promise<string> {
    const path = join(this.acme.dir, 'account.key');
    try {
      return await readFile(path, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
        throw new OutlastError('invalid_argument', `${path}: cannot read the ACME account key`, {
          cause: error,
        });
      }
    }
    const key = (await acme.crypto.createPrivateEcdsaKey()).toString();
    await writeAtomic(path, key);
    return key;
  }

  private async trustDirectory(acme: AcmeModule): Promise<void> {
    if (this.interceptor !== undefined) return;
    if (this.acme.ca !== undefined) {
      let ca: string;
      try {
        ca = await readFile(this.acme.ca, 'utf8');
      } catch (error) {
        throw new OutlastError('invalid_argument', `edge.tls.acme.ca ${this.acme.ca}: cannot read it`, {
          cause: error,
        });
      }
      this.agent = new HttpsAgent({ ca: [...rootCertificates, ca] });
    }
    const origin = new URL(this.acme.directory).origin;
    const agent = this.agent;
    this.interceptor = acme.axios.interceptors.request.use((config) => {
      if (config.url !== undefined && new URL(config.url, origin).origin === origin) {
        config.timeout ||= REQUEST_TIMEOUT_MS;
        if (agent !== undefined) config.httpsAgent = agent;
      }
      return config;
    });
  }

  private reachDirectory(): Promise<void> {
    const url = new URL(this.acme.directory);
    const source = this.source;
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve, reject) => {
      const options = {
        method: 'GET',
        timeout: DIRECTORY_TIMEOUT_MS,
        ...(this.agent ? { agent: this.agent } : {}),
      };
      const req = request(url, options, (res) => {
        res.resume();
        if (res.statusCode === 200) resolve();
        else reject(new OutlastError('unavailable', `the directory answered ${res.statusCode}`, { source }));
      });
      req.on('timeout', () =>
        req.destroy(new OutlastError('timeout', 'the directory did not answer in time', { source })),
      );
      req.on('error', (error) => reject(acmeError(error, source, 'cannot reach the directory')));
      req.end();
    });
  }
}

/** An error of acme-client (axios, or an ACME problem) as an OutlastError naming the CA. */
function acmeError(error: unknown, source: string, what = 'certificate order failed'): OutlastError {
  if (isOutlastError(error)) {
    return error.source === undefined
      ? new OutlastError(error.code, error.message, { source, cause: error.cause ?? error })
      : error;
  }
  const errno = (error as { code?: unknown }).code;
  const status = (error as { response?: { status?: unknown } }).response?.status;
  const message = messageOf(error);
  const code =
    status === 429 || /rateLimited/.test(message)
      ? 'rate_limited'
      : ((typeof errno === 'string' ? CODE_BY_ERRNO[errno] : undefined) ?? 'unavailable');
  return new OutlastError(code, `${what}: ${message}`, { source, cause: error });
}
