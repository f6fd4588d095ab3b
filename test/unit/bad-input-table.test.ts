/**
 * docs/bad-input.md must be what scripts/bad-input-table.ts prints from the corpus now: a case
 * added, removed or changed without running it again fails here, naming the command.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { badInputDoc } from '../../scripts/bad-input-table.ts';
import { loadCorpus } from '../helpers/bad-corpus.ts';

describe('docs/bad-input.md', () => {
  it('is the table of the corpus (node --import tsx scripts/bad-input-table.ts > docs/bad-input.md)', () => {
    const committed = readFileSync(
      fileURLToPath(new URL('../../docs/bad-input.md', import.meta.url)),
      'utf8',
    );
    assert.equal(committed, badInputDoc());
  });

  it('has one row per case, and case ids are unique', () => {
    const corpus = loadCorpus();
    const ids = corpus.map((item) => item.id);
    assert.equal(new Set(ids).size, ids.length);
    const rows = badInputDoc()
      .split('\n')
      .filter((line) => line.startsWith('| ') && !line.startsWith('| case |'));
    assert.equal(rows.length, corpus.length);
  });
});
