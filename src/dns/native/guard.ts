/**
 * The delete guard of native failover: a plan that would replace something at the name that
 * outlast did not make is refused (`guard_refused`, exit 3) unless forced. Every host module's
 * `apply` calls it first, so the rule is the same on every host.
 */
import { OutlastError } from '../../errors.ts';
import type { NativePlan } from './types.ts';

export function refuseForeign(plan: NativePlan, force: boolean, source: string, hint: string): void {
  if (plan.foreign.length === 0 || force) return;
  throw new OutlastError(
    'guard_refused',
    `the plan would replace what outlast did not make: ${plan.foreign.join('; ')}`,
    {
      source,
      hint,
    },
  );
}
