/**
 * The bad-input corpus (test/fixtures/bad/, read by test/helpers/bad-corpus.ts), each case run
 * through the real command (bin/outlast.js, which runs dist/) in a folder of its own: the exit
 * code is the documented one, the output names the file (outlast.yaml, the site folder, the origin
 * or DNS provider) and the config path, there is one `error:` line and no stack trace, and nothing
 * is written anywhere: the run's folder (origins, state, caches) is exactly as before, and the fake
 * store or DNS server saw no write.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import {
  chmodSync,
  closeSync,
  ftruncateSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { isOutlastError } from '../../src/errors.ts';
import {
  type AnswerCase,
  type BadCase,
  CASE_ENV,
  loadCorpus,
  type SiteEntry,
} from '../helpers/bad-corpus.ts';
import { tempDir } from '../helpers/site.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));
const CHANGE_ON_READ = fileURLToPath(new URL('../helpers/change-on-read.mjs', import.meta.url));
const AS_ROOT = process.getuid?.() === 0;
/** Cases run at once: each is a node process, and the machine is shared. */
const PARALLEL = 2;
const WRITE_METHODS = new Set(['PUT', 'POST', 'DELETE', 'PATCH']);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function outlast(args: string[], cwd: string, env: Record<string, string>, asOther: boolean): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd,
      env: { ...process.env, OUTLAST_LOG_LEVEL: '', CI: '1', ...CASE_ENV, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(asOther ? { uid: 65534, gid: 65534 } : {}),
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every entry under `root` with its kind, size, mode and mtime: equal before and after = nothing written. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (folder: string, prefix: string) => {
    for (const name of readdirSync(folder, { encoding: 'buffer' })) {
      const full = Buffer.concat([Buffer.from(`${folder}/`), name]);
      const shown = prefix + name.toString('latin1');
      const stats = lstatSync(full);
      out[shown] = `${stats.mode.toString(8)} ${stats.size} ${stats.mtimeMs}`;
      if (stats.isDirectory()) walk(full.toString(), `${shown}/`);
    }
  };
  walk(root, '');
  return out;
}

/** `caf\xe9.html` → the bytes of "caf", 0xe9, ".html": how a test makes a name that is not UTF-8. */
function rawPath(path: string): Buffer {
  const parts: Buffer[] = [];
  let rest = path;
  for (let match = /\\x([0-9a-f]{2})/i.exec(rest); match; match = /\\x([0-9a-f]{2})/i.exec(rest)) {
    parts.push(Buffer.from(rest.slice(0, match.index)), Buffer.from([Number.parseInt(match[1]!, 16)]));
    rest = rest.slice(match.index + match[0].length);
  }
  parts.push(Buffer.from(rest));
  return Buffer.concat(parts);
}

function makeSite(siteDir: string, entries: readonly SiteEntry[]): void {
  mkdirSync(siteDir, { recursive: true });
  for (const entry of entries) {
    const full = Buffer.concat([Buffer.from(`${siteDir}/`), rawPath(entry.path)]);
    mkdirSync(dirname(join(siteDir, entry.path)), { recursive: true });
    if (entry.symlink !== undefined) {
      symlinkSync(entry.symlink, full);
    } else if (entry.size !== undefined) {
      const fd = openSync(full, 'w');
      ftruncateSync(fd, entry.size);
      closeSync(fd);
    } else {
      writeFileSync(full, entry.content ?? '');
    }
    if (entry.mode !== undefined) chmodSync(full, entry.mode);
  }
}

/** A stand-in for a store or DNS host, answering what the case says and logging every request. */
interface Fake {
  port: number;
  requests: string[];
  close(): Promise<void>;
}

