// Prints the README's generated tables:
//
//   node --import tsx scripts/provider-table.ts            the DNS providers (src/dns/capabilities.ts)
//   node --import tsx scripts/provider-table.ts --storage  the storage drivers (src/storage/docs.ts)
//   node --import tsx scripts/provider-table.ts --s3-compatible  the S3-compatible stores (src/storage/s3-compatible-docs.ts)
import { markdownTable, providerTable } from '../src/dns/capabilities.ts';
import { storageDriverTable } from '../src/storage/docs.ts';
import { s3CompatibleTable } from '../src/storage/s3-compatible-docs.ts';

const table = process.argv.includes('--s3-compatible')
  ? s3CompatibleTable()
  : process.argv.includes('--storage')
    ? storageDriverTable()
    : markdownTable(await providerTable());
process.stdout.write(`${table}\n`);
