/**
 * etcd's own counters, from /metrics on each member's client URL (Prometheus text). A steady
 * window's before/after difference, summed over the members, is what the watchers asked of etcd:
 * gRPC calls finished and messages received per method, and the key-value store's puts, ranges,
 * txns and deletes.
 */

/** Every sample of one scrape: `name{labels}` → value. */
export type Samples = Map<string, number>;

export function parseMetrics(text: string): Samples {
  const samples: Samples = new Map();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?)\s+(\S+)/.exec(line);
    if (!match) continue;
    const value = Number(match[2]);
    if (Number.isFinite(value)) samples.set(match[1]!, value);
  }
  return samples;
}

export async function scrape(clientUrl: string): Promise<Samples> {
  const response = await fetch(`${clientUrl.replace(/\/$/, '')}/metrics`, {
    signal: AbortSignal.timeout(5000),
  });
  if (!response.ok) throw new Error(`${clientUrl}/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/** `after − before` for every counter in `after` (a missing `before` counts as 0). */
export function diffSamples(after: Samples, before: Samples): Samples {
  const diff: Samples = new Map();
  for (const [key, value] of after) diff.set(key, value - (before.get(key) ?? 0));
  return diff;
}

/** Adds several members' samples. */
export function sumSamples(all: Samples[]): Samples {
  const sum: Samples = new Map();
  for (const samples of all) for (const [key, value] of samples) sum.set(key, (sum.get(key) ?? 0) + value);
  return sum;
}

function nameOf(key: string): string {
  const brace = key.indexOf('{');
  return brace === -1 ? key : key.slice(0, brace);
}

function labelOf(key: string, label: string): string | undefined {
  return new RegExp(`[{,]${label}="([^"]*)"`).exec(key)?.[1];
}

/** The sum of every series of metric `name` (whatever its labels). */
export function total(samples: Samples, name: string): number | undefined {
  let sum: number | undefined;
  for (const [key, value] of samples) if (nameOf(key) === name) sum = (sum ?? 0) + value;
  return sum;
}

/** The first of `names` that the scrape has (etcd renamed some between versions), with its total. */
export function firstTotal(samples: Samples, names: string[]): { metric: string; value: number } | undefined {
  for (const name of names) {
    const value = total(samples, name);
    if (value !== undefined) return { metric: name, value };
  }
  return undefined;
}

/** Series of metric `name` summed by the value of `label` (e.g. grpc_method). */
export function byLabel(samples: Samples, name: string, label: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [key, value] of samples) {
    if (nameOf(key) !== name) continue;
    const which = labelOf(key, label) ?? '(none)';
    out[which] = (out[which] ?? 0) + value;
  }
  return out;
}
