/**
 * The README's tables that are generated from the code must be what the code prints now: a
 * provider added, removed or changed without `scripts/provider-table.ts` being run again fails
 * here, naming the command that prints the table.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { markdownTable, providerTable } from '../../src/dns/capabilities.ts';
import { storageDriverTable } from '../../src/storage/docs.ts';
import { s3CompatibleTable } from '../../src/storage/s3-compatible-docs.ts';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

/** The Markdown table starting at the line that begins with `header`, up to its first blank line. */
function tableAt(text: string, header: string): string {
  const start = text.indexOf(header);
  assert.notEqual(start, -1, `README.md has a table starting "${header}"`);
  const end = text.indexOf('\n\n', start);
  return text.slice(start, end === -1 ? undefined : end).trim();
}

describe('README.md', () => {
  it('lists every DNS provider as the code declares it (node --import tsx scripts/provider-table.ts)', async () => {
    const generated = markdownTable(await providerTable());
    const rows = generated.split('\n').slice(2);
    for (const type of [
      'route53',
      'cloudflare',
      'dnsmadeeasy',
      'powerdns',
      'rfc2136',
      'embedded',
      'memory',
    ]) {
      assert.ok(
        rows.some((row) => row.startsWith(`| **${type}**`)),
        `the generated table has ${type}`,
      );
    }
    assert.equal(tableAt(README, '| Provider | Types |'), generated);
  });

  it('lists every storage driver as the code declares it (node --import tsx scripts/provider-table.ts --storage)', () => {
    const generated = storageDriverTable();
    const rows = generated.split('\n').slice(2);
    for (const type of ['fs', 'memory', 's3', 'swift']) {
      assert.ok(
        rows.some((row) => row.startsWith(`| **${type}**`)),
        `the generated table has ${type}`,
      );
    }
    assert.equal(tableAt(README, '| Storage | Config |'), generated);
  });

  it('lists the S3-compatible stores as the code knows them (node --import tsx scripts/provider-table.ts --s3-compatible)', () => {
    const generated = s3CompatibleTable();
    assert.ok(
      generated
        .split('\n')
        .slice(2)
        .some((row) => row.startsWith('| **Cloudflare R2**')),
    );
    assert.equal(tableAt(README, '| Store | Endpoint |'), generated);
  });
});
