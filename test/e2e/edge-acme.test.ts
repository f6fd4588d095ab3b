/**
 * `edge.tls.acme` against a real ACME server: Debian's pebble, validating HTTP-01 by connecting to
 * a test HTTP listener on 127.0.0.1 that answers `/.well-known/acme-challenge/<token>` from
 * `manager.challenge(token)` (pebble's DNS, pebble-challtestsrv, resolves every name to 127.0.0.1).
 * pebble issues certificates valid for 40 days here, so renewDaysBefore 30 keeps one and 60 renews
 * it at once. With pebble stopped, a fresh start is `unavailable` and a due renewal keeps the old
 * certificate with its error in lastError. The certificate is served by an HTTPS server and verified by a client that trusts
 * only pebble's issuing root, for the name `www.example.test`.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { EdgeTlsConfig } from '../../src/edge/options.ts';
import { createTlsManager, type TlsManager } from '../../src/edge/tls.ts';
import { isOutlastError } from '../../src/errors.ts';
import { eventually } from '../helpers/eventually.ts';
import { httpsGetText, type Pebble, startPebble } from '../servers/pebble.ts';

const NAME = 'www.example.test';
const DAY_S = 86_400;

function listen(server: Server): Promise<number> {
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)),
  );
}

function close(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** GET / over HTTPS on 127.0.0.1:port as `www.example.test`, trusting `root` only. */
function getVerified(port: number, root: string): Promise<{ body: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: '/',
        servername: NAME,
        headers: { host: NAME },
        ca: root,
        agent: false,
      },
      (res) => {
        const serial = (res.socket as import('node:tls').TLSSocket).getPeerCertificate().serialNumber;
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          body += chunk;
        });
        res.on('end', () => resolve({ body, serial }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

function serialOf(manager: TlsManager): string {
  return new X509Certificate(manager.current().cert).serialNumber;
}

describe('edge TLS by ACME (HTTP-01) against pebble', () => {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-edge-acme-'));
  const acmeDir = join(dir, 'acme');
  const caFile = join(dir, 'pebble-ca.pem');
  let pebble: Pebble;
  let root: string;
  let challengeServer: Server;
  /** The manager whose challenges the HTTP listener answers, and the tokens pebble asked for. */
  let active: TlsManager | undefined;
  const asked: string[] = [];
  const managers: TlsManager[] = [];

  const config = (
    renewDaysBefore: number,
    acmeDirectory = pebble.directory,
    where = acmeDir,
  ): EdgeTlsConfig => ({
    acme: { directory: acmeDirectory, termsOfServiceAgreed: true, dir: where, renewDaysBefore, ca: caFile },
    redirectHttp: false,
  });
  const manager = (tls: EdgeTlsConfig) => {
    const made = createTlsManager(tls, { names: [NAME] });
    managers.push(made);
    active = made;
    return made;
  };

  before(async () => {
    challengeServer = createServer((req, res) => {
      const match = /^\/\.well-known\/acme-challenge\/([A-Za-z0-9_-]+)$/.exec(req.url ?? '');
      const answer = match ? active?.challenge(match[1]!) : undefined;
      if (match) asked.push(match[1]!);
      if (answer === undefined) {
        res.writeHead(404).end();
      } else {
        res.writeHead(200, { 'content-type': 'text/plain' }).end(answer);
      }
    });
    const httpPort = await listen(challengeServer);
    pebble = await startPebble({ httpPort, certificateValidityPeriod: 40 * DAY_S });
    writeFileSync(caFile, pebble.caPem);
    const roots = await httpsGetText(pebble.rootsUrl, pebble.caPem);
    assert.equal(roots.status, 200);
    root = roots.body;
  });

  after(async () => {
    for (const made of managers) await made.stop();
    await pebble?.stop();
    await close(challengeServer);
    rmSync(dir, { recursive: true, force: true });
  });

  test('issues a certificate through HTTP-01, served and verified by its root', async () => {
    const first = manager(config(30));
    await first.start();
    assert.ok(asked.length >= 1, 'pebble asked the HTTP listener for the challenge');
    assert.equal(first.challenge(asked[0]!), undefined, 'no challenge pending once issued');
    const status = first.status();
    assert.equal(status.mode, 'acme');
    assert.deepEqual(status.names, [NAME]);
    assert.equal(status.lastError, undefined);
    assert.ok(status.daysLeft! >= 39 && status.daysLeft! <= 40, `daysLeft ${status.daysLeft}`);
    const validTo = Date.parse(status.validTo!);
    assert.equal(Date.parse(status.renewAt!), validTo - 30 * DAY_S * 1000);

    const https = createHttpsServer({ ...first.current() }, (_req, res) => res.end('hello over https'));
    const port = await listen(https);
    try {
      const answer = await getVerified(port, root);
      assert.equal(answer.body, 'hello over https');
      assert.equal(answer.serial, serialOf(first));
    } finally {
      await close(https);
    }

    for (const file of ['account.key', `${NAME}.key`]) {
      assert.equal(statSync(join(acmeDir, file)).mode & 0o777, 0o600, `${file} is 0600`);
    }
    assert.ok(statSync(join(acmeDir, `${NAME}.crt`)).isFile());
  });

  test('a second manager on the same dir reuses the certificate without an order', async () => {
    const serial = serialOf(managers[0]!);
    const mtime = statSync(join(acmeDir, `${NAME}.crt`)).mtimeMs;
    const before = asked.length;
    const second = manager(config(30));
    await second.start();
    assert.equal(serialOf(second), serial);
    assert.equal(asked.length, before, 'no challenge was asked');
    assert.equal(statSync(join(acmeDir, `${NAME}.crt`)).mtimeMs, mtime, 'the chain was not rewritten');
  });

  test('renewDaysBefore above the lifetime: serves the stored one, renews, fires onChange', async () => {
    const serial = serialOf(managers[0]!);
    const before = asked.length;
    const third = manager(config(60));
    let changes = 0;
    third.onChange(() => changes++);
    await third.start();
    // Still valid, so served at once while the renewal runs.
    assert.equal(serialOf(third), serial);
    await eventually('the certificate is renewed', async () => changes === 1, 60_000);
    const renewed = serialOf(third);
    assert.notEqual(renewed, serial);
    assert.ok(asked.length > before, 'the renewal answered a challenge');
    assert.equal(third.status().lastError, undefined);
    // The renewed one is still inside the window: the next attempt is the periodic one, not a loop.
    assert.ok(Date.parse(third.status().renewAt!) > Date.now() + 11 * 3_600_000);

    const https = createHttpsServer({ ...third.current() }, (_req, res) => res.end('renewed'));
    const port = await listen(https);
    try {
      assert.deepEqual(await getVerified(port, root), { body: 'renewed', serial: renewed });
    } finally {
      await close(https);
    }
    // And stored: a new manager loads the renewed pair.
    const fourth = manager(config(30));
    await fourth.start();
    assert.equal(serialOf(fourth), renewed);
  });

  test('pebble stopped: start() rejects with unavailable naming the directory, promptly', async () => {
    const directory = pebble.directory;
    await pebble.stop();
    const started = Date.now();
    const fresh = manager(config(30, directory, join(dir, 'acme-fresh')));
    await assert.rejects(fresh.start(), (error: unknown) => {
      assert.ok(isOutlastError(error, 'unavailable'), String(error));
      assert.match(error.message, new RegExp(directory.replace(/[.]/g, '\\.')));
      return true;
    });
    assert.ok(Date.now() - started < 15_000, 'rejected within the directory timeout');
  });

  test('pebble stopped: a due renewal fails, the stored certificate is still served', async () => {
    const stored = new X509Certificate(readFileSync(join(acmeDir, `${NAME}.crt`))).serialNumber;
    const due = manager(config(60));
    await due.start();
    assert.equal(serialOf(due), stored);
    await eventually('the failed renewal shows', async () => due.status().lastError !== undefined, 15_000);
    const status = due.status();
    assert.match(status.lastError!, /cannot reach the directory/);
    assert.ok(status.lastError!.includes(pebble.directory));
    // Retried with backoff (a minute first), not at once and not given up.
    const retryIn = Date.parse(status.renewAt!) - Date.now();
    assert.ok(retryIn > 30_000 && retryIn <= 60_000, `next try in ${retryIn} ms`);
    assert.equal(serialOf(due), stored);
  });
});
