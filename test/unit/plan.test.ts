import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { guardRefusal, type PlanTarget, planOrigin } from '../../src/deploy/plan.ts';
import type { OriginState } from '../../src/deploy/types.ts';
import type { Beacon, Manifest } from '../../src/release/types.ts';

const html = { contentType: 'text/html; charset=utf-8' };
const css = { contentType: 'text/css; charset=utf-8' };

function manifest(files: Record<string, [sha: string, headers?: Record<string, string>]>): Manifest {
  return {
    version: 1,
    site: { indexDocument: 'index.html' },
    files: Object.fromEntries(
      Object.entries(files).map(([key, [sha, headers]]) => [
        key,
        { sha256: sha.padEnd(64, '0'), size: 10, headers: headers ?? (key.endsWith('.html') ? html : css) },
      ]),
    ),
  };
}

function target(id: string, m: Manifest): PlanTarget {
  return {
    releaseId: id,
    manifest: m,
    manifestJson: JSON.stringify(m),
    manifestSha256: 'f'.repeat(64),
    source: {
      kind: 'local',
      files: new Map(Object.keys(m.files).map((key) => [key, { path: `/site/${key}` }])),
    },
  };
}

function beacon(release: string, releases: string[], extra: Partial<Beacon> = {}): Beacon {
  return {
    release,
    manifestSha256: 'f'.repeat(64),
    deployedAt: '2026-01-01T00:00:00.000Z',
    files: 0,
    bytes: 0,
    releases,
    pendingCleanup: [],
    writer: 'outlast/test',
    ...extra,
  };
}

function state(
  b: Beacon | undefined,
  manifests: Record<string, Manifest>,
  blobs: string[] = [],
): OriginState {
  return {
    beacon: b,
    manifests: new Map(Object.entries(manifests)),
    missingManifests: [],
    listing: undefined,
    blobs: new Set(blobs),
    listedReleases: undefined,
  };
}

const guard = { maxDeletes: 1000, maxDeletePercent: 50 };
const now = new Date('2026-11-23T12:00:00.000Z');
const sha = (s: string) => s.padEnd(64, '0');

