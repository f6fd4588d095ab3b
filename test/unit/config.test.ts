// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} in plain strings is the config syntax under test.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { levenshtein, suggestKey } from '../../src/config/errors.ts';
import { loadConfig, parseConfig } from '../../src/config/load.ts';
import { isOutlastError } from '../../src/errors.ts';

const FILE = '/srv/site/outlast.yaml';

/** A valid config; tests change one line of it to make one problem. */
const VALID = `site:
  dir: public
  hostname: www.example.com
origins:
  - id: local-a
    storage:
      type: fs
      path: ../origins/a
  - id: mem
    storage:
      type: memory
      name: shared
`;

/** The message of the error `parseConfig` throws; fails the test when it does not throw one. */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}, file = 'outlast.yaml'): string {
  try {
    parseConfig(text, file, { env });
  } catch (error) {
    assert.ok(
      isOutlastError(error, 'invalid_config'),
      `expected an invalid_config error, got ${String(error)}`,
    );
    return error.message;
  }
  assert.fail('expected parseConfig to throw');
}

describe('parseConfig: valid configs', () => {
  test('fills defaults and resolves paths against the file folder', () => {
    const loaded = parseConfig(VALID, FILE, { env: {} });
    assert.equal(loaded.file, FILE);
    assert.equal(loaded.baseDir, '/srv/site');
    assert.deepEqual(loaded.config, {
      site: {
        dir: '/srv/site/public',
        hostname: 'www.example.com',
        exclude: [],
        indexDocument: 'index.html',
        keepReleases: 3,
        headers: [],
      },
      deploy: { concurrency: 16, attempts: 5, maxDeletes: 1000, maxDeletePercent: 50 },
      origins: [
        { id: 'local-a', storage: { type: 'fs', path: '/srv/origins/a' } },
        { id: 'mem', storage: { type: 'memory', name: 'shared' } },
      ],
      health: {
        path: '/.well-known/outlast/release.json',
        interval: 5000,
        timeout: 2000,
        retryInterval: 500,
        fall: 3,
        rise: 3,
        requireCurrentRelease: true,
        expectStatus: [200],
      },
      failover: { policy: 'priority', failback: 'auto', holdDown: 60000 },
      watch: { listen: '127.0.0.1:8787', stateDir: '/srv/site/.outlast/state' },
    });
  });

  test('keeps absolute paths and fills deploy defaults around given values', () => {
    const text = VALID.replace('dir: public', 'dir: /var/www/build').concat('deploy:\n  concurrency: 4\n');
    const { config } = parseConfig(text, FILE, { env: {} });
    assert.equal(config.site.dir, '/var/www/build');
    assert.deepEqual(config.deploy, { concurrency: 4, attempts: 5, maxDeletes: 1000, maxDeletePercent: 50 });
  });

  test('replaces ${NAME} from the environment and keeps $${ as a literal ${', () => {
    // A function as replacement: a string one would turn $$ into $.
    const text = VALID.replace('name: shared', 'name: "${STORE}-${REGION}"').replace(
      'hostname: www.example.com',
      () => 'hostname: www.example.com\n  errorDocument: "$${NOT_A_VAR}.html"',
    );
    const { config } = parseConfig(text, FILE, { env: { STORE: 'blue', REGION: 'eu' } });
    assert.deepEqual(config.origins[1]?.storage, { type: 'memory', name: 'blue-eu' });
    assert.equal(config.site.errorDocument, '${NOT_A_VAR}.html');
  });
});

describe('parseConfig: environment variables', () => {
  test('a missing variable names the file, the position, the path and the variable', () => {
    const text = VALID.replace('name: shared', 'name: ${STORE_NAME}');
    assert.equal(
      problemsOf(text),
      'outlast.yaml: invalid configuration (1 problem)\n' +
        '  outlast.yaml:12:13 origins[1].storage.name: environment variable STORE_NAME is not set',
    );
  });

  test('a malformed reference is reported', () => {
    const message = problemsOf(VALID.replace('name: shared', 'name: ${not-a-name}'));
    assert.match(message, /outlast\.yaml:12:13 origins\[1\]\.storage\.name: expected \$\{NAME\}/);
  });

  test('values from the environment never appear in messages', () => {
    const secret = 'Zq9-very-distinctive-secret';
    const text = VALID.replace('id: local-a', 'id: ${ORIGIN_ID}')
      .replace('id: mem', 'id: ${ORIGIN_ID}')
      .replace('hostname: www.example.com', 'hostname: ${HOST}');
    const message = problemsOf(text, { ORIGIN_ID: secret, HOST: `${secret}!` });
    assert.ok(!message.includes(secret), message);
    assert.ok(!message.includes('Zq9'), message);
    assert.match(
      message,
      /outlast\.yaml:3:13 site\.hostname: expected a host name .*, got a value from \$\{HOST\} \(not shown\)/,
    );
    assert.match(
      message,
      /origins\[1\]\.id: duplicate origin id "<from \$\{ORIGIN_ID\}>" \(also origins\[0\]\.id\)/,
    );
  });
});

