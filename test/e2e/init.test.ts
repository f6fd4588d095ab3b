// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${NAME} in plain strings is the config syntax under test.
/**
 * `outlast init` as a user runs it: from flags (stdin not a terminal), and on a pseudo-terminal
 * (util-linux `script`) answering its questions, pressing Ctrl-C, or ending the input. The file
 * it writes must be one that `outlast plan` accepts; an existing file is never touched.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.ts';
import { eventually } from '../helpers/eventually.ts';
import { tempDir, writeSite } from '../helpers/site.ts';

const BIN = fileURLToPath(new URL('../../bin/outlast.js', import.meta.url));

/** Runs outlast with stdin a pipe (not a terminal), as a script or CI would. */
function outlast(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd,
    encoding: 'utf8',
    input: '',
    env: { ...process.env, CI: '1', ...env },
    // A prompt waiting for an answer would hang here: that is a failure, not a wait.
    timeout: 30_000,
  });
  assert.equal(result.signal, null, `outlast ${args.join(' ')} did not end by itself`);
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const folders: string[] = [];
after(() => {
  for (const dir of folders) rmSync(dir, { recursive: true, force: true });
});

/** A folder with a built site in public/. */
function project(): string {
  const dir = tempDir('init');
  folders.push(dir);
  writeSite(join(dir, 'public'), { 'index.html': '<h1>hi</h1>', 'assets/app.css': 'body{}' });
  return dir;
}

const FS_FLAGS = [
  '--site',
  'public',
  '--name',
  'www.example.com',
  '--origin',
  'fs:origins/a,url=http://127.0.0.2:8081/',
  '--origin',
  'fs:origins/b,id=backup,url=http://127.0.0.3:8081/',
  '--dns',
  'embedded,listen=127.0.0.1:5353,ns=ns1.example.com,ns=ns2.example.com',
];

