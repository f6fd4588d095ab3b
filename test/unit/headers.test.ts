import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HeaderRule } from '../../src/config/schema.ts';
import { compileHeaderRules, contentTypeOf, resolveHeaders } from '../../src/site/headers.ts';

describe('contentTypeOf', () => {
  const cases: [string, string][] = [
    ['index.html', 'text/html; charset=utf-8'],
    ['a/style.css', 'text/css; charset=utf-8'],
    ['app.js', 'text/javascript; charset=utf-8'],
    ['mod.mjs', 'text/javascript; charset=utf-8'],
    ['data.json', 'application/json; charset=utf-8'],
    ['app.js.map', 'application/json; charset=utf-8'],
    ['logo.svg', 'image/svg+xml; charset=utf-8'],
    ['site.webmanifest', 'application/manifest+json; charset=utf-8'],
    ['sitemap.xml', 'application/xml; charset=utf-8'],
    ['feed.atom', 'application/atom+xml; charset=utf-8'],
    ['robots.txt', 'text/plain; charset=utf-8'],
    ['README.md', 'text/markdown; charset=utf-8'],
    ['PAGE.HTML', 'text/html; charset=utf-8'],
    ['app.wasm', 'application/wasm'],
    ['font.woff2', 'font/woff2'],
    ['photo.png', 'image/png'],
    ['LICENSE', 'application/octet-stream'],
    ['.htaccess', 'application/octet-stream'],
    ['file.unknownext', 'application/octet-stream'],
  ];
  for (const [key, expected] of cases) {
    it(`${key} → ${expected}`, () => assert.equal(contentTypeOf(key), expected));
  }
});

describe('header rules', () => {
  it('with no rules, gives only the content type', () => {
    assert.deepEqual(resolveHeaders('a/b.css', []), { contentType: 'text/css; charset=utf-8' });
  });

  it('takes each header from the first rule that matches and sets it', () => {
    const rules: HeaderRule[] = [
      { match: 'assets/**', cacheControl: 'public, max-age=31536000, immutable' },
      { match: '**', cacheControl: 'no-cache', contentType: 'application/x-custom' },
    ];
    assert.deepEqual(resolveHeaders('assets/app.js', rules), {
      contentType: 'application/x-custom',
      cacheControl: 'public, max-age=31536000, immutable',
    });
    assert.deepEqual(resolveHeaders('index.html', rules), {
      contentType: 'application/x-custom',
      cacheControl: 'no-cache',
    });
  });

  it('skips a matching rule for a header it does not set, and rules that do not match', () => {
    const rules: HeaderRule[] = [
      { match: '*.html', contentLanguage: 'en' },
      { match: 'docs/**', contentDisposition: 'inline' },
      { match: '**/*.html', cacheControl: 'max-age=60' },
    ];
    assert.deepEqual(resolveHeaders('docs/a.html', rules), {
      contentType: 'text/html; charset=utf-8',
      cacheControl: 'max-age=60',
      contentDisposition: 'inline',
    });
    assert.deepEqual(resolveHeaders('a.html', rules), {
      contentType: 'text/html; charset=utf-8',
      cacheControl: 'max-age=60',
      contentLanguage: 'en',
    });
  });

  it('matches dotfiles and dot folders', () => {
    const rules: HeaderRule[] = [{ match: '**', cacheControl: 'no-store' }];
    assert.equal(resolveHeaders('.well-known/security.txt', rules).cacheControl, 'no-store');
    assert.equal(resolveHeaders('a/.hidden', rules).cacheControl, 'no-store');
  });

  it('uses a rule content type as written, without adding a charset', () => {
    const rules: HeaderRule[] = [
      { match: '**/*.gz', contentType: 'application/javascript', contentEncoding: 'gzip' },
    ];
    assert.deepEqual(resolveHeaders('js/app.js.gz', rules), {
      contentType: 'application/javascript',
      contentEncoding: 'gzip',
    });
  });

  it('matches keys with odd characters literally', () => {
    const rules: HeaderRule[] = [{ match: 'a b/#x?.html', cacheControl: 'no-cache' }];
    assert.equal(resolveHeaders('a b/#x?.html', rules).cacheControl, 'no-cache');
    assert.equal(resolveHeaders('a b/#x.html', rules).cacheControl, undefined);
  });

  it('lists fields in a fixed order whatever the rule order', () => {
    const resolve = compileHeaderRules([
      { match: '**', contentLanguage: 'fr' },
      { match: '**', cacheControl: 'no-cache' },
    ]);
    assert.deepEqual(Object.keys(resolve('x.txt')), ['contentType', 'cacheControl', 'contentLanguage']);
  });
});
