/**
 * How a put goes up to a block blob. Up to `SINGLE_SHOT_LIMIT` bytes: one Put Blob, streamed,
 * with the caller's MD5 as Content-MD5 when it knows one, so the service refuses other bytes.
 * Beyond: the bytes are read once, in blocks of `BLOCK_SIZE`, each staged with its own MD5
 * (which the service checks), then one Put Block List commits them with the headers and metadata.
 * Staged blocks are invisible until that commit, and the service drops uncommitted ones (after
 * a week), so a put aborted midway leaves the key as it was. The whole-blob MD5, when the caller
 * gave one, is checked here against the bytes read before the commit: a file changed since the
 * scan is refused as the service would refuse it on the single-shot path.
 *
 * Block ids carry a random id per put, so two puts to one key never commit each other's blocks.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { Readable, Transform } from 'node:stream';
import type { BlobHTTPHeaders, BlockBlobClient } from '@azure/storage-blob';
import { abortable } from '../abort.ts';
import type { ObjectSource } from '../driver.ts';
import { changedSource, sourceReadError } from '../source-errors.ts';

/** The largest put sent as one request. */
export const SINGLE_SHOT_LIMIT = 8 * 1024 * 1024;
/** The size of each staged block beyond it. */
export const BLOCK_SIZE = 8 * 1024 * 1024;
/** A block blob's most blocks: with BLOCK_SIZE, the largest object a put can store. */
export const MAX_BLOCKS = 50_000;

export interface UploadInput {
  /** For the errors of the source: the key, and the driver's name. */
  key: string;
  errorSource: string;
  headers: BlobHTTPHeaders;
  metadata: Record<string, string>;
  /** The MD5 (hex) of the bytes, when the caller knows it. */
  md5?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** An error shaped like the service's Md5Mismatch, for a whole-blob MD5 checked here. */
export class Md5MismatchError extends Error {
  readonly details = { errorCode: 'Md5Mismatch' };
  constructor() {
    super('the MD5 of the bytes read is not the one given for them');
    this.name = 'Md5MismatchError';
  }
}

export async function uploadBlob(
  client: BlockBlobClient,
  source: ObjectSource,
  input: UploadInput,
): Promise<void> {
  // What went wrong with the source itself, kept: the SDK wraps a body's error in its own.
  // A failed source also stops the request: the SDK pipes a body, and a pipe does not pass its
  // source's error on, so the request would wait for the bytes that never come.
  let sourceError: Error | undefined;
  const stop = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, stop.signal]) : stop.signal;
  const each = { ...input, signal };
  const open = () =>
    openSource(source, each, (error) => {
      sourceError ??= error;
      stop.abort(error);
    });
  try {
    await upload(client, source, each, open);
  } catch (error) {
    throw sourceError ?? error;
  }
}

async function upload(
  client: BlockBlobClient,
  source: ObjectSource,
  input: UploadInput,
  open: () => Readable,
): Promise<void> {
  const size = source.kind === 'bytes' ? source.bytes.byteLength : source.size;
  const { signal } = input;
  const md5 = input.md5 ? Buffer.from(input.md5, 'hex') : undefined;
  if (size <= SINGLE_SHOT_LIMIT) {
    const body =
      source.kind === 'bytes' ? Buffer.from(source.bytes.buffer, source.bytes.byteOffset, size) : open;
    await client.upload(body, size, {
      blobHTTPHeaders: { ...input.headers, ...(md5 ? { blobContentMD5: md5 } : {}) },
      metadata: input.metadata,
      ...(md5 ? { transactionalContentMD5: md5 } : {}),
      ...(signal ? { abortSignal: signal } : {}),
    });
    return;
  }
  const putId = randomBytes(6).toString('hex');
  const ids: string[] = [];
  const whole = createHash('md5');
  for await (const block of blocks(open(), BLOCK_SIZE)) {
    const id = Buffer.from(`${putId}-${String(ids.length).padStart(6, '0')}`).toString('base64');
    whole.update(block);
    await client.stageBlock(id, block, block.byteLength, {
      transactionalContentMD5: createHash('md5').update(block).digest(),
      ...(signal ? { abortSignal: signal } : {}),
    });
    ids.push(id);
  }
  const digest = whole.digest();
  if (md5 && !digest.equals(md5)) throw new Md5MismatchError();
  await client.commitBlockList(ids, {
    blobHTTPHeaders: { ...input.headers, blobContentMD5: md5 ?? digest },
    metadata: input.metadata,
    ...(signal ? { abortSignal: signal } : {}),
  });
}

/**
 * The source's bytes as a stream that fails (and reports it) when the file cannot be read or
 * gives another number of bytes than announced: a short body would leave the request waiting.
 */
function openSource(source: ObjectSource, input: UploadInput, failed: (error: Error) => void): Readable {
  if (source.kind === 'bytes') return Readable.from([Buffer.from(source.bytes)]);
  const stream = source.kind === 'file' ? createReadStream(source.path) : source.open();
  let count = 0;
  const fail = (error: Error) => {
    failed(error);
    return error;
  };
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      count += chunk.byteLength;
      if (count > source.size) done(fail(changedSource(input.key, source, count, input.errorSource)));
      else done(null, chunk);
    },
    flush(done) {
      done(count === source.size ? null : fail(changedSource(input.key, source, count, input.errorSource)));
    },
  });
  stream.once('error', (error: Error) => {
    const reported =
      source.kind === 'file' && (error as NodeJS.ErrnoException).code !== undefined && !isAbort(error)
        ? fail(sourceReadError(error, source.path, input.key, input.errorSource))
        : error;
    counted.destroy(reported);
  });
  // An upload that stops reading (aborted, refused) closes the file too.
  counted.once('close', () => stream.destroy());
  // Its errors are reported through `failed` (and so stop the request), whoever listens.
  counted.on('error', () => {});
  return abortable(stream.pipe(counted), input.signal);
}

function isAbort(error: unknown): boolean {
  return (error as { name?: string }).name === 'AbortError';
}

/** The stream's bytes in blocks of `size` (the last one shorter). */
async function* blocks(stream: Readable, size: number): AsyncGenerator<Buffer> {
  let parts: Buffer[] = [];
  let held = 0;
  for await (const chunk of stream) {
    let buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
    while (held + buffer.byteLength >= size) {
      const take = size - held;
      parts.push(buffer.subarray(0, take));
      yield Buffer.concat(parts);
      parts = [];
      held = 0;
      buffer = buffer.subarray(take);
    }
    if (buffer.byteLength > 0) {
      parts.push(buffer);
      held += buffer.byteLength;
    }
  }
  if (held > 0) yield Buffer.concat(parts);
}
