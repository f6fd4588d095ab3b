/**
 * The README's table of storage drivers, printed from the registry (`node --import tsx
 * scripts/provider-table.ts --storage`), so it cannot drift from the code: the capabilities are
 * those each driver declares (the flags the conformance suite reads to skip what a driver lacks),
 * the config fields come from its options schema, the prose from its options module.
 */
import { configFields, markdownTable } from '../plugins.ts';
import { STORAGE_DRIVERS } from './registry.ts';

const HEADER = [
  'Storage',
  'Config',
  'Server-side copy',
  'Batch delete',
  'Listing has sha256 and headers',
  'Key `a` beside `a/b`',
  'Notes',
];

/** The table as Markdown, one row per driver, in the registry's order. */
export function storageDriverTable(): string {
  const yesNo = (flag: boolean) => (flag ? 'yes' : 'no');
  const rows = STORAGE_DRIVERS.map(({ type, schema, capabilities, docs }) => [
    `**${type}**<br>${docs.summary}`,
    configFields(schema)
      .map((field) => `\`${field}\``)
      .join(', '),
    yesNo(capabilities.copy),
    capabilities.deleteMany ? `yes (${thousands(capabilities.maxDeleteBatch)} keys)` : 'no',
    yesNo(capabilities.listHasMetadata),
    yesNo(capabilities.fileAndDirectorySameName),
    docs.notes,
  ]);
  return markdownTable(HEADER, rows);
}

/** `10000` → `10,000`, the same on every machine (no locale). */
function thousands(count: number): string {
  return String(count).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
