/**
 * outlast's user metadata keys as Azure metadata names, and back. Azure metadata names must be
 * C# identifiers (letters, digits, `_`, not starting with a digit), so the contract's keys
 * (lowercase letters, digits and `-`, e.g. `outlast-sha256`) cannot be used as they are:
 *
 * - a key is stored as `o_` + the key with each `-` written `_` (`outlast-sha256` →
 *   `o_outlast_sha256`, `1st` → `o_1st`): a key never holds `_`, so the mapping is one to one;
 * - a key whose value is empty is stored as `oe_` + the same, with the value `-`: a header with an
 *   empty value is dropped on the way back (Azurite's Get Blob Properties omits it, although its
 *   listing keeps it), so the empty value is carried by the name instead.
 *
 * Names without either prefix are not outlast's (set in the portal, by another tool) and are left
 * out of what a stat or a listing returns. Values are sent as they are (printable ASCII).
 */
import type { UserMetadata } from '../driver.ts';

const PREFIX = 'o_';
const EMPTY_PREFIX = 'oe_';
/** What a key of empty value holds in Azure (any non-empty value would do). */
const EMPTY_PLACEHOLDER = '-';

/** The Azure metadata for outlast's user metadata. */
export function encodeMetadata(metadata: UserMetadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(metadata)) {
    const name = key.toLowerCase().replace(/-/g, '_');
    if (value === '') out[`${EMPTY_PREFIX}${name}`] = EMPTY_PLACEHOLDER;
    else out[`${PREFIX}${name}`] = value;
  }
  return out;
}

/** outlast's user metadata from Azure's (names compared without case, as Azure does). */
export function decodeMetadata(metadata: Record<string, string> | undefined): UserMetadata {
  const out: UserMetadata = {};
  for (const [name, value] of Object.entries(metadata ?? {})) {
    const lower = name.toLowerCase();
    if (lower.startsWith(EMPTY_PREFIX)) out[keyOf(lower.slice(EMPTY_PREFIX.length))] = '';
    else if (lower.startsWith(PREFIX)) out[keyOf(lower.slice(PREFIX.length))] = value;
  }
  return out;
}

function keyOf(name: string): string {
  return name.replace(/_/g, '-');
}
