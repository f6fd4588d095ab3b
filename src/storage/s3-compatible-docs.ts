/**
 * The README's table of S3-compatible stores, printed from s3-compatible.ts (`node --import tsx
 * scripts/provider-table.ts --s3-compatible`), so it says what `outlast check` knows. Each fact's
 * cell links the vendor page it comes from.
 */
import { markdownTable } from '../plugins.ts';
import { type Fact, S3_COMPATIBLE_STORES, type S3CompatibleStore, setupDoes } from './s3-compatible.ts';

const HEADER = [
  'Store',
  'Endpoint',
  'Region',
  'Addressing',
  'ACLs',
  'Bucket policy',
  'Website hosting',
  'CORS',
  '`outlast setup` does',
  'By hand',
];

/** The table as Markdown, one row per store, in the list's order. */
export function s3CompatibleTable(stores: readonly S3CompatibleStore[] = S3_COMPATIBLE_STORES): string {
  const rows = stores.map((store) => [
    `**${store.name}**`,
    fact({
      ...store.endpoint,
      value: store.endpoint.value === undefined ? 'no pattern' : `\`${store.endpoint.value}\``,
    }),
    fact(store.region),
    fact(store.addressing),
    fact(store.acl),
    fact(store.policy),
    fact(store.website),
    fact(store.cors),
    setupDoes(store).join(', ') || 'nothing',
    store.byHand.map((step) => fact(step)).join('; ') || 'nothing',
  ]);
  return markdownTable(HEADER, rows);
}

/** `value (note)`, linked to its source. */
function fact(item: Fact<string>): string {
  const text = item.note ? `${item.value} (${item.note})` : item.value;
  return `${text} [↗](${item.source})`;
}