describe('outlast init from flags', () => {
  test('writes a commented config that outlast plan and deploy accept, and says what to do next', () => {
    const dir = project();
    const result = outlast(['init', ...FS_FLAGS], dir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^Wrote outlast\.yaml\./);
    for (const command of ['outlast check', 'outlast setup --create', 'outlast plan', 'outlast deploy']) {
      assert.match(result.stdout, new RegExp(`^  ${command} `, 'm'));
    }
    const text = readFileSync(join(dir, 'outlast.yaml'), 'utf8');
    assert.match(text, /^ {2}dir: \.\/public +# the built site to publish/m);
    assert.match(text, /^ {2}- id: backup +# a short name/m);
    assert.match(text, /^ {6}a: \[127\.0\.0\.3\]$/m);

    const plan = outlast(['plan'], dir);
    assert.equal(plan.code, 0, plan.stderr);
    assert.match(plan.stdout, /fs/);
    assert.match(plan.stdout, /backup/);
    assert.match(plan.stdout, /index\.html/);
    const deploy = outlast(['deploy', '--json'], dir);
    assert.equal(deploy.code, 0, deploy.stderr);
    assert.deepEqual(
      JSON.parse(deploy.stdout).origins.map((origin: { uploaded: number }) => origin.uploaded),
      [2, 2],
    );
    assert.equal(readFileSync(join(dir, 'origins', 'a', 'index.html'), 'utf8'), '<h1>hi</h1>');
  });

  test('-c writes another file, with paths relative to it; the next commands name it', async () => {
    const dir = project();
    const result = outlast(['init', '-c', 'conf/site.yaml', ...FS_FLAGS], dir);
    assert.equal(result.code, 0, result.stderr);
    assert.match(result.stdout, /^ {2}outlast plan -c conf\/site\.yaml /m);
    assert.equal(existsSync(join(dir, 'outlast.yaml')), false);
    const { config } = await loadConfig('conf/site.yaml', { cwd: dir, env: {} });
    assert.equal(config.site.dir, join(dir, 'public'));
    assert.equal(
      config.origins[0]?.storage.type === 'fs' && config.origins[0].storage.path,
      join(dir, 'origins', 'a'),
    );
    const plan = outlast(['plan', '-c', 'conf/site.yaml'], dir);
    assert.equal(plan.code, 0, plan.stderr);
  });

  test('never overwrites a file: exit 2 naming it, the file unchanged byte for byte', () => {
    const dir = project();
    for (const [args, file] of [
      [[], 'outlast.yaml'],
      [['-c', 'mine.yaml'], 'mine.yaml'],
    ] as const) {
      const before = Buffer.from('site: {dir: mine}\n# my own notes, not to be lost \u00e9\n');
      writeFileSync(join(dir, file), before);
      const result = outlast(['init', ...args, ...FS_FLAGS], dir);
      assert.equal(result.code, 2);
      assert.match(
        result.stderr,
        new RegExp(
          `^error: ${file.replace('.', '\\.')} already exists; outlast init never overwrites a file`,
        ),
      );
      assert.match(result.stderr, /hint: move it away, or write another file with --config FILE/);
      assert.ok(readFileSync(join(dir, file)).equals(before), `${file} changed`);
    }
    mkdirSync(join(dir, 'folder.yaml'));
    const folder = outlast(['init', '-c', 'folder.yaml', ...FS_FLAGS], dir);
    assert.equal(folder.code, 2);
    assert.match(folder.stderr, /folder\.yaml is a folder/);
  });

  test('without a terminal, missing answers are listed as flags at once: exit 2, nothing written', () => {
    const dir = project();
    const none = outlast(['init'], dir);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /stdin is not a terminal to ask them; nothing written/);
    for (const flag of ['--site DIR', '--name HOST', '--origin TYPE:LOCATION', '--dns TYPE']) {
      assert.ok(none.stderr.includes(`\n  ${flag}`), `${flag} in:\n${none.stderr}`);
    }
    const partly = outlast(
      [
        'init',
        '--site',
        'public',
        '--name',
        'www.example.com',
        '--origin',
        's3:my-bucket',
        '--origin',
        'swift:my-container',
        '--dns',
        'route53',
      ],
      dir,
    );
    assert.equal(partly.code, 2);
    for (const flag of [
      '--origin s3:my-bucket,region=REGION',
      '--origin s3:my-bucket,url=URL',
      '--origin swift:my-container,auth=AUTH',
      '--origin swift:my-container,url=URL',
    ]) {
      assert.ok(partly.stderr.includes(`\n  ${flag} `), `${flag} in:\n${partly.stderr}`);
    }
    assert.equal(existsSync(join(dir, 'outlast.yaml')), false);
  });

  test('bad flag values: exit 2, the flag and what was expected, nothing written', () => {
    const dir = project();
    const cases: Array<[string[], RegExp]> = [
      [
        ['--name', 'www example com'],
        /^error: --name "www example com": expected a host name such as www\.example\.com/,
      ],
      [['--origin', 'gcs:bucket'], /^error: --origin "gcs": expected a type among fs, s3, swift/],
      [
        ['--origin', 's3:www.example.com,region=eu-west-1,url=not-a-url'],
        /^error: --origin s3:www\.example\.com: url=not-a-url: expected an http:\/\/ or https:\/\/ URL/,
      ],
      [
        ['--dns', 'rfc2136,server=192.0.2.1:99999'],
        /^error: --dns rfc2136: server=192\.0\.2\.1:99999: expected HOST or HOST:PORT/,
      ],
      [
        ['--dns', 'route53,zone=example.org'],
        /^error: --dns route53: zone=example\.org: www\.example\.com is not inside the zone example\.org/,
      ],
    ];
    for (const [bad, expected] of cases) {
      const flags = [...FS_FLAGS];
      const at = flags.indexOf(bad[0] ?? '');
      flags.splice(at, 2, ...bad);
      const result = outlast(['init', ...flags], dir);
      assert.equal(result.code, 2, bad.join(' '));
      assert.match(result.stderr, expected);
      assert.match(result.stderr, /hint: outlast init --help/);
      assert.equal(existsSync(join(dir, 'outlast.yaml')), false);
    }
  });

  test('secrets: never a value in the file or the output, only ${VAR}; a secret given as a flag is refused', async () => {
    const dir = project();
    const secrets = {
      CLOUDFLARE_API_TOKEN: 'cf-token-0d1e2a3d4b5e6e7f',
      CF_USERNAME: 'user-3b1c',
      CF_API_KEY: 'rs-key-9f8e7d6c5b4a',
    };
    const flags = [
      '--site',
      'public',
      '--name',
      'www.example.com',
      '--origin',
      'fs:origins/a,url=http://127.0.0.2:8081/',
      '--origin',
      'swift:www,id=cf,auth=rackspace,region=DFW,url=https://cdn.example.net',
      '--dns',
      'cloudflare',
    ];
    const refused = outlast(
      ['init', ...flags.slice(0, -1), `cloudflare,api-token=${secrets.CLOUDFLARE_API_TOKEN}`],
      dir,
      secrets,
    );
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /--dns cloudflare: "api-token" looks like a secret/);
    assert.equal(refused.stderr.includes(secrets.CLOUDFLARE_API_TOKEN), false);
    assert.equal(existsSync(join(dir, 'outlast.yaml')), false);

    const result = outlast(['init', ...flags], dir, secrets);
    assert.equal(result.code, 0, result.stderr);
    const text = readFileSync(join(dir, 'outlast.yaml'), 'utf8');
    for (const [name, value] of Object.entries(secrets)) {
      assert.ok(text.includes(`"\${${name}}"`), `${name} is referred to`);
      assert.equal(text.includes(value), false, `the value of ${name} is not in the file`);
      assert.equal(result.stdout.includes(value), false, `the value of ${name} is not printed`);
      assert.match(result.stdout, new RegExp(`^  ${name} +`, 'm'), `${name} is listed`);
    }
    // The references are real: the loader takes the values from the environment.
    const { config } = await loadConfig('outlast.yaml', { cwd: dir, env: secrets });
    const provider = config.dns?.providers[0];
    assert.equal(provider?.type === 'cloudflare' && provider.apiToken, secrets.CLOUDFLARE_API_TOKEN);
  });
});