describe('parseConfig: validation problems', () => {
  test('misspelt keys get a suggestion at the top level, in site and in origins[1].storage', () => {
    const text = VALID.replace('site:', 'Site:\n  dir: x\nsite:')
      .replace('hostname: www.example.com', 'hostname: www.example.com\n  indexDocumet: home.html')
      .replace('name: shared', 'nmae: shared')
      .concat('deploi:\n  attempts: 2\n');
    assert.equal(
      problemsOf(text),
      'outlast.yaml: invalid configuration (4 problems)\n' +
        '  outlast.yaml:1:1 unknown key "Site" (did you mean "site"?)\n' +
        '  outlast.yaml:6:3 site: unknown key "indexDocumet" (did you mean "indexDocument"?)\n' +
        '  outlast.yaml:15:7 origins[1].storage: unknown key "nmae" (did you mean "name"?)\n' +
        '  outlast.yaml:16:1 unknown key "deploi" (did you mean "deploy"?)',
    );
  });

  test('an unknown key with nothing close gets no suggestion', () => {
    const message = problemsOf(VALID.replace('path: ../origins/a', 'path: a\n      bucket: b'));
    assert.ok(message.endsWith('  outlast.yaml:9:7 origins[0].storage: unknown key "bucket"'), message);
  });

  test('wrong types say what was expected and what was found', () => {
    const text = VALID.concat(
      'deploy:\n  concurrency: lots\n  maxDeletePercent: 150\n  attempts: 2.5\n',
    ).replace('hostname: www.example.com', 'hostname: www.example.com\n  exclude: "*.map"');
    assert.equal(
      problemsOf(text),
      'outlast.yaml: invalid configuration (4 problems)\n' +
        '  outlast.yaml:4:12 site.exclude: expected a list, got "*.map"\n' +
        '  outlast.yaml:15:16 deploy.concurrency: expected a number, got "lots"\n' +
        '  outlast.yaml:16:21 deploy.maxDeletePercent: expected at most 100, got 150\n' +
        '  outlast.yaml:17:13 deploy.attempts: expected a whole number, got 2.5',
    );
  });

  test('a missing key points at its parent and says what was expected', () => {
    assert.equal(
      problemsOf(VALID.replace('      path: ../origins/a\n', '')),
      'outlast.yaml: invalid configuration (1 problem)\n' +
        '  outlast.yaml:7:7 origins[0].storage.path: expected a string, got nothing',
    );
  });

  test('a bad storage type lists the allowed ones', () => {
    assert.equal(
      problemsOf(VALID.replace('type: memory', 'type: s4')),
      'outlast.yaml: invalid configuration (1 problem)\n' +
        '  outlast.yaml:11:13 origins[1].storage.type: expected one of fs, memory, s3, swift, gcs, azure, got "s4"',
    );
  });

  test('duplicate origin ids are reported along with other problems', () => {
    const text = VALID.replace('id: mem', 'id: local-a').replace('dir: public', 'dir: 7');
    assert.equal(
      problemsOf(text),
      'outlast.yaml: invalid configuration (2 problems)\n' +
        '  outlast.yaml:2:8 site.dir: expected a string, got 7\n' +
        '  outlast.yaml:9:9 origins[1].id: duplicate origin id "local-a" (also origins[0].id)',
    );
  });

  test('an empty origins list and a bad union member', () => {
    const text = 'site: {dir: x, hostname: a.example}\norigins: []\n';
    assert.equal(
      problemsOf(text),
      'outlast.yaml: invalid configuration (1 problem)\n' +
        '  outlast.yaml:2:10 origins: expected at least one origin, got 0',
    );
    const dns = VALID.replace('name: shared', 'name: shared\n    dns:\n      a: [192.0.2.300]');
    assert.ok(
      problemsOf(dns).endsWith(
        '  outlast.yaml:14:11 origins[1].dns.a[0]: expected an IPv4 address such as 192.0.2.10, got "192.0.2.300"',
      ),
    );
  });

  test('the file is named as given', () => {
    const message = problemsOf(VALID.replace('type: memory', 'type: s4'), {}, 'conf/prod.yaml');
    assert.ok(
      message.startsWith('conf/prod.yaml: invalid configuration (1 problem)\n  conf/prod.yaml:11:13 '),
    );
  });
});

describe('parseConfig: YAML problems', () => {
  test('duplicate keys are reported at the second key', () => {
    assert.equal(
      problemsOf(VALID.replace('hostname: www.example.com', 'hostname: www.example.com\n  dir: other')),
      'outlast.yaml: invalid YAML (1 problem)\n' +
        '  outlast.yaml:4:3 duplicate key "dir" (a key may appear once in a mapping)',
    );
  });

  test('syntax errors give line, column and the reason', () => {
    assert.equal(
      problemsOf('site:\n  dir: "public\n'),
      'outlast.yaml: invalid YAML (1 problem)\n  outlast.yaml:3:1 Missing closing "quote',
    );
    assert.match(
      problemsOf('site:\n  exclude: [a, b\norigins: []\n'),
      /^ {2}outlast\.yaml:3:1 Flow sequence/m,
    );
  });

  test('an empty file, a list and a scalar are refused', () => {
    const empty = 'outlast.yaml: the file is empty; expected settings such as site: and origins:';
    assert.equal(problemsOf(''), empty);
    assert.equal(problemsOf('# nothing yet\n'), empty);
    assert.equal(
      problemsOf('- site\n- origins\n'),
      'outlast.yaml: invalid configuration (1 problem)\n' +
        '  outlast.yaml:1:1 expected a mapping of settings (site:, origins:, ...) at the top level, got a list',
    );
    assert.match(problemsOf('hello\n'), /outlast\.yaml:1:1 expected a mapping .* got a single value$/);
  });
});

