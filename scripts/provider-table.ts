// Prints the README's generated tables:
//
//   node --import tsx scripts/provider-table.ts            the DNS providers (src/dns/capabilities.ts)
//   node --import tsx scripts/provider-table.ts --storage  the storage drivers (src/storage/docs.ts)
import { markdownTable, providerTable } from '../src/dns/capabilities.ts';
import { storageDriverTable } from '../src/storage/docs.ts';

const table = process.argv.includes('--storage')
  ? storageDriverTable()
  : markdownTable(await providerTable());
process.stdout.write(`${table}\n`);
