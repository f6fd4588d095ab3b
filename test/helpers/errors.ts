/** Assertions on the errors the code under test throws. */
import assert from 'node:assert/strict';
import { type ErrorCode, isOutlastError, type OutlastError } from '../../src/errors.ts';

/**
 * Awaits `promise`, which must reject with an OutlastError of `code` (and from `source` when
 * given: a provider's errors name the provider); returns that error for further assertions.
 */
export async function expectCode(
  promise: Promise<unknown>,
  code: ErrorCode,
  source?: string,
): Promise<OutlastError> {
  const error = await promise.then(
    () => undefined,
    (caught: unknown) => caught,
  );
  assert.ok(isOutlastError(error), `expected an OutlastError (${code}), got ${String(error)}`);
  assert.equal(error.code, code, `expected ${code}, got ${error.code}: ${error.message}`);
  if (source !== undefined) assert.equal(error.source, source);
  return error;
}
