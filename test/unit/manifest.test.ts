import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { isOutlastError } from '../../src/errors.ts';
import {
  beaconJson,
  buildBeacon,
  buildManifest,
  canonicalJson,
  canonicalManifestJson,
  MAX_BEACON_BYTES,
  parseBeacon,
  parseManifest,
  releaseIdOf,
} from '../../src/release/manifest.ts';
import { acceptManifest } from '../../src/release/manifest-fast.ts';
import type { Manifest, ManifestEntry } from '../../src/release/types.ts';
import { RELEASE_ID_PATTERN } from '../../src/release/types.ts';
import type { ObjectHeaders } from '../../src/storage/driver.ts';
import { compareKeys } from '../../src/storage/keys.ts';

const sha = (text: string) => createHash('sha256').update(text).digest('hex');
const SITE = { indexDocument: 'index.html', errorDocument: '404.html' };

function entries(): [string, ManifestEntry][] {
  return [
    ['index.html', { sha256: sha('a'), size: 1, headers: { contentType: 'text/html; charset=utf-8' } }],
    [
      'assets/app.js',
      { sha256: sha('b'), size: 2, headers: { cacheControl: 'max-age=60', contentType: 'x/y' } },
    ],
    ['café/ö.html', { sha256: sha('c'), size: 3, headers: {} }],
    ['404.html', { sha256: sha('d'), size: 4, headers: { contentType: 'text/html', contentLanguage: 'en' } }],
  ];
}

function idOf(manifest: Manifest): string {
  return releaseIdOf(canonicalManifestJson(manifest)).releaseId;
}

const rejects = (fn: () => unknown, pattern: RegExp) =>
  assert.throws(fn, (error: unknown) => isOutlastError(error, 'internal') && pattern.test(error.message));

describe('buildManifest and canonical JSON', () => {
  it('gives the same bytes whatever the insertion order of files and header fields', () => {
    const reordered = entries()
      .reverse()
      .map(([key, entry]): [string, ManifestEntry] => {
        const headers = Object.fromEntries(Object.entries(entry.headers).reverse());
        return [key, { headers, size: entry.size, sha256: entry.sha256 }];
      });
    const a = canonicalManifestJson(buildManifest(entries(), SITE));
    const b = canonicalManifestJson(
      buildManifest(reordered, { errorDocument: '404.html', indexDocument: 'index.html' }),
    );
    assert.equal(a, b);
    assert.equal(a, JSON.stringify(JSON.parse(a)), 'compact, no whitespace');
  });

  it('sorts keys by UTF-8 bytes, not UTF-16 code units', () => {
    const keys = ['😀.html', '！.html', 'z.html', 'a.html'];
    const manifest = buildManifest(
      keys.map((key) => [key, { sha256: sha(key), size: 0, headers: {} }]),
      SITE,
    );
    const expected = [...keys].sort(compareKeys);
    assert.deepEqual(Object.keys(manifest.files), expected);
    assert.deepEqual(expected, ['a.html', 'z.html', '！.html', '😀.html']);
    const json = canonicalManifestJson(manifest);
    assert.ok(json.indexOf('！.html') < json.indexOf('😀.html'));
  });

  it('sorts keys at every level and leaves out undefined fields', () => {
    assert.equal(
      canonicalJson({ b: 1, a: { d: [2, { y: 1, x: 0 }], c: undefined } }),
      '{"a":{"d":[2,{"x":0,"y":1}]},"b":1}',
    );
    assert.throws(() => canonicalJson({ a: Number.NaN }), /no JSON form/);
  });

  it('omits errorDocument when unset and undefined header fields', () => {
    const manifest = buildManifest(
      [['a', { sha256: sha('a'), size: 1, headers: { contentType: 'x/y', cacheControl: undefined } }]],
      { indexDocument: 'index.html' },
    );
    assert.deepEqual(manifest.site, { indexDocument: 'index.html' });
    assert.deepEqual(Object.keys(manifest.files.a!.headers), ['contentType']);
    assert.doesNotMatch(canonicalManifestJson(manifest), /errorDocument|cacheControl/);
  });

  it('writes exactly the bytes of the general canonical JSON, for every shape of entry', () => {
    // canonicalManifestJson writes `files` with a loop of its own; it must never differ.
    const random = (() => {
      let seed = 7;
      return () => {
        seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648;
        return seed / 2_147_483_648;
      };
    })();
    const odd = [
      '10',
      '2',
      '__proto__',
      'constructor',
      'a b/c?d#e+f%g.html',
      'é/ü.css',
      '😀.html',
      '"q"\\.txt',
    ];
    const headerSets: ObjectHeaders[] = [
      {},
      { contentType: 'text/html; charset=utf-8' },
      { contentType: 'text/css', cacheControl: 'max-age=60', contentEncoding: 'gzip' },
      { contentLanguage: 'fr', contentDisposition: 'attachment; filename="a.txt"', cacheControl: undefined },
    ];
    const pairs: [string, ManifestEntry][] = [];
    for (let i = 0; i < 300; i++) {
      const key =
        i < odd.length
          ? odd[i]!
          : `dir${Math.floor(random() * 20)}/file-${i}.${['html', 'js', 'png'][i % 3]}`;
      const headers = { ...headerSets[Math.floor(random() * headerSets.length)]! };
      pairs.push([key, { sha256: sha(key), size: Math.floor(random() * 1e9), headers }]);
    }
    for (const site of [SITE, { indexDocument: 'index.html' }]) {
      const manifest = buildManifest(pairs, site);
      assert.equal(canonicalManifestJson(manifest), canonicalJson(manifest));
      // And an entry of an unexpected shape (as a hand-edited manifest might hold) goes the general way.
      const extra = {
        ...manifest,
        files: { ...manifest.files, x: { sha256: sha('x'), size: 1, headers: {}, more: 1 } },
      };
      assert.equal(canonicalManifestJson(extra as Manifest), canonicalJson(extra));
    }
  });

  it('refuses a key given twice', () => {
    const twice: [string, ManifestEntry][] = [...entries(), entries()[0]!];
    rejects(() => buildManifest(twice, SITE), /given twice/);
  });
});

