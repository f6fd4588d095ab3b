/**
 * Cancelling driver calls (see "Cancelling" in driver.ts): what an aborted signal makes Node,
 * undici and the AWS SDK throw, and the `cancelled` error every driver turns it into.
 */
import { addAbortSignal, type Readable } from 'node:stream';
import { OutlastError } from '../errors.ts';

/** Node's AbortError (`ABORT_ERR`), undici's RequestAbortedError, the AWS SDK's "Request aborted". */
export function isAbortError(error: unknown): boolean {
  const { name, code } = (error ?? {}) as { name?: unknown; code?: unknown };
  return name === 'AbortError' || code === 'ABORT_ERR' || code === 'UND_ERR_ABORTED';
}

/** The `cancelled` error of `what` (`put "a.txt" in bucket "b"`), from `source` (the driver). */
export function cancelledError(source: string, what: string, cause?: unknown): OutlastError {
  return new OutlastError('cancelled', `${what}: cancelled (its AbortSignal was aborted)`, {
    source,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Throws `cancelled` when `signal` is aborted already: the start of every call. */
export function checkSignal(signal: AbortSignal | undefined, source: string, what: string): void {
  if (signal?.aborted) throw cancelledError(source, what, signal.reason);
}

/** `stream`, destroyed with an AbortError when `signal` aborts (as is, without a signal). */
export function abortable<T extends Readable>(stream: T, signal: AbortSignal | undefined): T {
  return signal ? addAbortSignal(signal, stream) : stream;
}

/** Every chunk of `stream` in one buffer; an abort of `signal` rejects with an AbortError. */
export async function readAll(stream: Readable, signal: AbortSignal | undefined): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of abortable(stream, signal)) {
    chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array));
  }
  return Buffer.concat(chunks);
}
