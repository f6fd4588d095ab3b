/**
 * The errors of a put's local source, the same wherever the file is read (a driver streaming it,
 * or the deploy reading it once for every origin): a file that cannot be opened, and one whose
 * size is no longer the one the scan saw (a build still writing the site).
 */
import { type ErrorCode, messageOf, OutlastError } from '../errors.ts';

/** A source file that could not be opened or read. */
export function sourceReadError(
  error: unknown,
  path: string,
  key: string,
  errorSource: string,
): OutlastError {
  const errno = (error as NodeJS.ErrnoException).code;
  const code: ErrorCode =
    errno === 'ENOENT' ? 'not_found' : errno === 'EACCES' ? 'permission_denied' : 'internal';
  return new OutlastError(
    code,
    `put ${JSON.stringify(key)}: cannot read the source file ${path}: ${messageOf(error)}`,
    { source: errorSource, cause: error },
  );
}

/** A source that gave `size` bytes where the scan (or the caller) announced `source.size`. */
export function changedSource(
  key: string,
  source: { kind: 'file'; path: string; size: number } | { kind: 'stream'; size: number },
  size: number,
  errorSource: string,
): OutlastError {
  const what =
    source.kind === 'file'
      ? `the source file ${source.path} has ${size} bytes, not the ${source.size} it had when the site was scanned`
      : `the source stream gave ${size} bytes, not the ${source.size} announced`;
  return new OutlastError('conflict', `put ${JSON.stringify(key)}: ${what}`, {
    source: errorSource,
    hint: 'run the deploy again once the site is built',
  });
}