describe('planOrigin', () => {
  const r1 = manifest({ 'index.html': ['a1'], 'a.css': ['b1'], 'old.css': ['c1'] });
  const r2 = manifest({ 'index.html': ['a2'], 'a.css': ['b1'], 'new.css': ['d1'] });

  test('first deploy to an empty origin (listing): everything new, assets before pages, marker-less', () => {
    const s = state(undefined, {});
    s.listing = new Map();
    const plan = planOrigin({
      originId: 'o',
      target: target('r2', r2),
      state: s,
      keepReleases: 3,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      plan.uploads.map((u) => [u.key, u.reason]),
      [
        ['a.css', 'new'],
        ['new.css', 'new'],
        ['index.html', 'new'],
      ],
    );
    assert.equal(plan.markerBeacon, undefined);
    assert.equal(plan.beacon?.release, 'r2');
    assert.deepEqual(plan.beacon?.releases, ['r2']);
    assert.equal(plan.manifest?.key, '.well-known/outlast/releases/r2.json');
    assert.deepEqual(plan.deletes, []);
    assert.equal(plan.noop, false);
  });

  test('settled origin on the same release: no-op without manifests', () => {
    const plan = planOrigin({
      originId: 'o',
      target: target('r2', r2),
      state: state(beacon('r2', ['r2', 'r1']), {}),
      keepReleases: 3,
      guard,
      now,
      writer: 'w',
    });
    assert.equal(plan.noop, true);
    assert.equal(plan.uploads.length, 0);
    assert.equal(plan.unchanged, 3);
  });

  test('second release: only changed and new files, old files kept, old content preserved', () => {
    const plan = planOrigin({
      originId: 'o',
      target: target('r2', r2),
      state: state(beacon('r1', ['r1']), { r1 }),
      keepReleases: 3,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      plan.uploads.map((u) => [u.key, u.reason, u.preserveShas]),
      [
        ['new.css', 'new', []],
        ['index.html', 'changed', [sha('a1')]],
      ],
    );
    assert.equal(plan.unchanged, 1);
    assert.deepEqual(plan.deletes, [], 'old.css is still referenced by the kept r1');
    assert.deepEqual(plan.keptReleases, ['r2', 'r1']);
    assert.equal(plan.markerBeacon?.deploying, 'r2');
    assert.equal(plan.markerBeacon?.release, 'r1');
    assert.equal(plan.beacon?.deploying, undefined);
  });

  test('keepReleases 1: the old release drops, its unreferenced files and blobs go, manifest last', () => {
    const plan = planOrigin({
      originId: 'o',
      target: target('r2', r2),
      state: state(beacon('r1', ['r1']), { r1 }, [sha('zz'), sha('b1')]),
      keepReleases: 1,
      guard,
      now,
      writer: 'w',
    });
    // r1 is still named by the beacon until the commit, so its index.html is kept as a blob
    // until then, and that blob goes in the cleanup with the rest of r1.
    assert.deepEqual(
      plan.uploads.map((u) => [u.key, u.preserveShas]),
      [
        ['new.css', []],
        ['index.html', [sha('a1')]],
      ],
    );
    assert.deepEqual(plan.deletes, ['old.css']);
    assert.deepEqual(plan.internalDeletes, [
      `.well-known/outlast/blobs/${sha('a1')}`,
      `.well-known/outlast/blobs/${sha('zz')}`,
      '.well-known/outlast/releases/r1.json',
    ]);
    assert.deepEqual(plan.droppedReleases, ['r1']);
    assert.deepEqual(plan.beacon?.pendingCleanup, ['r1']);
    assert.deepEqual(plan.finalBeacon?.pendingCleanup, []);
  });

  test('an interrupted deploy: keys it touched are re-uploaded, even when they match the live release', () => {
    const r3 = manifest({ 'index.html': ['a3'], 'a.css': ['b3'], 'old.css': ['c1'], 'x.css': ['e3'] });
    // Live r1; a deploy of r3 was killed; now r1's content is deployed again under a new id r4.
    const r4 = manifest({ 'index.html': ['a1'], 'a.css': ['b1'], 'old.css': ['c1'] });
    const plan = planOrigin({
      originId: 'o',
      target: target('r4', r4),
      state: state(beacon('r1', ['r1'], { deploying: 'r3' }), { r1, r3 }),
      keepReleases: 2,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      plan.uploads.map((u) => [u.key, u.reason]),
      [
        ['a.css', 'unverified'],
        ['index.html', 'unverified'],
      ],
    );
    assert.deepEqual(plan.deletes, ['x.css'], 'what only the interrupted release wrote is removed');
    assert.ok(plan.droppedReleases.includes('r3'));
  });

  test('a deploy interrupted twice: the first interrupted release is carried in the marker, then distrusted and cleaned', () => {
    const r2 = manifest({ 'index.html': ['a2'], 'a.css': ['b1'], 'old.css': ['c1'], 'two.css': ['f2'] });
    const r3 = manifest({ 'index.html': ['a1'], 'a.css': ['b3'], 'old.css': ['c1'] });
    // Live r1; a deploy of r2 was killed; a deploy of r3 starts: its marker must not forget r2.
    const first = planOrigin({
      originId: 'o',
      target: target('r3', r3),
      state: state(beacon('r1', ['r1'], { deploying: 'r2' }), { r1, r2 }),
      keepReleases: 2,
      guard,
      now,
      writer: 'w',
    });
    assert.equal(first.markerBeacon?.deploying, 'r3');
    assert.deepEqual(first.markerBeacon?.interrupted, ['r2']);
    // That deploy is killed too. The next one (r1's content again, as r4) distrusts the keys
    // both interrupted deploys touched, though r4's index.html equals the live one, and deletes
    // what only r2 wrote.
    const r4 = manifest({ 'index.html': ['a1'], 'a.css': ['b1'], 'old.css': ['c1'] });
    const second = planOrigin({
      originId: 'o',
      target: target('r4', r4),
      state: state(first.markerBeacon, { r1, r2, r3 }),
      keepReleases: 2,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      second.uploads.map((u) => [u.key, u.reason]),
      [
        ['a.css', 'unverified'],
        ['index.html', 'unverified'],
      ],
    );
    assert.deepEqual(second.deletes, ['two.css']);
    assert.deepEqual(second.droppedReleases, ['r2', 'r3']);
    assert.deepEqual(second.markerBeacon?.interrupted, ['r2', 'r3']);
    assert.equal(second.beacon?.interrupted, undefined, 'the commit settles them');
    assert.equal(second.beacon?.deploying, undefined);
  });

  test('a key absent from the live release but held by an older kept one is preserved before reuse', () => {
    // r1 has gone.css; r2 removed it (kept on the origin for r1); r3 brings it back, changed.
    const r1g = manifest({ 'index.html': ['a1'], 'gone.css': ['g1'] });
    const r2g = manifest({ 'index.html': ['a1'] });
    const r3g = manifest({ 'index.html': ['a1'], 'gone.css': ['g3'] });
    const plan = planOrigin({
      originId: 'o',
      target: target('r3', r3g),
      state: state(beacon('r2', ['r2', 'r1']), { r1: r1g, r2: r2g }),
      keepReleases: 3,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      plan.uploads.map((u) => [u.key, u.reason, u.preserveShas]),
      [['gone.css', 'new', [sha('g1')]]],
    );
    assert.deepEqual(plan.internalDeletes, [], 'r1 stays kept, so its blob stays');
  });

  test('aliases a backend needs are uploaded from their site file, kept and cleaned up like it', () => {
    const a1 = manifest({ 'index.html': ['a1'], '404.html': ['e1'] });
    const a2 = manifest({ 'index.html': ['a1'], '404.html': ['e2'] });
    const aliases = { '404404.html': '404.html' };
    const first = planOrigin({
      originId: 'o',
      aliases,
      target: target('a1', a1),
      state: { ...state(undefined, {}), listing: new Map() },
      keepReleases: 1,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      first.uploads.map((u) => [u.key, u.sha256, u.source]),
      [
        ['index.html', sha('a1'), { kind: 'local', path: '/site/index.html' }],
        ['404.html', sha('e1'), { kind: 'local', path: '/site/404.html' }],
        ['404404.html', sha('e1'), { kind: 'local', path: '/site/404.html' }],
      ],
    );
    const second = planOrigin({
      originId: 'o',
      aliases,
      target: target('a2', a2),
      state: state(beacon('a1', ['a1']), { a1 }),
      keepReleases: 1,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      second.uploads.map((u) => [u.key, u.reason]),
      [
        ['404.html', 'changed'],
        ['404404.html', 'changed'],
      ],
    );
    assert.deepEqual(second.deletes, [], 'the alias is part of the new release too');
  });

  test('same bytes with other headers are re-uploaded for the headers', () => {
    const r1b = manifest({
      'index.html': ['a1', { contentType: 'text/html; charset=utf-8', cacheControl: 'max-age=5' }],
    });
    const r1a = manifest({ 'index.html': ['a1'] });
    const plan = planOrigin({
      originId: 'o',
      target: target('rb', r1b),
      state: state(beacon('ra', ['ra']), { ra: r1a }),
      keepReleases: 3,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      plan.uploads.map((u) => u.reason),
      ['headers'],
    );
  });

  test('listing without checksums: objects are unverified, strays are deleted', () => {
    const s = state(undefined, {});
    s.listing = new Map([
      ['index.html', { size: 10 }],
      ['a.css', { size: 10, sha256: sha('b1'), headers: css }],
      ['stray.txt', { size: 3, sha256: sha('99'), headers: {} }],
    ]);
    const plan = planOrigin({
      originId: 'o',
      target: target('r2', r2),
      state: s,
      keepReleases: 3,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(
      plan.uploads.map((u) => [u.key, u.reason]),
      [
        ['new.css', 'new'],
        ['index.html', 'unverified'],
      ],
    );
    assert.deepEqual(plan.deletes, ['stray.txt']);
    assert.equal(plan.objectsBefore, 3);
  });

  test('a kept release whose manifest is missing is dropped with a warning', () => {
    const plan = planOrigin({
      originId: 'o',
      target: target('r2', r2),
      state: state(beacon('r1', ['r1', 'r0']), { r1 }),
      keepReleases: 3,
      guard,
      now,
      writer: 'w',
    });
    assert.deepEqual(plan.keptReleases, ['r2', 'r1']);
    assert.match(plan.warnings.join('\n'), /r0 is no longer kept/);
  });
});

describe('guardRefusal', () => {
  const cases: [deletes: number, before: number, expected: RegExp | undefined][] = [
    [0, 0, undefined],
    [3, 4, undefined], // small sites are exempt from the percentage
    [5, 10, undefined], // exactly 50 %
    [6, 10, /6 of 10 objects \(60\.0%\)/],
    [1001, 100000, /more than deploy\.maxDeletes \(1000\)/],
  ];
  for (const [deletes, before, expected] of cases) {
    test(`${deletes} deletes of ${before}`, () => {
      const refusal = guardRefusal(deletes, before, { maxDeletes: 1000, maxDeletePercent: 50 });
      if (expected === undefined) assert.equal(refusal, undefined);
      else assert.match(refusal ?? '', expected);
    });
  }
});
