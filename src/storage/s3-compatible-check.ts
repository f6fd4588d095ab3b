/**
 * `outlast check`'s findings for an `s3` origin on a store it recognises by the endpoint
 * (s3-compatible.ts): which store it is, what `outlast setup` does there and what is left to do by
 * hand, and warnings for a config that the store's docs say cannot work: a region it does not
 * take, an addressing style it does not serve, a `url` on a website endpoint it does not have.
 * Pure: the config in, findings out; an endpoint it does not recognise (MinIO, Ceph, any other
 * self-hosted store) gives no findings, since nothing is known about it.
 */
import type { OriginConfig } from '../config/schema.ts';
import {
  hostOf,
  recogniseStore,
  S3_COMPATIBLE_STORES,
  type S3CompatibleStore,
  setupDoes,
} from './s3-compatible.ts';

/** The shape of check.ts's findings. */
export interface S3CompatibleFinding {
  level: 'ok' | 'warn';
  subject: string;
  message: string;
}

export function checkS3Compatible(
  origin: Pick<OriginConfig, 'id' | 'storage' | 'url'>,
  stores: readonly S3CompatibleStore[] = S3_COMPATIBLE_STORES,
): S3CompatibleFinding[] {
  const storage = origin.storage;
  if (storage.type !== 's3') return [];
  const store = recogniseStore(storage.endpoint, stores);
  if (!store) return [];
  const subject = `origin ${origin.id} store`;
  const does = setupDoes(store);
  const byHand = store.byHand.map((fact) => fact.value);
  const findings: S3CompatibleFinding[] = [
    {
      level: 'ok',
      subject,
      message:
        `${store.name}: \`outlast setup\` ${does.length > 0 ? `does ${does.join(', ')}` : 'can do nothing here'}` +
        (byHand.length > 0 ? `; by hand: ${byHand.join('; ')}` : ''),
    },
  ];
  const warn = (message: string) => findings.push({ level: 'warn', subject, message });

  const region = regionProblem(store, storage.region, storage.endpoint);
  if (region) warn(region);

  if (store.addressing.value === 'path' && storage.forcePathStyle !== true)
    warn(`${store.name} serves path-style requests only: set \`forcePathStyle: true\``);
  if (store.addressing.value === 'virtual-host' && storage.forcePathStyle === true)
    warn(`${store.name} serves virtual-host requests only: remove \`forcePathStyle\``);

  const urlHost = origin.url === undefined ? undefined : hostOf(origin.url);
  const websiteOf =
    urlHost === undefined ? undefined : stores.find((each) => each.websiteHost?.test(urlHost));
  if (websiteOf && websiteOf !== store) {
    warn(
      `url ${origin.url} is a website endpoint of ${websiteOf.name}, but the bucket is on ${store.name}: point url at where ${store.name} serves it`,
    );
  } else if (websiteOf && store.website.value !== 'yes') {
    warn(
      `url ${origin.url} is a website endpoint, and ${store.name}'s website hosting is ${store.website.value}`,
    );
  }
  return findings;
}

/** A region the store does not take, or one that differs from the endpoint's. */
function regionProblem(
  store: S3CompatibleStore,
  region: string,
  endpoint: string | undefined,
): string | undefined {
  const rule = store.regionRule;
  if (!rule) return undefined;
  if (rule.kind === 'fixed') {
    return rule.accepted.includes(region)
      ? undefined
      : `region "${region}": ${store.name} takes ${rule.accepted.map((name) => `"${name}"`).join(' or ')}`;
  }
  const host = endpoint === undefined ? undefined : hostOf(endpoint);
  const named = host === undefined ? undefined : store.host?.exec(host)?.[1];
  return named === undefined || named === region
    ? undefined
    : `region "${region}" differs from the endpoint's region "${named}": set region: ${named}`;
}
