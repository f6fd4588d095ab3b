/**
 * The `s3` driver's SDK client: credentials, sockets, timeouts, and the request fixes that let one
 * client talk to AWS and to older S3-compatible stores alike (OpenStack Swift's s3api, MinIO,
 * Ceph, OCI…). See shared notes/swift.md §3(5) for what Swift's S3 API refuses without them.
 */
import { createHash } from 'node:crypto';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import type { fromIni } from '@aws-sdk/credential-provider-ini';
// Not a direct dependency of outlast's package.json: it comes with @aws-sdk/client-s3 (its default
// credential chain uses it), so it is always there, at the version the client expects.
import { componentLogger } from '../../util/log.ts';
import { SHA256_METADATA_KEY } from '../driver.ts';
import type { S3StorageConfig } from './s3-options.ts';

/** The `s3` storage config (options of the driver, s3.ts; declared in s3-options.ts). */
export type { S3StorageConfig } from './s3-options.ts';

/** Sockets per host. Deploys run 16 puts at once by default, multipart uploads 4 parts each. */
const MAX_SOCKETS = 64;
/** Long enough for a slow TLS handshake, short enough to fail over to the next attempt quickly. */
const CONNECTION_TIMEOUT_MS = 5_000;
/** Until the response's headers: covers sending a body of up to 16 MiB on a slow uplink. */
const REQUEST_TIMEOUT_MS = 60_000;
/** A socket silent this long (e.g. a stalled download body) is given up. */
const SOCKET_TIMEOUT_MS = 60_000;
/** The SDK's only switch for its Node < 22 notice (notes G16), which a CLI user can do nothing about. */
const NODE_WARNING_SWITCH = 'AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED';
/** Headers of the SDK's flexible checksums (CRC32…), which older stores reject or ignore. */
const FLEXIBLE_CHECKSUM_HEADER = /^x-amz-(checksum-|sdk-checksum-algorithm$)/i;
const SHA256_HEX = /^[0-9a-f]{64}$/;

/** Where the credentials come from, for error messages (never the credentials themselves). */
export function credentialSource(options: S3StorageConfig): string {
  if (options.credentials) return 'the credentials in the config';
  if (options.profile) return `the AWS profile ${JSON.stringify(options.profile)}`;
  return "the AWS SDK's default credential chain (environment, shared config, SSO, instance role)";
}

/** Where requests go, for error messages. */
export function endpointLabel(options: S3StorageConfig): string {
  return options.endpoint ?? `Amazon S3 (${options.region})`;
}

