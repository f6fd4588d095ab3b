/**
 * SharedReads: each local file read once for every origin that uploads it, within a byte budget,
 * and the source's problems reported as the put would.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { SharedReads } from '../../src/deploy/shared-reads.ts';
import type { OriginPlan, Upload } from '../../src/deploy/types.ts';
import { isOutlastError } from '../../src/errors.ts';

const dir = mkdtempSync(join(tmpdir(), 'outlast-shared-reads-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, content: string): Upload & { source: { kind: 'local'; path: string } } {
  const path = join(dir, name);
  writeFileSync(path, content);
  return {
    key: name,
    sha256: '0'.repeat(64),
    size: Buffer.byteLength(content),
    headers: {},
    reason: 'new',
    source: { kind: 'local', path },
    html: false,
    preserveShas: [],
  };
}

function plan(uploads: Upload[]): OriginPlan {
  return { uploads } as OriginPlan;
}

describe('SharedReads', () => {
  test('two origins uploading the same files read each once', async () => {
    const a = file('a.txt', 'aaaa');
    const b = file('b.txt', 'bbbbbb');
    const reads = new SharedReads([plan([a, b]), plan([a, b])]);
    const first = await reads.bytesFor(a, 'origin "one"');
    const second = await reads.bytesFor(a, 'origin "two"');
    assert.equal(first.toString(), 'aaaa');
    assert.equal(second, first, 'the same bytes, not a second read');
    reads.release(a);
    reads.release(a);
    await reads.bytesFor(b, 'origin "one"');
    await reads.bytesFor(b, 'origin "two"');
    assert.deepEqual(reads.stats, { reads: 2, rereads: 0, bytesRead: 10 });
  });

  test('bytes are let go once every origin took them, and not kept for a single origin', async () => {
    const a = file('c.txt', 'cc');
    const reads = new SharedReads([plan([a]), plan([a])]);
    await reads.bytesFor(a, 'one');
    reads.release(a);
    reads.release(a);
    // Nobody wants it any more: asking again reads it again.
    await reads.bytesFor(a, 'one');
    assert.equal(reads.stats.reads, 2);
    const single = new SharedReads([plan([a])]);
    await single.bytesFor(a, 'one');
    await single.bytesFor(a, 'one');
    assert.equal(single.stats.reads, 2, 'one origin: nothing is kept for later');
  });

  test('past the budget, bytes are not kept and the other origin reads the file again', async () => {
    const a = file('d.txt', 'x'.repeat(100));
    const reads = new SharedReads([plan([a]), plan([a])], 50);
    await reads.bytesFor(a, 'one');
    await reads.bytesFor(a, 'two');
    assert.deepEqual(reads.stats, { reads: 2, rereads: 1, bytesRead: 200 });
  });

  test('an origin that gives up releases its share: the bytes are not held for it', async () => {
    const a = file('e.txt', 'eee');
    const reads = new SharedReads([plan([a]), plan([a])]);
    await reads.bytesFor(a, 'one');
    reads.release(a); // origin one put it
    reads.release(a); // origin two stopped before it
    await reads.bytesFor(a, 'three');
    assert.equal(reads.stats.reads, 2);
  });

  test('a file that changed size since the scan is a conflict naming it; a missing one is not_found', async () => {
    const a = file('f.txt', 'ffff');
    writeFileSync(a.source.path, 'ffff and more');
    const reads = new SharedReads([plan([a]), plan([a])]);
    await assert.rejects(reads.bytesFor(a, 'origin "one"'), (error: unknown) => {
      assert.ok(isOutlastError(error));
      assert.equal(error.code, 'conflict');
      assert.match(error.message, /f\.txt/);
      assert.match(error.message, /when the site was scanned/);
      return true;
    });
    // The failed read was not kept: the next try reads again (and fails again).
    await assert.rejects(reads.bytesFor(a, 'origin "two"'), /when the site was scanned/);
    const gone = { ...a, source: { kind: 'local' as const, path: join(dir, 'missing.txt') } };
    await assert.rejects(reads.bytesFor(gone, 'origin "one"'), (error: unknown) => {
      assert.ok(isOutlastError(error));
      assert.equal(error.code, 'not_found');
      assert.match(error.message, /missing\.txt/);
      return true;
    });
    const shorter = file('g.txt', 'gggg');
    writeFileSync(shorter.source.path, 'gg');
    await assert.rejects(
      new SharedReads([plan([shorter])]).bytesFor(shorter, 'one'),
      /has 2 bytes, not the 4/,
    );
  });
});
