/**
 * The `edge:` section of outlast.yaml: where `outlast edge` listens, how it fails over within a
 * request, its cache and its HTTPS. Imports only zod and the shared config fields, so the schema
 * can import it without a cycle.
 */
import { z } from 'zod';
import { duration, hostPort, httpUrl } from '../config/fields.ts';

/** Answers that count against an origin's health (see `retryStatuses`). */
export const DEFAULT_RETRY_STATUSES = [408, 429, 500, 502, 503, 504];

const acmeSchema = z.strictObject({
  /** The ACME directory, e.g. `https://acme-v02.api.letsencrypt.org/directory`. */
  directory: httpUrl,
  /** The account's contact address, given to the CA. */
  email: z.string().min(3).optional(),
  /** You agree to the CA's terms of service (required by every public CA). */
  termsOfServiceAgreed: z.literal(true),
  /** Names on the certificate (default: `site.hostname`). Each must reach this edge on port 80
   * (HTTP-01 is answered by the edge's HTTP listener). */
  names: z.array(z.string().min(1)).min(1).optional(),
  /** Where the account key, the certificate and its key are kept (relative to the config file). */
  dir: z.string().min(1).default('.outlast/acme'),
  /** Renew when the certificate has fewer days left than this. */
  renewDaysBefore: z.number().int().min(1).max(60).default(30),
  /** A PEM file of extra CA certificates to trust for the ACME directory itself (test CAs). */
  ca: z.string().min(1).optional(),
});

const tlsSchema = z
  .strictObject({
    /** PEM certificate chain, reloaded when the file changes. */
    cert: z.string().min(1).optional(),
    /** PEM private key, reloaded with the certificate. */
    key: z.string().min(1).optional(),
    /** Certificates from an ACME CA (Let's Encrypt), HTTP-01 answered by the edge itself. */
    acme: acmeSchema.optional(),
    /** `Strict-Transport-Security` on HTTPS answers; absent: none is sent. */
    hsts: z
      .strictObject({
        maxAge: z.number().int().min(0).default(31_536_000),
        includeSubDomains: z.boolean().default(false),
        preload: z.boolean().default(false),
      })
      .optional(),
    /** Answer plain HTTP GET/HEAD with a 308 to HTTPS (ACME challenges excepted). */
    redirectHttp: z.boolean().default(false),
  })
  .superRefine((tls, ctx) => {
    const files = tls.cert !== undefined || tls.key !== undefined;
    if (files && tls.acme !== undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected either cert/key files or acme, not both' });
    } else if (!files && tls.acme === undefined) {
      ctx.addIssue({ code: 'custom', message: 'expected cert and key files, or an acme block' });
    } else if (files && (tls.cert === undefined || tls.key === undefined)) {
      ctx.addIssue({
        code: 'custom',
        path: [tls.cert === undefined ? 'cert' : 'key'],
        message: 'is required with the other (cert and key go together)',
      });
    }
  });

export const edgeSchema = z
  .strictObject({
    /** Where the edge serves the site: plain HTTP without `tls`, HTTPS (HTTP/2 and HTTP/1.1) with it. */
    listen: hostPort.default('127.0.0.1:8080'),
    /** With `tls`: the plain-HTTP listener (ACME challenges, the redirect), e.g. `0.0.0.0:80`. */
    httpListen: hostPort.optional(),
    tls: tlsSchema.optional(),
    /** Where `/status` (JSON) and `/metrics` (Prometheus) are served, apart from the site's names
     * (loopback unless you say otherwise). */
    admin: hostPort.default('127.0.0.1:8789'),
    /** Origins tried, in order (default `failover.order`, else the order of `origins`). */
    origins: z.array(z.string().min(1)).min(1).optional(),
    /** An origin that has not sent the response's headers in this time is left for the next. */
    firstByteTimeout: duration('2s'),
    /** An origin whose body stalls this long is left for the next. */
    idleTimeout: duration('5s'),
    /** The whole request, every origin tried included; then the visitor gets a 504 (or the cache). */
    requestTimeout: duration('15s'),
    /** Answers from an origin that count against its health as a failure would (passive health).
     * Any answer that is not the release's bytes sends the request on to the next origin: a 404 or a
     * body whose sha256 is not the manifest's (a deploy half-way on that origin) too, but those are
     * not the origin failing. */
    retryStatuses: z.array(z.number().int().min(300).max(599)).default(DEFAULT_RETRY_STATUSES),
    /** Passive health: after this many failures in a row an origin is skipped… */
    failures: z.number().int().min(1).max(100).default(3),
    /** …for this long, then tried again in the background (its beacon), and used once it answers. */
    cooldown: duration('10s'),
    /** How often every origin's beacon is read, to learn the current release. */
    releasePoll: duration('2s'),
    cache: z
      .strictObject({
        /** Content-addressed files of the current release (relative to the config file). */
        dir: z.string().min(1).default('.outlast/edge-cache'),
        /** The most the cache keeps on disk, in megabytes (least recently used files go first,
         * never the current release's while it fits). */
        maxMegabytes: z.number().int().min(1).default(1024),
        /** Small files are also kept in memory, up to this many megabytes. */
        memoryMegabytes: z.number().int().min(0).default(64),
        /** Fetch every file of a new release in the background, so the site survives every origin
         * going down. */
        warm: z.boolean().default(true),
      })
      .prefault({}),
    /** One JSON line per request on stdout (`false`: none). */
    accessLog: z.boolean().default(true),
  })
  .superRefine((edge, ctx) => {
    if (edge.tls?.acme !== undefined && edge.httpListen === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['httpListen'],
        message: 'is required with tls.acme: the CA checks HTTP-01 challenges on port 80 (e.g. 0.0.0.0:80)',
      });
    }
  });

export type EdgeConfig = z.output<typeof edgeSchema>;
export type EdgeTlsConfig = NonNullable<EdgeConfig['tls']>;
export type EdgeAcmeConfig = NonNullable<EdgeTlsConfig['acme']>;