export function createS3Client(options: S3StorageConfig): S3Client {
  process.env[NODE_WARNING_SWITCH] ??= 'true';
  const logger = componentLogger('s3', { bucket: options.bucket });
  // Options, not Agent instances: the SDK then builds keep-alive agents that close() destroys, and
  // keeps its Expect: 100-continue handling (a refused large PUT is refused before its body).
  const agentOptions = { keepAlive: true, maxSockets: MAX_SOCKETS };
  const config: S3ClientConfig = {
    region: options.region,
    // Store (store.ts) retries with backoff and counts every attempt: one attempt per call here.
    maxAttempts: 1,
    // Checksums only where the API requires one (then replaced by Content-MD5 below): stores other
    // than AWS reject CRC32 headers and aws-chunked bodies (notes §3(5)).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      throwOnRequestTimeout: true,
      socketTimeout: SOCKET_TIMEOUT_MS,
      httpAgent: agentOptions,
      httpsAgent: agentOptions,
    },
    // The SDK warns on the console otherwise (e.g. a failed streamed put); outlast reports the
    // error itself, so its notes are only worth a debug line.
    logger: {
      debug: () => {},
      info: () => {},
      warn: (...content: unknown[]) => logger.debug({ sdk: content.map(String) }, 'sdk warning'),
      error: (...content: unknown[]) => logger.debug({ sdk: content.map(String) }, 'sdk error'),
    },
  };
  if (options.endpoint !== undefined) config.endpoint = options.endpoint;
  if (options.forcePathStyle !== undefined) config.forcePathStyle = options.forcePathStyle;
  if (options.credentials) {
    const { accessKeyId, secretAccessKey, sessionToken } = options.credentials;
    config.credentials = { accessKeyId, secretAccessKey, ...(sessionToken ? { sessionToken } : {}) };
  } else if (options.profile) {
    // Only the profile, as the user asked: the default chain would let environment keys win.
    // The ini provider is loaded on the first request that needs credentials, not at start.
    const profile = options.profile;
    let fromProfile: ReturnType<typeof fromIni> | undefined;
    config.credentials = async (properties?: Parameters<ReturnType<typeof fromIni>>[0]) => {
      fromProfile ??= (await import('@aws-sdk/credential-provider-ini')).fromIni({ profile });
      return fromProfile(properties);
    };
  }
  const client = new S3Client(config);
  // The SDK's per-command log line (input and output run through its sensitive-data filter on
  // every request, about 1 % of a deploy's CPU) goes to an info() that outlast ignores anyway;
  // errors reach outlast as exceptions, and the SDK's own warnings keep the logger above.
  client.middlewareStack.remove('loggerMiddleware');
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (isHttpRequest(args.request)) {
        if (context.commandName === 'PutObjectCommand') presetPayloadHash(args.request, args.input);
        useContentMd5(args.request, context.commandName);
      }
      return next(args);
    },
    // Build step, after the SDK's flexible checksums (priority normal) and before signing.
    { step: 'build', priority: 'low', name: 'outlastContentMd5', override: true },
  );
  return client;
}

/**
 * A PutObject's body is the whole object, whose sha256 the put stores as metadata: sent as
 * `x-amz-content-sha256`, the signer uses it instead of hashing the body again, and the store
 * checks the bytes against it. Done here, on the client's stack, rather than by a middleware
 * added to each command: the SDK resolves a command's own stack on every send, and that was a
 * measurable share of a deploy's CPU. Multipart parts (UploadPart) keep the SDK's own hash.
 */
function presetPayloadHash(request: RequestShape, input: unknown): void {
  const sha256 = (input as { Metadata?: Record<string, string> } | undefined)?.Metadata?.[
    SHA256_METADATA_KEY
  ];
  if (sha256 !== undefined && SHA256_HEX.test(sha256)) request.headers['x-amz-content-sha256'] = sha256;
}

/** The parts of the SDK's HttpRequest that the middleware touches. */
interface RequestShape {
  method: string;
  headers: Record<string, string>;
  query: Record<string, unknown>;
  body?: unknown;
}

function isHttpRequest(request: unknown): request is RequestShape {
  const shape = request as Partial<RequestShape> | undefined;
  return typeof shape?.method === 'string' && typeof shape.headers === 'object' && shape.headers !== null;
}

/**
 * Replaces the SDK's flexible checksum headers with Content-MD5, the integrity header every
 * S3-compatible store knows. Content-MD5 is set where the API requires a checksum (the SDK added
 * one), on DeleteObjects (POST ?delete, which Swift's S3 API refuses without it, and which newer
 * SDKs send with CRC32 only) and on multipart parts, so the store verifies each part. Only bodies
 * held in memory are hashed; a streamed body keeps no checksum header (see s3.ts put).
 */
function useContentMd5(request: RequestShape, commandName: string | undefined): void {
  let checksumRequired = false;
  for (const name of Object.keys(request.headers)) {
    if (!FLEXIBLE_CHECKSUM_HEADER.test(name)) continue;
    delete request.headers[name];
    checksumRequired = true;
  }
  const deleteObjects = request.method === 'POST' && 'delete' in request.query;
  const uploadPart = commandName === 'UploadPartCommand';
  if (!checksumRequired && !deleteObjects && !uploadPart) return;
  if (Object.keys(request.headers).some((name) => name.toLowerCase() === 'content-md5')) return;
  const { body } = request;
  if (typeof body === 'string' || body instanceof Uint8Array) {
    request.headers['content-md5'] = createHash('md5').update(body).digest('base64');
  }
}
