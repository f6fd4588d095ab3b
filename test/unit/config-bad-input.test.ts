/**
 * Config mistakes that the bad-input corpus (test/fixtures/bad/) found handled badly: each is
 * reported as one problem of `invalid_config`, naming the path, never as a crash of the checks.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.ts';
import { isOutlastError } from '../../src/errors.ts';

const SITE = 'site: { dir: public, hostname: www.example.com }\n';
const ORIGINS = `origins:
  - { id: a, storage: { type: fs, path: ./a }, url: "http://127.0.0.1:9", dns: { cname: a.example.net } }
`;

function problemsOf(text: string): string {
  try {
    parseConfig(text, 'outlast.yaml', { env: {} });
  } catch (error) {
    assert.ok(isOutlastError(error, 'invalid_config'), `expected invalid_config, got ${String(error)}`);
    return error.message;
  }
  assert.fail('expected parseConfig to throw');
}

describe('config mistakes found by the bad-input corpus', () => {
  test('failover.order that is not a list is a type problem, not a crash of the order check', () => {
    const message = problemsOf(`${SITE}${ORIGINS}failover: { order: some text }\n`);
    assert.match(message, /outlast\.yaml:\d+:\d+ failover\.order: expected a list, got "some text"/);
    assert.match(message, /\(1 problem\)/);
  });

  test('failover.order items that are not strings are reported once, by the schema', () => {
    const message = problemsOf(`${SITE}${ORIGINS}failover: { order: [a, 7] }\n`);
    assert.match(message, /failover\.order\[1\]: expected a string, got 7/);
    assert.match(message, /\(1 problem\)/);
  });

  test('a dns target of null with a dns section is a problem of that target', () => {
    const text = `${SITE}origins:\n  - { id: a, storage: { type: fs, path: ./a }, url: "http://127.0.0.1:9", dns: null }\ndns: { name: www.example.com, providers: [{ type: memory }] }\n`;
    assert.match(problemsOf(text), /origins\[0\]\.dns: expected a mapping, got an empty value/);
  });

  test('a cname of the wrong type says so at origins[0].dns.cname', () => {
    const text = ORIGINS.replace('cname: a.example.net', 'cname: 12345');
    const message = problemsOf(`${SITE}${text}`);
    assert.match(message, /origins\[0\]\.dns\.cname: expected a string, got 12345/);
    assert.doesNotMatch(message, /cannot be used together/);
  });

  test('a dns target with both cname and a, or with neither, is one problem', () => {
    const both = ORIGINS.replace('cname: a.example.net', 'cname: a.example.net, a: [192.0.2.1]');
    assert.match(
      problemsOf(`${SITE}${both}`),
      /origins\[0\]\.dns: expected either cname or a\/aaaa, not both/,
    );
    const neither = ORIGINS.replace('cname: a.example.net', 'a: []');
    assert.match(problemsOf(`${SITE}${neither}`), /origins\[0\]\.dns: expected \{ cname: name \} or/);
  });

  test('a dns target still parses to { cname } or { a, aaaa }', () => {
    const { config } = parseConfig(`${SITE}${ORIGINS}`, 'outlast.yaml', { env: {} });
    assert.deepEqual(config.origins[0]?.dns, { cname: 'a.example.net' });
    const a = ORIGINS.replace('cname: a.example.net', 'a: [192.0.2.1]');
    assert.deepEqual(parseConfig(`${SITE}${a}`, 'outlast.yaml', { env: {} }).config.origins[0]?.dns, {
      a: ['192.0.2.1'],
    });
  });

  test("dns.ttl below a provider's minimum TTL names the provider and its minimum", () => {
    const dns =
      'dns: { name: www.example.com, ttl: 30, providers: [{ type: cloudflare, zone: example.com, apiToken: t }] }\n';
    assert.match(
      problemsOf(`${SITE}${ORIGINS}${dns}`),
      /outlast\.yaml:\d+:\d+ dns\.ttl: 30 is below the lowest TTL cloudflare takes \(dns\.providers\[0\]\): expected at least 60/,
    );
    const fine = dns.replace('ttl: 30', 'ttl: 60');
    assert.equal(parseConfig(`${SITE}${ORIGINS}${fine}`, 'outlast.yaml', { env: {} }).config.dns?.ttl, 60);
  });

  test('a misspelt type key is pointed out beside the missing type', () => {
    const text = ORIGINS.replace('type: fs', 'typpe: fs');
    assert.match(
      problemsOf(`${SITE}${text}`),
      /origins\[0\]\.storage\.type: expected one of fs, memory, s3, swift, gcs, azure, got nothing; unknown key "typpe" \(did you mean "type"\?\)/,
    );
  });
});
