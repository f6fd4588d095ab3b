/**
 * `outlast edge` over HTTPS, for real: the edge's own HTTP listener answers pebble's HTTP-01
 * challenge while the edge starts, pebble (Debian's, Let's Encrypt's test CA) issues the
 * certificate, and curl fetches the site over HTTP/2 (`curl --http2`), verifying the chain
 * against pebble's issuing root for the site's name. Also: HTTP/1.1 on the same port (ALPN), HSTS,
 * and the plain listener's redirect to HTTPS. The origin is a directory served by `outlast serve`.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { runDeploy } from '../../src/deploy/engine.ts';
import { type RunningEdge, startEdge } from '../../src/edge/edge.ts';
import { edgeSchema } from '../../src/edge/options.ts';
import { type RunningServer, startServer } from '../../src/serve/server.ts';
import { freePort } from '../helpers/ports.ts';
import { setupFsDeploy, type TestSetup } from '../helpers/site.ts';
import { httpsGetText, type Pebble, startPebble } from '../servers/pebble.ts';

const run = promisify(execFile);
const NAME = 'www.example.com';
const PAGE = '<h1>over https</h1>\n';

describe('outlast edge with a certificate from ACME (pebble), over HTTP/2', () => {
  let setup: TestSetup;
  let origin: RunningServer;
  let pebble: Pebble;
  let edge: RunningEdge;
  let rootFile: string;
  let httpsPort: number;
  let httpPort: number;

  before(async () => {
    setup = setupFsDeploy({ origins: 1, files: { 'index.html': PAGE, 'about.html': 'about\n' } });
    await runDeploy({ config: setup.config });
    origin = await startServer({ dir: setup.origins[0]!, host: '127.0.0.1', port: 0 });
    httpPort = await freePort();
    httpsPort = await freePort();
    pebble = await startPebble({ httpPort });
    const caFile = join(setup.root, 'pebble-ca.pem');
    writeFileSync(caFile, pebble.caPem);
    const roots = await httpsGetText(pebble.rootsUrl, pebble.caPem);
    assert.equal(roots.status, 200);
    rootFile = join(setup.root, 'root.pem');
    writeFileSync(rootFile, roots.body);
    edge = await startEdge({
      config: {
        ...setup.config,
        origins: setup.config.origins.map((o) => ({ ...o, url: origin.url })),
        edge: edgeSchema.parse({
          listen: `127.0.0.1:${httpsPort}`,
          httpListen: `127.0.0.1:${httpPort}`,
          admin: '127.0.0.1:0',
          accessLog: false,
          cache: { dir: join(setup.root, 'cache') },
          tls: {
            acme: {
              directory: pebble.directory,
              termsOfServiceAgreed: true,
              dir: join(setup.root, 'acme'),
              ca: caFile,
            },
            hsts: { maxAge: 600 },
            redirectHttp: true,
          },
        }),
      },
    });
  });

  after(async () => {
    await edge?.close();
    await pebble?.stop();
    await origin?.close();
    setup?.cleanup();
  });

  const curl = (args: string[]) =>
    run('curl', ['-sS', '--max-time', '20', '--resolve', `${NAME}:${httpsPort}:127.0.0.1`, ...args], {
      encoding: 'utf8',
    });

  test('serves the site over HTTP/2 with the certificate pebble issued for its name', async () => {
    const { stdout } = await curl([
      '--http2',
      '--cacert',
      rootFile,
      '-D',
      '-',
      '-w',
      '\n%{http_version} %{ssl_verify_result}',
      `https://${NAME}:${httpsPort}/`,
    ]);
    assert.match(stdout, /^HTTP\/2 200/m);
    assert.match(stdout, /^strict-transport-security: max-age=600$/im);
    assert.ok(stdout.includes(PAGE), stdout);
    assert.match(stdout, /\n2 0$/, 'HTTP/2, and the chain verified');
    const status = edge.status();
    assert.equal(status.tls?.mode, 'acme');
    assert.deepEqual(status.tls?.names, [NAME]);
    assert.ok((status.tls?.daysLeft ?? 0) > 0);
  });

  test('HTTP/1.1 on the same port, and plain HTTP redirected to HTTPS', async () => {
    const h1 = await curl([
      '--http1.1',
      '--cacert',
      rootFile,
      '-o',
      '/dev/null',
      '-w',
      '%{http_version} %{http_code}',
      `https://${NAME}:${httpsPort}/about.html`,
    ]);
    assert.equal(h1.stdout, '1.1 200');
    const plain = await run(
      'curl',
      [
        '-sS',
        '-o',
        '/dev/null',
        '-w',
        '%{http_code} %{redirect_url}',
        '-H',
        `host: ${NAME}`,
        `http://127.0.0.1:${httpPort}/about.html?x=1`,
      ],
      { encoding: 'utf8' },
    );
    assert.equal(plain.stdout, `308 https://${NAME}:${httpsPort}/about.html?x=1`);
  });

  test('a client that does not trust the CA is refused', async () => {
    await assert.rejects(
      curl(['--http2', `https://${NAME}:${httpsPort}/`]),
      /SSL certificate problem|certificate/i,
    );
  });
});
