/**
 * The hot path of a deploy to S3: one PutObject of bytes held in memory, without the SDK's
 * per-command machinery. The SDK resolves a command's middleware stack, endpoint rules, schema
 * serializer and deserializer on every send; measured against a local sink (16 in flight, 1 KiB
 * bodies), that is about 1.1 ms of CPU per PutObject of the client's 1.5 ms, and on a 10,000-file
 * deploy to Swift's S3 API on 2 cores it was the distance between outlast-s3 and outlast-swift
 * (30 s of CPU against 16 s).
 *
 * What is kept from the SDK, so that this path behaves like the client's own:
 *   - the endpoint, from the client's endpoint rules (resolved once per bucket; a bucket whose
 *     rules ask for anything but plain SigV4, such as S3 Express or SigV4a, is not sent here);
 *   - the signature: the SDK's SigV4 signer with the client's credential provider (its default
 *     chain, a profile, or keys), the signing name and region of the endpoint's auth scheme, and
 *     the client's clock offset, which an answer saying the clock is skewed corrects;
 *   - the transport: the client's request handler (its keep-alive sockets and timeouts), and
 *     Expect: 100-continue from 2 MiB on, as the SDK sends it;
 *   - the errors: an S3 error answer is parsed for its Code and Message and thrown in the SDK
 *     errors' shape, so s3-errors.ts maps both paths alike; network errors are the handler's own.
 *
 * Streams, multipart uploads and every other request go through the SDK client (s3-upload.ts).
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { PutObjectCommandInput, S3Client } from '@aws-sdk/client-s3';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';
import { WRITER } from '../../version.ts';
import type { S3StorageConfig } from './s3-options.ts';

/** The SDK's own threshold for Expect: 100-continue (middleware-sdk-s3's default). */
const EXPECT_CONTINUE_BYTES = 2 * 1024 * 1024;
/** Enough of an error answer for its Code and Message; S3's are well under 1 KiB. */
const ERROR_BODY_LIMIT = 64 * 1024;
const SHA256_HEX = /^[0-9a-f]{64}$/;
/** The SDK's clock-skew rule: a signature more than 5 minutes off is refused by S3. */
const SKEW_LIMIT_MS = 5 * 60 * 1000;

/** Where a bucket's objects go and how requests to it are signed. */
interface Target {
  url: URL;
  signer: SignatureV4;
}

export interface DirectPut {
  /** PutObject of `bytes` with `input`'s headers and metadata; false when this bucket's endpoint
   * needs the SDK (then nothing was sent). Throws what the SDK's send would throw, in shape. */
  put(input: PutObjectCommandInput, bytes: Buffer, sha256: string, signal?: AbortSignal): Promise<boolean>;
}

/** The SDK's client config as this path reads it (resolved by the client's constructor). */
interface ResolvedConfig {
  credentials: ConstructorParameters<typeof SignatureV4>[0]['credentials'];
  endpointProvider(params: Record<string, unknown>): {
    url: URL;
    properties?: { authSchemes?: { name?: string; signingName?: string; signingRegion?: string }[] };
  };
  requestHandler: {
    handle(
      request: HttpRequest,
      options?: { abortSignal?: AbortSignal },
    ): Promise<{ response: { statusCode: number; headers: Record<string, string>; body: unknown } }>;
  };
  systemClockOffset?: number;
  useFipsEndpoint?: () => Promise<boolean>;
  useDualstackEndpoint?: () => Promise<boolean>;
}

export function createDirectPut(client: S3Client, options: S3StorageConfig): DirectPut {
  const config = client.config as unknown as ResolvedConfig;
  let target: Promise<Target | undefined> | undefined;
  const resolveTarget = async (): Promise<Target | undefined> => {
    // The switches the client reads from the environment or the shared config (AWS_USE_FIPS_ENDPOINT…).
    const endpoint = config.endpointProvider({
      Bucket: options.bucket,
      Region: options.region,
      UseFIPS: (await config.useFipsEndpoint?.()) ?? false,
      UseDualStack: (await config.useDualstackEndpoint?.()) ?? false,
      Accelerate: false,
      ForcePathStyle: options.forcePathStyle ?? false,
      ...(options.endpoint === undefined ? {} : { Endpoint: options.endpoint }),
    });
    const scheme = endpoint.properties?.authSchemes?.[0];
    if (scheme !== undefined && scheme.name !== 'sigv4') return undefined;
    return {
      url: endpoint.url,
      signer: new SignatureV4({
        credentials: config.credentials,
        region: scheme?.signingRegion ?? options.region,
        service: scheme?.signingName ?? 's3',
        sha256: Sha256,
        // The path is escaped here once, as S3 signs it (no second escape).
        uriEscapePath: false,
        applyChecksum: false,
      }),
    };
  };

  return {
    async put(input, bytes, sha256, signal) {
      target ??= resolveTarget();
      const resolved = await target;
      if (resolved === undefined) return false;
      const { url, signer } = resolved;
      const request = new HttpRequest({
        method: 'PUT',
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: `${url.pathname.replace(/\/+$/, '')}/${escapeKey(input.Key ?? '')}`,
        query: {},
        headers: requestHeaders(url, input, bytes, sha256),
        body: bytes,
      });
      const signingDate = new Date(Date.now() + (config.systemClockOffset ?? 0));
      const signed = (await signer.sign(request, { signingDate })) as HttpRequest;
      const { response } = await config.requestHandler.handle(signed, signal ? { abortSignal: signal } : {});
      const body = response.body as Readable | undefined;
      if (response.statusCode >= 200 && response.statusCode < 300) {
        body?.resume();
        return true;
      }
      const text = body ? await readLimited(body) : '';
      const error = s3ErrorAnswer(response.statusCode, response.headers, text);
      correctClock(config, response.headers.date);
      throw error;
    },
  };
}