describe('loadConfig', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'outlast-config-'));
    await mkdir(join(dir, 'conf', 'nested.yaml'), { recursive: true });
    await writeFile(join(dir, 'conf', 'outlast.yaml'), VALID);
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('reads a file relative to cwd and resolves paths against its folder', async () => {
    const loaded = await loadConfig('conf/outlast.yaml', { cwd: dir, env: {} });
    assert.equal(loaded.file, join(dir, 'conf', 'outlast.yaml'));
    assert.equal(loaded.baseDir, join(dir, 'conf'));
    assert.equal(loaded.config.site.dir, join(dir, 'conf', 'public'));
    assert.deepEqual(loaded.config.origins[0]?.storage, { type: 'fs', path: join(dir, 'origins', 'a') });
  });

  test('a missing file says where it was looked for', async () => {
    await assert.rejects(loadConfig(undefined, { cwd: dir }), (error: unknown) => {
      assert.ok(isOutlastError(error, 'invalid_config'));
      assert.equal(
        error.message,
        `config file outlast.yaml not found in ${dir} (use --config to choose another)`,
      );
      return true;
    });
  });

  test('a folder instead of a file is refused', async () => {
    await assert.rejects(loadConfig('conf/nested.yaml', { cwd: dir }), {
      code: 'invalid_config',
      message: 'config file conf/nested.yaml is a directory, not a file',
    });
  });
});

describe('suggestions', () => {
  test('levenshtein counts edits', () => {
    assert.equal(levenshtein('bucket', 'buckt'), 1);
    assert.equal(levenshtein('', 'abc'), 3);
    assert.equal(levenshtein('kitten', 'sitting'), 3);
  });

  test('suggestKey prefers a case-insensitive match, then the closest within 2 edits', () => {
    const known = ['dir', 'hostname', 'exclude', 'indexDocument'];
    assert.equal(suggestKey('DIR', known), 'dir');
    assert.equal(suggestKey('hostnme', known), 'hostname');
    assert.equal(suggestKey('excluded', known), 'exclude');
    assert.equal(suggestKey('ports', known), undefined);
    assert.equal(suggestKey('di', ['dir', 'id']), 'dir');
  });
});

describe('parseConfig: the edge section', () => {
  const WITH_URLS = VALID.replace(
    '      path: ../origins/a\n',
    '      path: ../origins/a\n    url: http://127.0.0.1:8081\n',
  ).replace('      name: shared\n', '      name: shared\n    url: http://127.0.0.1:8082\n');

  test('fills defaults and resolves the cache folder and TLS files against the file folder', () => {
    const { config } = parseConfig(
      `${WITH_URLS}edge:\n  listen: 0.0.0.0:443\n  httpListen: 0.0.0.0:80\n  tls:\n    cert: tls/site.crt\n    key: tls/site.key\n`,
      FILE,
    );
    assert.equal(config.edge?.listen, '0.0.0.0:443');
    assert.equal(config.edge?.firstByteTimeout, 2000);
    assert.equal(config.edge?.cache.dir, '/srv/site/.outlast/edge-cache');
    assert.equal(config.edge?.tls?.cert, '/srv/site/tls/site.crt');
    assert.equal(config.edge?.tls?.key, '/srv/site/tls/site.key');
    assert.deepEqual(config.edge?.retryStatuses, [408, 429, 500, 502, 503, 504]);
  });

  test('an unknown origin in edge.origins, an origin without url, ACME without httpListen', () => {
    const unknown = problemsOf(`${WITH_URLS}edge:\n  origins: [local-a, nope]\n`);
    assert.match(unknown, /edge\.origins\[1\]: unknown origin "nope" \(origins: local-a, mem\)/);
    const noUrl = problemsOf(`${VALID}edge:\n  listen: 127.0.0.1:8080\n`);
    assert.match(noUrl, /origins\[0\]\.url: is required with an edge section/);
    assert.match(noUrl, /origins\[1\]\.url: is required with an edge section/);
    const acme = problemsOf(
      `${WITH_URLS}edge:\n  tls:\n    acme:\n      directory: https://acme.example/dir\n      termsOfServiceAgreed: true\n`,
    );
    assert.match(acme, /edge\.httpListen: is required with tls\.acme/);
    const both = problemsOf(`${WITH_URLS}edge:\n  tls:\n    cert: a.crt\n`);
    assert.match(both, /edge\.tls\.key: is required with the other/);
  });
});