/** CSI sequences and keypad modes: what a terminal acts on rather than shows. */
const ESCAPES = new RegExp(`${String.fromCharCode(27)}(\\[[0-9;?]*[A-Za-z]|[=>])`, 'g');
const HAVE_SCRIPT = spawnSync('script', ['--version'], { encoding: 'utf8' }).status === 0;

/** `outlast ARGS` on a pseudo-terminal made by util-linux `script`; we type into it and read its screen. */
class Terminal {
  private readonly child: ChildProcess;
  private output = '';
  /** Where the next wait starts looking, so that a prompt asked twice is not found twice. */
  private seen = 0;
  private exit: number | null | undefined;

  constructor(args: string[], cwd: string) {
    const command = [process.execPath, BIN, ...args]
      .map((word) => `'${word.replace(/'/g, "'\\''")}'`)
      .join(' ');
    this.child = spawn('script', ['-qfec', command, '/dev/null'], {
      cwd,
      env: { ...process.env, TERM: 'xterm-256color', CI: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const collect = (chunk: Buffer) => {
      // Without the terminal's escape sequences (cursor moves, clearing): the text a user reads.
      this.output += chunk.toString('utf8').replace(ESCAPES, '');
    };
    this.child.stdout?.on('data', collect);
    this.child.stderr?.on('data', collect);
    this.child.on('exit', (code) => {
      this.exit = code;
    });
  }

  get screen(): string {
    return this.output;
  }

  async waitFor(pattern: RegExp): Promise<void> {
    await eventually(
      `the terminal shows ${pattern} (it shows: ${JSON.stringify(this.output.slice(this.seen))})`,
      async () => {
        const match = pattern.exec(this.output.slice(this.seen));
        if (!match) return false;
        this.seen += match.index + match[0].length;
        return true;
      },
      20_000,
    );
  }

  /** Waits for the prompt, then types the answer and Enter. */
  async answer(prompt: RegExp, text: string): Promise<void> {
    await this.waitFor(prompt);
    this.type(`${text}\r`);
  }

  type(keys: string): void {
    this.child.stdin?.write(keys);
  }

  async exitCode(): Promise<number | null> {
    await eventually('outlast init exits', async () => this.exit !== undefined, 20_000);
    this.child.stdin?.end();
    return this.exit ?? null;
  }

  kill(): void {
    if (this.exit === undefined && this.child.pid !== undefined) this.child.kill('SIGKILL');
  }
}

describe('outlast init on a terminal', {
  skip: HAVE_SCRIPT ? false : 'util-linux script is not installed',
}, () => {
  test('asks what the flags leave out, with defaults, again after a bad answer; the file validates', async () => {
    const dir = project();
    const terminal = new Terminal(['init'], dir);
    try {
      await terminal.answer(/The built site's folder \[public\]: $/m, '');
      await terminal.answer(/The host name users type .*\(e\.g\. www\.example\.com\): $/m, 'not a host!');
      await terminal.answer(
        /expected a host name such as www\.example\.com\s+The host name users type.*: $/m,
        'www.example.com',
      );
      await terminal.answer(/Origin 1: its type \(fs, s3, swift\): $/m, 'fs');
      await terminal.answer(/Origin 1 \(fs\): a short id, used in commands and logs \[fs\]: $/m, 'a');
      await terminal.answer(/Origin a: the folder it is kept in.*: $/m, 'origins/a');
      await terminal.answer(/Origin a: its public URL.*: $/m, 'http://127.0.0.2:8081/');
      await terminal.answer(/Another origin\? \[Y\/n\]: $/m, '');
      await terminal.answer(/Origin 2: its type.*: $/m, 'fs');
      await terminal.answer(/Origin 2 \(fs\): a short id.*\[fs\]: $/m, 'b');
      await terminal.answer(/Origin b: the folder it is kept in.*: $/m, 'origins/b');
      await terminal.answer(/Origin b: its public URL.*: $/m, 'http://127.0.0.3:8081/');
      await terminal.answer(/Another origin\? \[y\/N\]: $/m, '');
      await terminal.answer(/The DNS host that moves the name .*: $/m, 'embedded');
      await terminal.answer(/DNS embedded: the zone \[example\.com\]: $/m, '');
      await terminal.answer(
        /DNS embedded: the addresses it answers on.*\[0\.0\.0\.0:53\]: $/m,
        '127.0.0.1:5353',
      );
      await terminal.answer(
        /DNS embedded: the host names of the nameservers.*: $/m,
        'ns1.example.com ns2.example.com',
      );
      await terminal.answer(/Another DNS host.*\[y\/N\]: $/m, '');
      await terminal.answer(/Origin a: what www\.example\.com points to.*\[127\.0\.0\.2\]: $/m, '');
      await terminal.answer(/Origin b: what www\.example\.com points to.*\[127\.0\.0\.3\]: $/m, '192.0.2.7');
      await terminal.waitFor(/Wrote outlast\.yaml\./);
      assert.equal(await terminal.exitCode(), 0, terminal.screen);
    } finally {
      terminal.kill();
    }
    const { config } = await loadConfig('outlast.yaml', { cwd: dir, env: {} });
    assert.deepEqual(
      config.origins.map((origin) => [origin.id, origin.url, origin.dns]),
      [
        ['a', 'http://127.0.0.2:8081/', { a: ['127.0.0.2'] }],
        ['b', 'http://127.0.0.3:8081/', { a: ['192.0.2.7'] }],
      ],
    );
    const provider = config.dns?.providers[0];
    assert.equal(provider?.type, 'embedded');
    assert.deepEqual(provider?.type === 'embedded' && provider.listen, ['127.0.0.1:5353']);
    const plan = outlast(['plan'], dir);
    assert.equal(plan.code, 0, plan.stderr);
  });

  test('flags given are not asked again; Ctrl-C stops with 130 and writes nothing', async () => {
    const dir = project();
    const terminal = new Terminal(['init', '--site', 'public', '--name', 'www.example.com'], dir);
    try {
      await terminal.answer(/Origin 1: its type \(fs, s3, swift\): $/m, 's3');
      await terminal.waitFor(/a short id/);
      terminal.type('\x03');
      assert.equal(await terminal.exitCode(), 130, terminal.screen);
    } finally {
      terminal.kill();
    }
    assert.match(terminal.screen, /interrupted; nothing written/);
    assert.doesNotMatch(terminal.screen, /built site's folder|host name users type/);
    assert.equal(existsSync(join(dir, 'outlast.yaml')), false);
  });

  test('the end of input (Ctrl-D) stops with 2 and writes nothing', async () => {
    const dir = project();
    const terminal = new Terminal(['init'], dir);
    try {
      await terminal.answer(/The built site's folder \[public\]: $/m, '');
      await terminal.waitFor(/The host name users type.*: $/m);
      terminal.type('\x04');
      assert.equal(await terminal.exitCode(), 2, terminal.screen);
    } finally {
      terminal.kill();
    }
    assert.match(terminal.screen, /input ended before every answer was given; nothing written/);
    assert.equal(existsSync(join(dir, 'outlast.yaml')), false);
  });

  test('--no-input: never a question, even on a terminal; what is missing is listed', async () => {
    const dir = project();
    const terminal = new Terminal(['init', '--no-input', '--site', 'public'], dir);
    try {
      assert.equal(await terminal.exitCode(), 2, terminal.screen);
    } finally {
      terminal.kill();
    }
    assert.match(terminal.screen, /did not give, and --no-input says not to ask; nothing written/);
    assert.match(terminal.screen, /--name HOST/);
    assert.doesNotMatch(terminal.screen, /--site DIR|host name users type.*: $/m);
    assert.equal(existsSync(join(dir, 'outlast.yaml')), false);
  });

  test('an existing file is refused before any question', async () => {
    const dir = project();
    writeFileSync(join(dir, 'outlast.yaml'), 'mine\n');
    const terminal = new Terminal(['init'], dir);
    try {
      assert.equal(await terminal.exitCode(), 2, terminal.screen);
    } finally {
      terminal.kill();
    }
    assert.match(terminal.screen, /outlast\.yaml already exists; outlast init never overwrites a file/);
    assert.doesNotMatch(terminal.screen, /built site's folder/);
    assert.equal(readFileSync(join(dir, 'outlast.yaml'), 'utf8'), 'mine\n');
  });
});