/** The headers the SDK's PutObject serializer writes for these input fields, and no others. */
function requestHeaders(
  url: URL,
  input: PutObjectCommandInput,
  bytes: Buffer,
  sha256: string,
): Record<string, string> {
  const headers: Record<string, string> = {
    host: url.host,
    'content-length': String(bytes.length),
    'user-agent': WRITER,
    'x-amz-content-sha256': SHA256_HEX.test(sha256)
      ? sha256
      : createHash('sha256').update(bytes).digest('hex'),
  };
  const fields: [string, string | undefined][] = [
    ['content-type', input.ContentType],
    ['cache-control', input.CacheControl],
    ['content-encoding', input.ContentEncoding],
    ['content-disposition', input.ContentDisposition],
    ['content-language', input.ContentLanguage],
    ['content-md5', input.ContentMD5],
  ];
  for (const [name, value] of fields) if (value !== undefined) headers[name] = value;
  for (const [name, value] of Object.entries(input.Metadata ?? {})) {
    headers[`x-amz-meta-${name.toLowerCase()}`] = value;
  }
  if (bytes.length >= EXPECT_CONTINUE_BYTES) headers.expect = '100-continue';
  return headers;
}

/** A key as S3 wants it in the path (the SDK's extendedEncodeURIComponent per segment). */
export function escapeKey(key: string): string {
  return key
    .split('/')
    .map((segment) =>
      encodeURIComponent(segment).replace(
        /[!'()*]/g,
        (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
      ),
    )
    .join('/');
}

async function readLimited(body: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    if (size < ERROR_BODY_LIMIT) chunks.push(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return Buffer.concat(chunks).subarray(0, ERROR_BODY_LIMIT).toString('utf8');
}

/** An error answer in the shape of the SDK's service errors (name = S3's Code, $metadata,
 * $response.headers), or a bare one for an answer without S3's XML (a proxy's 502 page). */
export function s3ErrorAnswer(status: number, headers: Record<string, string>, text: string): Error {
  const code = xmlField(text, 'Code');
  const message = xmlField(text, 'Message');
  // 'UnknownError' is the SDK's message for an answer it could not read; s3-errors.ts then says
  // what the status means instead.
  const error = new Error(message ?? 'UnknownError') as Error & Record<string, unknown>;
  error.name = code ?? 'Unknown';
  if (code !== undefined) error.Code = code;
  error.$fault = status >= 500 ? 'server' : 'client';
  error.$metadata = { httpStatusCode: status, requestId: headers['x-amz-request-id'] };
  error.$response = { statusCode: status, headers, body: undefined };
  return error;
}

function xmlField(text: string, name: string): string | undefined {
  const match = new RegExp(`<${name}>([^<]*)</${name}>`).exec(text);
  return match ? decodeXml(match[1]!) : undefined;
}

function decodeXml(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|apos);/g, (_, entity: string) =>
    entity === 'lt' ? '<' : entity === 'gt' ? '>' : entity === 'amp' ? '&' : entity === 'quot' ? '"' : "'",
  );
}

/** As the SDK's signer does on an error answer: when the store's clock is more than 5 minutes
 * from ours (with the offset so far), later signatures use the store's clock. */
function correctClock(config: ResolvedConfig, date: string | undefined): void {
  const serverTime = date === undefined ? Number.NaN : Date.parse(date);
  if (Number.isNaN(serverTime)) return;
  const now = Date.now();
  if (Math.abs(serverTime - (now + (config.systemClockOffset ?? 0))) >= SKEW_LIMIT_MS) {
    config.systemClockOffset = serverTime - now;
  }
}