describe('releaseIdOf', () => {
  it('is r + the first 20 hex digits of the sha256 of the JSON', () => {
    const json = canonicalManifestJson(buildManifest(entries(), SITE));
    const { releaseId, sha256 } = releaseIdOf(json);
    assert.match(releaseId, RELEASE_ID_PATTERN);
    assert.equal(sha256, sha(json));
    assert.equal(releaseId, `r${sha256.slice(0, 20)}`);
  });

  it('changes when any byte, size, header, key, index or error document changes, and not otherwise', () => {
    const base = idOf(buildManifest(entries(), SITE));
    assert.equal(idOf(buildManifest(entries().reverse(), SITE)), base);
    const variants: [
      string,
      (list: [string, ManifestEntry][]) => void,
      typeof SITE | { indexDocument: string },
    ][] = [
      [
        'content',
        (list) => {
          list[0]![1].sha256 = sha('a2');
        },
        SITE,
      ],
      [
        'size',
        (list) => {
          list[0]![1].size = 9;
        },
        SITE,
      ],
      [
        'header value',
        (list) => {
          list[1]![1].headers.cacheControl = 'max-age=61';
        },
        SITE,
      ],
      [
        'header added',
        (list) => {
          list[2]![1].headers.contentEncoding = 'gzip';
        },
        SITE,
      ],
      [
        'key',
        (list) => {
          list[2]![0] = 'cafe/ö.html';
        },
        SITE,
      ],
      ['index document', () => {}, { ...SITE, indexDocument: 'home.html' }],
      ['error document', () => {}, { ...SITE, errorDocument: 'missing.html' }],
      ['no error document', () => {}, { indexDocument: 'index.html' }],
    ];
    const seen = new Set([base]);
    for (const [what, change, site] of variants) {
      const list = entries();
      change(list);
      const id = idOf(buildManifest(list, site));
      assert.ok(!seen.has(id), `${what} must change the release id`);
      seen.add(id);
    }
  });
});

