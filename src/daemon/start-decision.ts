/**
 * What a watcher that starts takes for the decision in force (pure): the records every provider
 * answered, beside the state folder's last save. The decision is then written to every provider
 * whose records differ from it (and only to those), so that a write that was pending when the
 * last watcher stopped or was killed is not forgotten:
 *
 *   1. the saved decision, when a write of it was still pending (a provider was down or being
 *      written): the providers that have it are the ones written, the others are behind;
 *   2. else the saved decision, when some provider serves it (the others were changed by hand or
 *      by another writer since; they are brought back to it);
 *   3. else what the first provider that could be read serves (the state folder is new, or DNS
 *      was moved by hand while no watcher ran: that is respected, nothing is written for it);
 *   4. else nothing: the machine decides from the first health verdicts.
 *
 * The watcher saves a decision before any provider is written (DnsWriter's `beforeWrite`), so a
 * provider never holds a decision newer than the state folder's.
 */
import { type DnsTarget, desiredRecords, sameSet } from '../dns/plan.ts';
import type { RecordSet } from '../dns/provider.ts';
import type { MachineConfig } from '../failover/types.ts';

export interface StartInput {
  name: string;
  ttl: number;
  policy: MachineConfig['policy'];
  /** Origin ids in preference order. */
  order: string[];
  targets: ReadonlyMap<string, DnsTarget>;
  /** Each provider's records, or the error reading them. */
  reads: (RecordSet[] | Error)[];
  /** The last save: its decision and whether a write of it was pending. */
  saved?: { active: string[]; pending: boolean };
}

export interface StartDecision {
  active: string[];
  /** Which rule chose it (1–4 above), for the log. */
  from: 'pending' | 'saved' | 'observed' | 'none';
  /** The providers (by index) whose records are not `active`'s, or could not be read. */
  behind: number[];
}

export function startDecision(input: StartInput): StartDecision {
  const serving = input.reads.map((read) => (Array.isArray(read) ? originsServing(input, read) : undefined));
  const saved = input.saved?.active.filter((id) => input.targets.has(id)) ?? [];
  let active: string[] = [];
  let from: StartDecision['from'] = 'none';
  if (saved.length > 0 && input.saved?.pending) {
    active = saved;
    from = 'pending';
  } else if (saved.length > 0 && serving.some((ids) => ids !== undefined && sameIds(ids, saved))) {
    active = saved;
    from = 'saved';
  } else {
    const first = serving.find((ids) => ids !== undefined);
    if (first && first.length > 0) {
      active = first;
      from = 'observed';
    }
  }
  const behind =
    active.length === 0
      ? []
      : serving.flatMap((ids, index) => (ids !== undefined && sameIds(ids, active) ? [] : [index]));
  return { active, from, behind };
}

/** The origins whose records are exactly what `current` holds; [] when none match. */
export function originsServing(input: Omit<StartInput, 'reads' | 'saved'>, current: RecordSet[]): string[] {
  const matches = (ids: string[]) => {
    const wanted = desiredRecords(
      input.name,
      input.ttl,
      ids.map((id) => input.targets.get(id)!),
    );
    return (
      wanted.length === current.length && wanted.every((set) => current.some((have) => sameSet(set, have)))
    );
  };
  if (input.policy === 'priority') return input.order.filter((id) => matches([id])).slice(0, 1);
  // all-healthy: the origins whose addresses all appear, if together they are exactly the records.
  const values = new Set(current.flatMap((set) => set.values));
  const present = input.order.filter((id) => {
    const target = input.targets.get(id)!;
    if ('cname' in target) return false;
    return [...(target.a ?? []), ...(target.aaaa ?? [])].every((address) => values.has(address));
  });
  return present.length > 0 && matches(present) ? present : [];
}

function sameIds(a: string[], b: string[]): boolean {
  return a.length === b.length && a.every((id) => b.includes(id));
}
