import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RevisionedMap } from '../../src/cluster/revisioned.ts';

describe('RevisionedMap (watch events and whole reads, in any order)', () => {
  it('takes puts and deletes from the watch, each newer than the last', () => {
    const map = new RevisionedMap<string>();
    assert.equal(map.put('w1', 'a', 5n), true);
    assert.equal(map.put('w1', 'old', 4n), false, 'an older put changes nothing');
    assert.equal(map.put('w2', 'b', 6n), true);
    assert.deepEqual(map.values(), ['a', 'b']);
    assert.equal(map.remove('w1', 7n), true);
    assert.equal(map.put('w1', 'stale', 6n), false, 'a put older than the delete stays deleted');
    assert.deepEqual(map.values(), ['b']);
  });

  it('a read brings what a stalled watch missed, and drops what was deleted since', () => {
    const map = new RevisionedMap<string>();
    map.put('w1', 'old view', 5n);
    map.put('w2', 'gone later', 6n);
    const changed = map.replace([{ key: 'w1', value: 'new view', revision: 20n }], 21n);
    assert.equal(changed, true);
    assert.deepEqual(map.values(), ['new view']);
    assert.equal(
      map.replace([{ key: 'w1', value: 'new view', revision: 20n }], 22n),
      false,
      'the same read again',
    );
  });

  it('an older read never undoes a newer event', () => {
    const map = new RevisionedMap<string>();
    // The read was made at revision 10; events of revision 11 and 12 reached us before its answer.
    map.put('w1', 'newer', 11n);
    map.put('w3', 'added after the read', 12n);
    map.put('w2', 'deleted after the read', 3n);
    map.remove('w2', 11n);
    const changed = map.replace(
      [
        { key: 'w1', value: 'older', revision: 9n },
        { key: 'w2', value: 'deleted after the read', revision: 3n },
      ],
      10n,
    );
    assert.equal(changed, false);
    assert.deepEqual(map.values().sort(), ['added after the read', 'newer']);
  });

  it('a read at or past a delete forgets it; a later put is taken', () => {
    const map = new RevisionedMap<string>();
    map.put('w1', 'a', 2n);
    map.remove('w1', 3n);
    map.replace([], 4n);
    // A new put at any later revision is taken (the tombstone is gone, not blocking it).
    assert.equal(map.put('w1', 'again', 5n), true);
    assert.deepEqual(map.values(), ['again']);
  });
});
