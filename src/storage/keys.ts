/**
 * What a valid object key is, for every driver and for the site scanner (see driver.ts).
 */

export const MAX_KEY_BYTES = 1024;

// C0 and C1 control characters and DEL: no store handles them the same way.
// biome-ignore lint/suspicious/noControlCharactersInRegex: this pattern exists to find them
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/;

/** Why `key` is not a valid object key, or `undefined` when it is. */
export function keyProblem(key: string): string | undefined {
  if (key.length === 0) return 'is empty';
  if (key.startsWith('/')) return 'starts with "/"';
  // Most keys are printable ASCII: NFC, no surrogates, one byte a character. A scan checks every
  // file's key, so the common case skips the Unicode checks.
  if (PRINTABLE_ASCII.test(key)) return segmentProblem(key) ?? lengthProblem(key.length);
  if (CONTROL.test(key)) return 'contains a control character';
  if (key !== key.normalize('NFC')) return 'is not in Unicode NFC form';
  if (/[\ud800-\udfff]/.test(key.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '')))
    return 'has a lone surrogate';
  return segmentProblem(key) ?? lengthProblem(Buffer.byteLength(key, 'utf8'));
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

// Without split: a scan and every manifest read check each key, and split's array and
// substrings were most of the check's time.
function segmentProblem(key: string): string | undefined {
  let start = 0;
  while (start <= key.length) {
    let end = key.indexOf('/', start);
    if (end < 0) end = key.length;
    const length = end - start;
    if (length === 0) return 'has an empty segment ("//" or a trailing "/")';
    if (length <= 2 && key.charCodeAt(start) === 46 && (length === 1 || key.charCodeAt(start + 1) === 46)) {
      return `has a "${length === 1 ? '.' : '..'}" segment`;
    }
    start = end + 1;
  }
  return undefined;
}

function lengthProblem(bytes: number): string | undefined {
  return bytes > MAX_KEY_BYTES ? `is longer than ${MAX_KEY_BYTES} UTF-8 bytes` : undefined;
}

/** Compares keys by their UTF-8 bytes, the order every listing uses (S3's order). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
