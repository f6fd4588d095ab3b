/**
 * `edge.tls` with certificate files (src/edge/tls.ts): the pair is checked at start (a missing
 * file, garbage or a key of another certificate rejects naming the file), replaced pairs are picked
 * up (by write to temp + rename, as certbot-like tools do) and fire onChange, a bad replacement
 * keeps the old pair and shows in lastError until a good one. Also the schema's cases for `tls`.
 * Certificates are made with openssl in a temp dir.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { type EdgeTlsConfig, edgeSchema } from '../../src/edge/options.ts';
import { createTlsManager, type TlsManager } from '../../src/edge/tls.ts';
import { isOutlastError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';

const dir = mkdtempSync(join(tmpdir(), 'outlast-edge-tls-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let made = 0;
/** A self-signed pair for `name`, as PEM text. */
function makePair(name: string, days = 30): { cert: string; key: string } {
  const base = join(dir, `made-${made++}`);
  execFileSync(
    'openssl',
    [
      ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'],
      ...['-keyout', `${base}.key`, '-out', `${base}.crt`, '-days', String(days)],
      ...['-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`],
    ],
    { stdio: 'pipe' },
  );
  return { cert: readFileSync(`${base}.crt`, 'utf8'), key: readFileSync(`${base}.key`, 'utf8') };
}

/** Writes `text` to a temp file beside `path`, then renames it over `path`. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

function filesConfig(folder: string): EdgeTlsConfig {
  return { cert: join(folder, 'site.crt'), key: join(folder, 'site.key'), redirectHttp: false };
}

const managers: TlsManager[] = [];
after(async () => {
  for (const manager of managers) await manager.stop();
});

function manager(tls: EdgeTlsConfig, poll: { pollIntervalMs?: number; watch?: boolean } = {}): TlsManager {
  const made = createTlsManager(tls, { names: ['www.example.test'], ...poll });
  managers.push(made);
  return made;
}

describe('edge.tls files', () => {
  const first = makePair('one.example.test');
  const second = makePair('two.example.test');
  const third = makePair('three.example.test');

  test('a good pair is served, a replaced pair fires onChange, a bad one keeps the old', async () => {
    const folder = mkdtempSync(join(dir, 'reload-'));
    const tls = filesConfig(folder);
    writeFileSync(tls.cert!, first.cert);
    writeFileSync(tls.key!, first.key);
    const served = manager(tls);
    let changes = 0;
    served.onChange(() => changes++);
    await served.start();
    assert.deepEqual(served.current(), first);
    const status = served.status();
    assert.equal(status.mode, 'files');
    assert.deepEqual(status.names, ['one.example.test']);
    assert.match(status.subject!, /CN=one\.example\.test/);
    assert.ok(status.daysLeft! >= 29 && status.daysLeft! <= 30, `daysLeft ${status.daysLeft}`);
    assert.equal(status.lastError, undefined);
    assert.equal(served.challenge('anything'), undefined);

    replace(tls.key!, second.key);
    replace(tls.cert!, second.cert);
    await eventually('the second pair is served', async () => served.current().cert === second.cert, 10_000);
    assert.deepEqual(served.current(), second);
    assert.equal(changes, 1);
    assert.deepEqual(served.status().names, ['two.example.test']);

    // Garbage: the old pair stays, the error names the file.
    replace(tls.cert!, 'not a certificate\n');
    await eventually(
      'the bad cert shows in lastError',
      async () => served.status().lastError !== undefined,
      10_000,
    );
    assert.match(
      served.status().lastError!,
      new RegExp(`edge\\.tls\\.cert ${tls.cert!.replaceAll('.', '\\.')}`),
    );
    assert.deepEqual(served.current(), second);

    // A key of another certificate: still the old pair, the error names the key file.
    replace(tls.cert!, second.cert);
    replace(tls.key!, third.key);
    await eventually(
      'the mismatched key shows in lastError',
      async () => /does not belong/.test(served.status().lastError ?? ''),
      10_000,
    );
    assert.match(
      served.status().lastError!,
      new RegExp(`edge\\.tls\\.key ${tls.key!.replaceAll('.', '\\.')}`),
    );
    assert.deepEqual(served.current(), second);
    assert.equal(changes, 1);
    assert.doesNotMatch(served.status().lastError!, /BEGIN|PRIVATE/);

    // The next good pair clears it.
    replace(tls.cert!, third.cert);
    await eventually('the third pair is served', async () => served.current().cert === third.cert, 10_000);
    assert.deepEqual(served.current(), third);
    assert.equal(served.status().lastError, undefined);
    assert.equal(changes, 2);

    await served.stop();
    await served.stop();
  });

  test('the stat poll picks up a change without fs.watch events', async () => {
    const folder = mkdtempSync(join(dir, 'poll-'));
    const tls = filesConfig(folder);
    writeFileSync(tls.cert!, first.cert);
    writeFileSync(tls.key!, first.key);
    const polled = manager(tls, { pollIntervalMs: 200, watch: false });
    await polled.start();
    // Written in place (same inode): size and mtime change.
    writeFileSync(tls.key!, second.key);
    writeFileSync(tls.cert!, second.cert);
    await eventually('the second pair is served', async () => polled.current().cert === second.cert, 10_000);
    assert.deepEqual(polled.current(), second);
  });

  test('start() rejects naming the file: missing, garbage, mismatched key', async () => {
    const folder = mkdtempSync(join(dir, 'bad-'));
    const tls = filesConfig(folder);
    writeFileSync(tls.key!, first.key);
    await assert.rejects(manager(tls).start(), (error: unknown) => {
      assert.ok(isOutlastError(error, 'invalid_argument'), String(error));
      assert.ok(error.message.includes(`edge.tls.cert ${tls.cert}`), error.message);
      assert.match(error.message, /no such file/);
      return true;
    });

    writeFileSync(tls.cert!, 'garbage');
    await assert.rejects(manager(tls).start(), (error: unknown) => {
      assert.ok(isOutlastError(error, 'invalid_argument'));
      assert.ok(error.message.includes(`edge.tls.cert ${tls.cert}`), error.message);
      return true;
    });

    writeFileSync(tls.cert!, first.cert);
    writeFileSync(tls.key!, 'garbage');
    await assert.rejects(manager(tls).start(), (error: unknown) => {
      assert.ok(isOutlastError(error, 'invalid_argument'));
      assert.ok(error.message.includes(`edge.tls.key ${tls.key}`), error.message);
      return true;
    });

    writeFileSync(tls.key!, second.key);
    await assert.rejects(manager(tls).start(), (error: unknown) => {
      assert.ok(isOutlastError(error, 'invalid_argument'));
      assert.ok(error.message.includes(`edge.tls.key ${tls.key}`), error.message);
      assert.match(error.message, /does not belong to the certificate/);
      return true;
    });
  });

  test('current() before start() is an internal error', () => {
    const tls = filesConfig(dir);
    assert.throws(
      () => manager(tls).current(),
      (error: unknown) => isOutlastError(error, 'internal'),
    );
  });
});

describe('edge.tls acme names', () => {
  const acme = (names?: string[]): EdgeTlsConfig => ({
    acme: {
      directory: 'https://127.0.0.1:1/dir',
      termsOfServiceAgreed: true,
      dir: join(dir, 'acme'),
      renewDaysBefore: 30,
      ...(names ? { names } : {}),
    },
    redirectHttp: false,
  });

  test('no names, or one HTTP-01 cannot validate, is refused before anything is read', () => {
    const refused = (tls: EdgeTlsConfig, names: string[], pattern: RegExp) =>
      assert.throws(
        () => createTlsManager(tls, { names }),
        (error: unknown) => isOutlastError(error, 'invalid_argument') && pattern.test(error.message),
      );
    refused(acme(), [], /no names for the certificate/);
    refused(acme(['*.example.test']), [], /"\*\.example\.test" is not a host name HTTP-01 can validate/);
    refused(acme(), ['www.example.test/x'], /is not a host name/);
    const made = createTlsManager(acme(), { names: ['WWW.Example.test'] });
    assert.equal(made.status().mode, 'acme');
    assert.equal(made.challenge('token'), undefined);
  });
});

describe('edge.tls schema', () => {
  const acme = { directory: 'https://acme.example.test/dir', termsOfServiceAgreed: true };
  // ACME's HTTP-01 needs the plain listener (edge.httpListen); given here so only tls is judged.
  const issues = (tls: unknown) => {
    const result = edgeSchema.safeParse({ httpListen: '0.0.0.0:80', tls });
    return result.success
      ? []
      : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
  };

  test('files or acme, not both, not neither; cert and key together', () => {
    assert.deepEqual(issues({ cert: '/c.pem', key: '/k.pem' }), []);
    assert.deepEqual(issues({ acme }), []);
    assert.match(
      issues({ cert: '/c.pem', key: '/k.pem', acme }).join('\n'),
      /either cert\/key files or acme/,
    );
    assert.match(issues({}).join('\n'), /expected cert and key files, or an acme block/);
    assert.match(issues({ cert: '/c.pem' }).join('\n'), /tls\.key: is required with the other/);
    assert.match(issues({ key: '/k.pem' }).join('\n'), /tls\.cert: is required with the other/);
  });

  test('acme defaults and bounds', () => {
    const parsed = edgeSchema.parse({ httpListen: '0.0.0.0:80', tls: { acme } });
    assert.equal(parsed.tls?.acme?.renewDaysBefore, 30);
    assert.equal(parsed.tls?.acme?.dir, '.outlast/acme');
    assert.notDeepEqual(issues({ acme: { ...acme, termsOfServiceAgreed: false } }), []);
    assert.notDeepEqual(issues({ acme: { ...acme, renewDaysBefore: 0 } }), []);
    assert.notDeepEqual(issues({ acme: { ...acme, extra: 1 } }), []);
  });
});
