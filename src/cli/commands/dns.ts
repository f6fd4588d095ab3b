/**
 * `outlast dns plan|apply|destroy`: native failover at the DNS hosts configured with
 * `failover: native` (src/dns/native/). `plan` changes nothing; `apply` makes each host match the
 * config and the origins' current release (a second `plan` is then empty); `destroy` removes exactly
 * what outlast made. Something at the name that outlast did not make is replaced only with --force.
 */
import { loadConfig } from '../../config/load.ts';
import type { Config } from '../../config/schema.ts';
import { readStatus } from '../../deploy/engine.ts';
import { nativeProviders, planNative } from '../../dns/native/index.ts';
import { currentRelease, nativeSpec } from '../../dns/native/spec.ts';
import type { NativePlan } from '../../dns/native/types.ts';
import { OutlastError } from '../../errors.ts';
import { createWriteGate } from '../../writes.ts';
import { EXIT } from '../exit.ts';
import { groupDigits } from '../format.ts';
import type { GlobalOptions } from '../options.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
const SECONDS_PER_MONTH = 30 * 86_400;

export type DnsAction = 'plan' | 'apply' | 'destroy';

export async function dnsCommand(
  action: DnsAction,
  options: GlobalOptions & { force?: boolean; json?: boolean },
): Promise<number> {
  const { config, file } = await loadConfig(options.config);
  if (!config.dns || nativeProviders(config).length === 0) {
    throw new OutlastError('invalid_config', `${file}: no DNS provider has failover: native`, {
      hint: 'set failover: native on a dns.providers entry that supports it (see the README table)',
    });
  }
  const release = await liveRelease(config);
  const spec = nativeSpec(config, release);
  const plans = await planNative(config, spec, { destroy: action === 'destroy' });
  try {
    // Every write to a host passes the run's gate: `plan` is the dry run.
    const gate = createWriteGate({ dryRun: action === 'plan' });
    const write = !gate.dryRun;
    if (write) {
      // Every guard is checked before the first host is written: all or none.
      const refused = plans.filter(({ plan }) => plan.foreign.length > 0);
      if (refused.length > 0 && !options.force) {
        print(plans, spec.name, release, config, options.json, 'refused');
        return EXIT.refused;
      }
      for (const { native, plan } of plans) {
        await gate.run(`${action} native failover at ${plan.provider}`, () =>
          native.apply(plan, { force: options.force ?? false }),
        );
      }
    }
    print(plans, spec.name, release, config, options.json, write ? 'applied' : 'planned');
    return EXIT.ok;
  } finally {
    await Promise.all(plans.map(({ native }) => native.close().catch(() => undefined)));
  }
}

/** The release the latest deploy made live, from the origins' beacons (unreadable ones skipped). */
async function liveRelease(config: Config): Promise<string | undefined> {
  const statuses = await readStatus(config);
  return currentRelease(statuses.map((status) => status.beacon));
}

function print(
  plans: Array<{ plan: NativePlan }>,
  name: string,
  release: string | undefined,
  config: Config,
  json: boolean | undefined,
  outcome: 'planned' | 'applied' | 'refused',
): void {
  const watcherPerMonth = Math.round(SECONDS_PER_MONTH / (config.health.interval / 1000));
  if (json) {
    out(
      JSON.stringify(
        {
          name,
          release: release ?? null,
          outcome,
          hosts: plans.map(({ plan }) => ({
            provider: plan.provider,
            changes: plan.changes,
            notes: plan.notes,
            foreign: plan.foreign,
            checkerRequestsPerMonth: plan.checkerRequestsPerMonth,
          })),
          watcherRequestsPerMonth: watcherPerMonth,
        },
        null,
        2,
      ),
    );
    return;
  }
  out(`${name}: ${release ? `current release ${release}` : 'no origin names a release yet'}`);
  for (const { plan } of plans) {
    out(`${plan.provider}:`);
    if (plan.changes.length === 0) out('  no changes');
    for (const change of plan.changes) {
      const verb =
        outcome === 'applied'
          ? { create: 'created', update: 'updated', delete: 'deleted' }[change.action]
          : change.action;
      out(`  ${verb.padEnd(8)} ${change.what}: ${change.detail}`);
    }
    for (const item of plan.foreign) {
      out(
        outcome === 'applied'
          ? `  replaced ${item} (--force)`
          : `  NOT OURS ${item} (replaced only with --force)`,
      );
    }
    for (const note of plan.notes) out(`  note     ${note}`);
    if (plan.checkerRequestsPerMonth > 0) {
      out(
        `  cost     each origin: ~${groupDigits(plan.checkerRequestsPerMonth)} requests a month from the host's checks, ~${groupDigits(watcherPerMonth)} from each watcher`,
      );
    }
  }
  if (outcome === 'refused')
    out(
      '\nrefused: something at the name was not made by outlast; nothing was changed (--force replaces it)',
    );
  else if (outcome === 'planned' && plans.some(({ plan }) => plan.changes.length > 0))
    out('\n(plan: nothing was changed; outlast dns apply makes it so)');
}
