/**
 * The secret canary's scan can fail (issue 14, item 7): a canary planted in a capture folder, in
 * each form the scan knows, makes `canary-scan.ts` exit 1 and name the file and the secret, never
 * its value; a clean folder exits 0; a weak real secret (Swift's `testing`) counts only as a whole
 * token. The folders here are this test's own, never the run's capture folder.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CANARIES, fixedSecrets } from '../helpers/canary.ts';
import { formsOf, scanTexts } from '../helpers/canary-scan.ts';

const SCAN = fileURLToPath(new URL('../helpers/canary-scan.ts', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-canary-self-test-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

function scan(dir: string) {
  const result = spawnSync(process.execPath, ['--import', 'tsx', SCAN, dir], { encoding: 'utf8' });
  return { code: result.status, output: result.stdout + result.stderr };
}

test('a planted canary fails the scan, which names the file and the secret but not the value', () => {
  const dir = folder({
    'clean.txt': 'deploy ok\nrelease r1\n',
    'leak.txt': `error: auth failed with key ${CANARIES.swiftKey}\n`,
  });
  const result = scan(dir);
  assert.equal(result.code, 1, result.output);
  assert.match(result.output, /leak\.txt: canary swiftKey \(as is\)/);
  assert.doesNotMatch(result.output, /clean\.txt/);
  assert.ok(!result.output.includes(CANARIES.swiftKey), 'the value is not printed');
});

test('a clean folder passes', () => {
  const result = scan(folder({ 'a.txt': 'nothing secret here; testing123 and attesting are words' }));
  assert.equal(result.code, 0, result.output);
  assert.match(result.output, /no secret in 1 files/);
});

test('every encoded form of a secret is a hit', () => {
  const secret = { name: 'the token', value: CANARIES.watcherToken };
  for (const form of formsOf(secret)) {
    const hits = scanTexts([{ where: form.form, text: `x ${form.value} y` }], [secret]);
    assert.ok(
      hits.some((hit) => hit.secret === 'the token' && hit.where === form.form),
      `${form.form} found`,
    );
  }
  const names = formsOf(secret).map((form) => form.form);
  assert.ok(names.includes('as is') && names.includes('base64'), names.join());
  const tsig = { name: 'tsig', value: CANARIES.tsigSecret, base64: true };
  const hex = Buffer.from(CANARIES.tsigSecret, 'base64').toString('hex').toUpperCase();
  assert.equal(scanTexts([{ where: 'dump', text: `<Buffer ${hex}>` }], [tsig]).length, 1);
  const url = encodeURIComponent(fixedSecrets().find((s) => s.name.startsWith('TSIG'))!.value);
  assert.ok(scanTexts([{ where: 'query', text: `?secret=${url}` }]).length > 0, 'URL-encoded');
});

test('a weak real secret is a hit only as a whole token', () => {
  const weak = fixedSecrets().filter((secret) => secret.value === 'testing');
  assert.equal(weak.length, 1);
  assert.deepEqual(scanTexts([{ where: 'words', text: 'testing123 attesting testing2x' }], weak), []);
  assert.equal(scanTexts([{ where: 'header', text: 'X-Auth-Key: testing\n' }], weak).length, 1);
  assert.equal(scanTexts([{ where: 'json', text: '{"key":"testing"}' }], weak).length, 1);
});
