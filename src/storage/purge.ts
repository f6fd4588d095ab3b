/**
 * What a CDN purge (StorageDriver.purge, through Store.purge) tells the deploy: the keys purged,
 * those not, and one sentence for the user naming the reason and the first keys left cached.
 */
import type { PurgeResult } from './driver.ts';

/** A purge's result (StorageDriver.purge), keys without the prefix, and what to tell the user. */
export interface PurgeOutcome extends PurgeResult {
  /** The reason and the keys not purged, in a sentence; undefined when all were purged. */
  warning: string | undefined;
}

/** Keys named in the warning before "and N more". */
const NAMED_KEYS = 10;

/** A purge's result with its warning: the reason, then the first keys not purged. */
export function purgeOutcome(
  purged: string[],
  notPurged: string[],
  reason: string | undefined,
): PurgeOutcome {
  if (notPurged.length === 0) return { purged, notPurged, reason: undefined, warning: undefined };
  const shown = notPurged
    .slice(0, NAMED_KEYS)
    .map((key) => JSON.stringify(key))
    .join(', ');
  const more = notPurged.length > NAMED_KEYS ? ` and ${notPurged.length - NAMED_KEYS} more` : '';
  const why = reason ?? 'the driver gave no reason';
  return {
    purged,
    notPurged,
    reason: why,
    warning: `${why}; not purged (served from the CDN until their TTL ends): ${shown}${more}`,
  };
}