describe('parseManifest', () => {
  const good = canonicalManifestJson(buildManifest(entries(), SITE));

  it('round-trips canonical JSON, from a string or bytes', () => {
    const parsed = parseManifest(good, 'test');
    assert.equal(canonicalManifestJson(parsed), good);
    assert.deepEqual(parseManifest(Buffer.from(good), 'test'), parsed);
  });

  it('keeps keys named like Object.prototype members (__proto__, constructor)', () => {
    const entry = { sha256: sha('p'), size: 1, headers: {} };
    const manifest = buildManifest(
      [
        ['__proto__', entry],
        ['constructor', entry],
        ['x', entry],
      ],
      SITE,
    );
    assert.deepEqual(Object.keys(manifest.files), ['__proto__', 'constructor', 'x']);
    const json = canonicalManifestJson(manifest);
    const parsed = parseManifest(json, 'test');
    assert.deepEqual(Object.keys(parsed.files), ['__proto__', 'constructor', 'x']);
    assert.equal(canonicalManifestJson(parsed), json);
    assert.equal(Object.getPrototypeOf(parsed.files), Object.prototype);
  });

  it('fails clearly, naming the source and the place', () => {
    const source = 'origin a: .well-known/outlast/releases/r0.json';
    const edit = (
      fn: (m: Record<string, unknown> & { files: Record<string, Record<string, unknown>> }) => void,
    ) => {
      const value = JSON.parse(good);
      fn(value);
      return JSON.stringify(value);
    };
    rejects(() => parseManifest('{"version":', source), /^origin a: .*manifest is not valid JSON/);
    rejects(() => parseManifest(Uint8Array.from([0x7b, 0xff, 0x7d]), source), /not valid JSON/);
    rejects(
      () =>
        parseManifest(
          edit((m) => {
            m.version = 2;
          }),
          source,
        ),
      /version: expected version 1/,
    );
    rejects(
      () =>
        parseManifest(
          edit((m) => void delete m.site),
          source,
        ),
      /site:/,
    );
    rejects(
      () =>
        parseManifest(
          edit((m) => {
            m.files['index.html']!.sha256 = 'abc';
          }),
          source,
        ),
      /files\["index\.html"\]\.sha256: expected 64/,
    );
    rejects(
      () =>
        parseManifest(
          edit((m) => {
            m.files['index.html']!.size = -1;
          }),
          source,
        ),
      /\.size/,
    );
    rejects(
      () =>
        parseManifest(
          edit((m) => {
            m.files['index.html']!.extra = 1;
          }),
          source,
        ),
      /extra/,
    );
    rejects(
      () =>
        parseManifest(
          edit((m) => {
            m.files['../x'] = m.files['index.html']!;
          }),
          source,
        ),
      /files\["\.\.\/x"\]: key has a "\.\." segment/,
    );
    rejects(
      () =>
        parseManifest(
          edit((m) => {
            m.files['.well-known/outlast/x'] = m.files['index.html']!;
          }),
          source,
        ),
      /reserved/,
    );
    rejects(() => parseManifest('[]', source), /\(top level\)/);
  });
});

describe('the fast manifest check', () => {
  const good = canonicalManifestJson(buildManifest(entries(), SITE));
  type Doc = Record<string, unknown> & {
    site?: Record<string, unknown>;
    files: Record<string, Record<string, unknown>>;
  };
  const variant = (fn: (m: Doc) => void): Doc => {
    const value = JSON.parse(good) as Doc;
    fn(value);
    return value;
  };
  const index = (m: Doc) => m.files['index.html']!;

  it('takes a valid manifest as parsed, one frozen header object per distinct set', () => {
    const value = variant((m) => {
      m.files['b.html'] = { ...index(m), headers: { contentType: 'text/html; charset=utf-8' } };
    });
    const files = value.files;
    const accepted = acceptManifest(value);
    assert.ok(accepted, 'the fast check takes it');
    assert.equal(accepted.files, files, 'the parsed object itself, not a copy');
    assert.equal(accepted.files['b.html']!.headers, accepted.files['index.html']!.headers);
    assert.ok(Object.isFrozen(accepted.files['b.html']!.headers));
    assert.deepEqual(parseManifest(JSON.stringify(value), 'test'), accepted);
  });

  it('leaves to the schema everything the schema refuses', () => {
    const refused: Array<[string, (m: Doc) => void]> = [
      [
        'version 2',
        (m) => {
          m.version = 2;
        },
      ],
      ['no site', (m) => void delete m.site],
      [
        'an extra top-level field',
        (m) => {
          m.extra = 1;
        },
      ],
      [
        'an empty index document',
        (m) => {
          m.site!.indexDocument = '';
        },
      ],
      [
        'an extra site field',
        (m) => {
          m.site!.x = 'y';
        },
      ],
      [
        'a numeric error document',
        (m) => {
          m.site!.errorDocument = 4;
        },
      ],
      [
        'files an array',
        (m) => {
          m.files = [] as never;
        },
      ],
      [
        'a short sha256',
        (m) => {
          index(m).sha256 = 'abc';
        },
      ],
      [
        'an uppercase sha256',
        (m) => {
          index(m).sha256 = sha('a').toUpperCase();
        },
      ],
      [
        'a negative size',
        (m) => {
          index(m).size = -1;
        },
      ],
      [
        'a fractional size',
        (m) => {
          index(m).size = 1.5;
        },
      ],
      [
        'a size past 2^53',
        (m) => {
          index(m).size = 2 ** 60;
        },
      ],
      [
        'a size as a string',
        (m) => {
          index(m).size = '1';
        },
      ],
      ['no headers', (m) => void delete index(m).headers],
      [
        'an unknown header',
        (m) => {
          index(m).headers = { etag: 'x' };
        },
      ],
      [
        'an empty header',
        (m) => {
          index(m).headers = { contentType: '' };
        },
      ],
      [
        'an extra entry field',
        (m) => {
          index(m).extra = 1;
        },
      ],
      [
        'a ".." key',
        (m) => {
          m.files['a/../x'] = index(m);
        },
      ],
      [
        'an empty segment',
        (m) => {
          m.files['a//x'] = index(m);
        },
      ],
      [
        'a reserved key',
        (m) => {
          m.files['.well-known/outlast/x'] = index(m);
        },
      ],
      [
        'an entry that is null',
        (m) => {
          m.files.x = null as never;
        },
      ],
    ];
    for (const [what, fn] of refused) {
      assert.equal(acceptManifest(variant(fn)), undefined, `the fast check refuses ${what}`);
      assert.throws(() => parseManifest(JSON.stringify(variant(fn)), 'test'), /manifest is not valid/, what);
    }
    assert.equal(acceptManifest([]), undefined);
    assert.equal(acceptManifest(null), undefined);
  });
});

