// Prints the README's table of DNS providers, built from each provider's declared capabilities and
// the config schema (src/dns/capabilities.ts):
//
//   node --import tsx scripts/provider-table.ts
import { markdownTable, providerTable } from '../src/dns/capabilities.ts';

process.stdout.write(`${markdownTable(await providerTable())}\n`);