async function startHttpFake(item: AnswerCase): Promise<Fake> {
  const requests: string[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    requests.push(`${request.method} ${request.url}`);
    request.resume();
    const path = (request.url ?? '/').split('?')[0]!;
    const route = item.routes?.find((r) => r.method === request.method && path.startsWith(r.path));
    if (item.fake === 's3' && !route && request.method === 'GET' && path.endsWith('/release.json')) {
      response.writeHead(404, { 'content-type': 'application/xml' });
      response.end('<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>');
      return;
    }
    // `{port}` in a header is the fake's own port (Swift's X-Storage-Url points back at it).
    const port = String((server.address() as AddressInfo).port);
    const headers = Object.fromEntries(
      Object.entries(route?.headers ?? { 'content-type': 'text/plain' }).map(([name, value]) => [
        name,
        value.replaceAll('{port}', port),
      ]),
    );
    response.writeHead(route?.status ?? 404, headers);
    response.end(route?.body ?? 'not here');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

async function startUdpFake(item: AnswerCase): Promise<Fake> {
  const requests: string[] = [];
  const socket = createSocket('udp4');
  socket.on('message', (message, remote) => {
    // Byte 2, bits 3-6: the opcode; 5 is UPDATE, a write.
    const opcode = ((message[2] ?? 0) >> 3) & 0x0f;
    requests.push(opcode === 5 ? 'UPDATE' : 'QUERY');
    const id = message.subarray(0, 2).toString('hex');
    socket.send(Buffer.from((item.reply ?? '').replace('{id}', id), 'hex'), remote.port, remote.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    requests: requests,
    close: () => new Promise((resolve) => socket.close(() => resolve())),
  };
}

/** The config an answer case runs with: the fake as the origin's store or as the DNS host. */
function answerConfig(item: AnswerCase, port: number): Record<string, unknown> {
  const site = { dir: './site', hostname: 'www.example.com' };
  const fsOrigin = {
    id: 'local',
    storage: { type: 'fs', path: './origin-local' },
    url: 'http://127.0.0.1:9',
    dns: { cname: 'local.example.net' },
  };
  if (item.fake === 's3') {
    return {
      site,
      origins: [
        {
          id: 'aws',
          storage: {
            type: 's3',
            bucket: 'www',
            region: 'us-east-1',
            endpoint: `http://127.0.0.1:${port}`,
            forcePathStyle: true,
          },
        },
      ],
      deploy: { attempts: 1 },
    };
  }
  if (item.fake === 'swift') {
    return {
      site,
      origins: [
        {
          id: 'swift',
          storage: {
            type: 'swift',
            container: 'www',
            auth: {
              type: 'tempauth',
              url: `http://127.0.0.1:${port}/auth/v1.0`,
              user: 'test:tester',
              key: 'bad-corpus-key',
            },
          },
        },
      ],
      deploy: { attempts: 1 },
    };
  }
  const provider =
    item.fake === 'powerdns'
      ? {
          type: 'powerdns',
          url: `http://127.0.0.1:${port}`,
          zone: 'example.com',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: ${NAME} is the config's syntax.
          apiKey: '${OUTLAST_BAD_PDNS_KEY}',
        }
      : { type: 'rfc2136', server: `127.0.0.1:${port}`, zone: 'example.com', timeout: '1s' };
  return { site, origins: [fsOrigin], dns: { name: 'www.example.com', providers: [provider] } };
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

async function runCase(item: BadCase): Promise<void> {
  const dir = tempDir('bad');
  chmodSync(dir, 0o755);
  let fake: Fake | undefined;
  try {
    const siteDir = join(dir, 'site');
    const env: Record<string, string> = {};
    let asOther = false;
    if (item.kind === 'config') {
      makeSite(siteDir, [{ path: 'index.html', content: '<h1>hi</h1>' }]);
      writeFileSync(join(dir, 'outlast.yaml'), item.text);
    } else if (item.kind === 'site') {
      makeSite(siteDir, item.files);
      const config = {
        site: { dir: './site', hostname: 'www.example.com' },
        origins: [
          { id: 'a', storage: { type: 'fs', path: './origin-a' } },
          { id: 'b', storage: { type: 'fs', path: './origin-b' } },
        ],
      };
      writeFileSync(join(dir, 'outlast.yaml'), stringify(config));
      asOther = AS_ROOT && item.files.some((entry) => entry.mode !== undefined);
      const changing = item.files.find((entry) => entry.changeOnRead);
      if (changing) {
        env.NODE_OPTIONS = `--import ${CHANGE_ON_READ}`;
        env.OUTLAST_TEST_CHANGE_ON_READ = `/${changing.path}`;
      }
    } else {
      makeSite(siteDir, item.files ?? [{ path: 'index.html', content: '<h1>hi</h1>' }]);
      fake = item.fake === 'rfc2136' ? await startUdpFake(item) : await startHttpFake(item);
      writeFileSync(join(dir, 'outlast.yaml'), stringify(answerConfig(item, fake.port)));
      Object.assign(env, { AWS_ACCESS_KEY_ID: 'AKIDBADCORPUS', AWS_SECRET_ACCESS_KEY: 'bad-corpus-secret' });
    }
    const before = snapshot(dir);
    const run = await outlast(item.command, dir, env, asOther);
    // Config and site mistakes are one error on stderr; a store's or DNS host's bad answer is that
    // origin's or provider's line in the report on stdout.
    const output = item.kind === 'answer' ? `${run.stdout}${run.stderr}` : run.stderr;
    const context = `${item.id}: outlast ${item.command.join(' ')} said:\n${run.stdout}${run.stderr}`;

    assert.equal(run.code, item.exit, context);
    assert.ok(
      output.includes(item.message),
      `${context}\n(expected to include ${JSON.stringify(item.message)})`,
    );
    assert.doesNotMatch(run.stderr, /^\s+at .+:\d+:\d+\)?$/m, `${context}\n(a stack trace)`);
    assert.doesNotMatch(run.stderr, /this is a bug in outlast/, context);
    if (item.kind !== 'answer') {
      assert.equal(run.stderr.match(/^error: /gm)?.length, 1, `${context}\n(one error line)`);
    }
    if (item.kind === 'config' && item.id !== 'config/site-dir-missing-folder') {
      assert.match(run.stderr, /^error: outlast\.yaml: /m, `${context}\n(names the file)`);
    }
    if (item.path !== undefined) {
      const named = new RegExp(`outlast\\.yaml:\\d+:\\d+ ${escapeRegExp(item.path)}[:.[]`);
      assert.match(run.stderr, named, `${context}\n(names ${item.path})`);
    }
    if (item.kind === 'site') assert.ok(run.stderr.includes(siteDir), `${context}\n(names the site folder)`);
    const after = snapshot(dir);
    // The file the "build" appended to while it was read changed, by the test's hand, not outlast's.
    const changing = item.kind === 'site' ? item.files.find((entry) => entry.changeOnRead) : undefined;
    if (changing) {
      delete after[`site/${changing.path}`];
      delete before[`site/${changing.path}`];
    }
    assert.deepEqual(after, before, `${item.id}: nothing written in the run's folder`);
    if (fake) {
      const writes = fake.requests.filter((request) => WRITE_METHODS.has(request.split(' ')[0]!));
      assert.deepEqual(writes, [], `${item.id}: no write reached its fake`);
      assert.ok(fake.requests.length > 0, `${item.id}: its fake was asked (else the case tests nothing)`);
    }
  } finally {
    await fake?.close();
    // Deleting needs write access to the folder only, so unreadable entries go too.
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The key cases are ~190 near-identical runs of the same code path (load, validate, report); a
 * node process each costs 1-2 s on a shared machine. The CLI runs those of the top-level sections
 * (and every one with OUTLAST_TEST_BAD_ALL_KEYS=1); the rest are parsed in-process, which checks
 * the same message and path, by the function the CLI calls.
 */
function throughCli(item: BadCase): boolean {
  return process.env.OUTLAST_TEST_BAD_ALL_KEYS === '1' || !/[.[]/.test(item.id.split('/')[1]!);
}

function parseCase(item: BadCase): void {
  assert.equal(item.kind, 'config');
  if (item.kind !== 'config') return;
  assert.throws(
    () => parseConfig(item.text, 'outlast.yaml', { env: CASE_ENV }),
    (error: unknown) => {
      assert.ok(isOutlastError(error, 'invalid_config'), `${item.id}: ${String(error)}`);
      assert.ok(error.message.includes(item.message), `${item.id}: ${error.message}`);
      if (item.path !== undefined) {
        assert.match(error.message, new RegExp(`outlast\\.yaml:\\d+:\\d+ ${escapeRegExp(item.path)}[:.[]`));
      }
      return true;
    },
  );
}

/** Runs `jobs` at most PARALLEL at a time; each test awaits its own. */
function limit(): <T>(job: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (job) => {
    while (running >= PARALLEL) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await job();
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

describe('the bad-input corpus through the CLI', { concurrency: PARALLEL }, () => {
  const corpus = loadCorpus();
  const queue = limit();

  test('the corpus has every kind of case', () => {
    const kinds = new Set(corpus.map((item) => item.id.split('/')[0]));
    assert.deepEqual([...kinds].sort(), ['answers', 'config', 'keys', 'site']);
  });

  for (const item of corpus) {
    const options = item.skip ? { skip: item.skip } : item.todo ? { todo: item.todo } : {};
    if (item.id.startsWith('keys/') && !throughCli(item)) {
      test(`${item.id}: ${item.title} (parsed in-process)`, options, () => parseCase(item));
    } else {
      test(`${item.id}: ${item.title}`, options, () => queue(() => runCase(item)));
    }
  }
});