describe('beacon', () => {
  const id = (n: number) => `r${n.toString(16).padStart(20, '0')}`;
  const args = {
    releaseId: id(1),
    manifestSha256: sha('m'),
    files: 10_000,
    bytes: 230_000_000,
    releases: [id(1), id(2)],
    pendingCleanup: [id(3)],
    deployedAt: new Date('2025-01-02T03:04:05.678Z'),
    writer: 'outlast/0.1.0',
  };

  it('builds a beacon with release first, and parses it back', () => {
    const beacon = buildBeacon(args);
    const json = beaconJson(beacon);
    assert.ok(json.startsWith(`{"release":"${id(1)}"`));
    assert.equal(beacon.deployedAt, '2025-01-02T03:04:05.678Z');
    assert.deepEqual(parseBeacon(json, 'test'), beacon);
    assert.deepEqual(parseBeacon(Buffer.from(JSON.stringify(beacon, null, 2)), 'test'), beacon);
  });

  it('keeps `deploying` and ignores unknown fields from a newer writer', () => {
    const beacon = buildBeacon({ ...args, deploying: id(9) });
    assert.equal(beacon.deploying, id(9));
    const parsed = parseBeacon(JSON.stringify({ ...beacon, future: { x: 1 } }), 'test');
    assert.deepEqual(parsed, beacon);
  });

  it('rejects bad beacons clearly', () => {
    const json = beaconJson(buildBeacon(args));
    const edit = (fn: (b: Record<string, unknown>) => void) => {
      const value = JSON.parse(json);
      fn(value);
      return JSON.stringify(value);
    };
    rejects(() => parseBeacon('<html>', 'origin b'), /^origin b: beacon is not valid JSON/);
    rejects(
      () =>
        parseBeacon(
          edit((b) => void delete b.release),
          'origin b',
        ),
      /release:/,
    );
    rejects(
      () =>
        parseBeacon(
          edit((b) => {
            b.release = 'r1';
          }),
          'origin b',
        ),
      /release: expected a release id/,
    );
    rejects(
      () =>
        parseBeacon(
          edit((b) => {
            b.releases = [id(2)];
          }),
          'origin b',
        ),
      /releases\[0\]: expected the first/,
    );
    rejects(
      () =>
        parseBeacon(
          edit((b) => {
            b.deployedAt = 'yesterday';
          }),
          'origin b',
        ),
      /deployedAt/,
    );
    rejects(
      () =>
        parseBeacon(
          edit((b) => {
            b.files = 1.5;
          }),
          'origin b',
        ),
      /files/,
    );
  });

  it('refuses to build an invalid beacon', () => {
    rejects(() => buildBeacon({ ...args, releases: [id(2), id(1)] }), /releases\.0/);
    rejects(() => buildBeacon({ ...args, deployedAt: new Date(Number.NaN) }), /invalid date/);
  });

  // Decision: the beacon is never trimmed (a dropped kept release would let cleanup delete its
  // files); a beacon that would reach 2 KB is refused, so keepReleases must stay well under 100.
  it(`stays under ${MAX_BEACON_BYTES} bytes with 60 kept releases and 10 pending cleanups`, () => {
    const releases = Array.from({ length: 60 }, (_, i) => id(1_000_000 + i));
    const pendingCleanup = Array.from({ length: 10 }, (_, i) => id(2_000_000 + i));
    const beacon = buildBeacon({
      ...args,
      releaseId: releases[0]!,
      releases,
      pendingCleanup,
      deploying: id(5),
      files: 9_999_999,
      bytes: 999_999_999_999_999,
    });
    assert.ok(Buffer.byteLength(beaconJson(beacon)) < MAX_BEACON_BYTES);
  });

  it('refuses a beacon of 100 kept releases, which would pass 2 KB', () => {
    const releases = Array.from({ length: 100 }, (_, i) => id(1_000_000 + i));
    assert.throws(
      () => buildBeacon({ ...args, releaseId: releases[0]!, releases }),
      (error: unknown) =>
        isOutlastError(error, 'invalid_argument') &&
        /must stay under 2048 bytes/.test(error.message) &&
        !!error.hint,
    );
  });
});
