/**
 * The DNS providers configured with `failover: native`, and their native-failover modules (loaded
 * on demand). `outlast dns plan|apply|destroy` and the last step of `outlast deploy` go through
 * here; `outlast watch` leaves these providers alone (it writes nothing to them).
 */
import type { Config, DnsProviderConfig } from '../../config/schema.ts';
import { OutlastError } from '../../errors.ts';
import { LIVE } from '../../writes.ts';
import type { NativeFailover, NativePlan, NativeSpec } from './types.ts';

type NativeLoader = (config: DnsProviderConfig) => Promise<NativeFailover>;

const NATIVE_HOSTS: Partial<Record<DnsProviderConfig['type'], NativeLoader>> = {
  powerdns: async (config) =>
    (await import('../providers/powerdns-native.ts')).createPowerDnsNative(
      config as Extract<DnsProviderConfig, { type: 'powerdns' }>,
    ),
  route53: async (config) =>
    (await import('../providers/route53-native.ts')).createRoute53Native(
      config as Extract<DnsProviderConfig, { type: 'route53' }>,
    ),
  cloudflare: async (config) =>
    (await import('../providers/cloudflare-native.ts')).createCloudflareNative(
      config as Extract<DnsProviderConfig, { type: 'cloudflare' }>,
    ),
  dnsmadeeasy: async (config) =>
    (await import('../providers/dnsmadeeasy-native.ts')).createDnsMadeEasyNative(
      config as Extract<DnsProviderConfig, { type: 'dnsmadeeasy' }>,
    ),
};

/** Is this provider configured for native failover? */
export function isNative(provider: DnsProviderConfig): boolean {
  return (provider as { failover?: unknown }).failover === 'native';
}

/** The providers of `config` with `failover: native`, with their index in `dns.providers`. */
export function nativeProviders(config: Config): Array<{ index: number; provider: DnsProviderConfig }> {
  return (config.dns?.providers ?? []).flatMap((provider, index) =>
    isNative(provider) ? [{ index, provider }] : [],
  );
}

export async function createNativeFailover(provider: DnsProviderConfig): Promise<NativeFailover> {
  const load = NATIVE_HOSTS[provider.type];
  if (!load) {
    throw new OutlastError('invalid_config', `the ${provider.type} provider has no native failover`, {
      hint: 'use failover: watcher',
    });
  }
  return load(provider);
}

/** One plan per native provider (the destroy plans with `destroy`). Each host is closed after. */
export async function planNative(
  config: Config,
  spec: NativeSpec,
  options: { destroy?: boolean } = {},
): Promise<Array<{ native: NativeFailover; plan: NativePlan }>> {
  const opened: NativeFailover[] = [];
  const plans: Array<{ native: NativeFailover; plan: NativePlan }> = [];
  try {
    for (const { provider } of nativeProviders(config)) {
      const native = await createNativeFailover(provider);
      opened.push(native);
      plans.push({
        native,
        plan: options.destroy ? await native.planDestroy(spec.name) : await native.plan(spec),
      });
    }
  } catch (error) {
    await Promise.all(opened.map((native) => native.close().catch(() => undefined)));
    throw error;
  }
  return plans;
}

/** What the last step of a deploy did to the native failover hosts. */
export interface NativeUpdate {
  /** Hosts whose plan had changes and were written. */
  updated: string[];
  /** Hosts left alone because something at the name is not outlast's (`outlast dns apply --force`). */
  refused: string[];
  /** Hosts that could not be read or written, with why. */
  failed: Array<{ provider: string; message: string }>;
}

/**
 * The last step of `outlast deploy` and `outlast rollback`: move every native host's match to
 * `release`, the one just made live. Never forces; a failure is reported, not thrown, since the
 * deploy itself is done.
 */
export async function updateNative(config: Config, release: string): Promise<NativeUpdate> {
  const { nativeSpec } = await import('./spec.ts');
  const result: NativeUpdate = { updated: [], refused: [], failed: [] };
  const spec = nativeSpec(config, release);
  for (const { provider } of nativeProviders(config)) {
    let native: NativeFailover | undefined;
    try {
      const host = await createNativeFailover(provider);
      native = host;
      const plan = await host.plan(spec);
      if (plan.foreign.length > 0) result.refused.push(plan.provider);
      else if (plan.changes.length > 0) {
        await LIVE.run(`native failover at ${plan.provider}`, () => host.apply(plan, { force: false }));
        result.updated.push(plan.provider);
      }
    } catch (error) {
      result.failed.push({
        provider: native?.describe() ?? provider.type,
        message: (error as Error).message,
      });
    } finally {
      await native?.close().catch(() => undefined);
    }
  }
  return result;
}
