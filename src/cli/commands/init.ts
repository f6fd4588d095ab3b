/**
 * `outlast init`: a new user's first command. Gathers the answers (flags, and questions on a
 * terminal), writes a commented `outlast.yaml` that the loader accepts, with every secret as a
 * `${VAR}` reference, then says which variables to set and what to run next. It never overwrites
 * a file, and writes nothing unless every answer is there and the result validates.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { createInterface, type Interface } from 'node:readline/promises';
import { parseConfig } from '../../config/load.ts';
import { type RenderedConfig, renderConfig } from '../../config/template.ts';
import { isOutlastError, messageOf, OutlastError } from '../../errors.ts';
import { EXIT } from '../exit.ts';
import { gatherAnswers, type InitFlags } from '../init/answers.ts';
import { parseYesNo } from '../init/checks.ts';
import { type Asker, FlagsOnlyAsker, type Question } from '../init/questions.ts';
import type { GlobalOptions } from '../options.ts';

export interface InitOptions extends InitFlags {
  /** `--no-input`: never ask, even on a terminal. */
  input?: boolean;
}

const DEFAULT_FILE = 'outlast.yaml';
/** Folders that static site generators build into, most common first. */
const BUILD_FOLDERS = ['public', 'dist', 'build', '_site', 'out'];

export async function initCommand(options: GlobalOptions & InitOptions): Promise<number> {
  const cwd = process.cwd();
  const file = options.config ?? DEFAULT_FILE;
  const absolute = resolve(cwd, file);
  // Before any question: answering a dozen of them only to be refused would be unkind.
  refuseExisting(file, absolute);

  const interactive = options.input !== false && process.stdin.isTTY === true;
  const context = {
    cwd,
    configDir: dirname(absolute),
    siteSuggestion: BUILD_FOLDERS.find((name) => isFolder(join(cwd, name))),
  };
  let answers: Awaited<ReturnType<typeof gatherAnswers>>;
  if (interactive) {
    const terminal = new TerminalAsker();
    try {
      process.stdout.write(`outlast init: writing ${file}. Enter takes the [default]; Ctrl-C stops.\n\n`);
      answers = await gatherAnswers(options, terminal, context);
    } catch (error) {
      if (error instanceof InputStopped) {
        process.stderr.write(
          error.reason === 'interrupted'
            ? `\ninterrupted; nothing written\n`
            : `\ninput ended before every answer was given; nothing written\n`,
        );
        return error.reason === 'interrupted' ? EXIT.interrupted : EXIT.usage;
      }
      throw error;
    } finally {
      terminal.close();
    }
  } else {
    const why = options.input === false ? '--no-input says not to ask' : undefined;
    answers = await gatherAnswers(options, new FlagsOnlyAsker(why), context);
  }

  const rendered = renderConfig(answers);
  validate(rendered, absolute);
  await mkdir(dirname(absolute), { recursive: true });
  try {
    await writeFile(absolute, rendered.text, { flag: 'wx', mode: 0o644 });
  } catch (error) {
    // Created by someone else while the questions were being answered.
    if (codeOf(error) === 'EEXIST') refuseExisting(file, absolute);
    throw new OutlastError('invalid_argument', `cannot write ${file}: ${messageOf(error)}`, { cause: error });
  }
  printNext(file, rendered, answers.siteDir, context.configDir, answers.dns.length > 0);
  return EXIT.ok;
}

function refuseExisting(file: string, absolute: string): void {
  if (!existsSync(absolute)) return;
  const what = isFolder(absolute) ? 'is a folder' : 'already exists';
  throw new OutlastError('invalid_argument', `${file} ${what}; outlast init never overwrites a file`, {
    hint: 'move it away, or write another file with --config FILE',
  });
}

/** The loader's own check, with every variable set: a problem here is in the answers, not the environment. */
function validate(rendered: RenderedConfig, absolute: string): void {
  const env = Object.fromEntries(rendered.variables.map((variable) => [variable.name, 'set-by-init-check']));
  try {
    parseConfig(rendered.text, absolute, { env });
  } catch (error) {
    if (!isOutlastError(error)) throw error;
    throw new OutlastError(
      'invalid_argument',
      `the answers do not make a valid config; nothing written\n${error.message}`,
      {
        cause: error,
      },
    );
  }
}

function printNext(
  file: string,
  rendered: RenderedConfig,
  siteDir: string,
  configDir: string,
  dns: boolean,
): void {
  const lines: string[] = [`Wrote ${file}.`, ''];
  if (rendered.variables.length > 0) {
    lines.push('Set these environment variables wherever outlast runs (the file only names them):');
    const width = Math.max(...rendered.variables.map((variable) => variable.name.length));
    for (const variable of rendered.variables) {
      lines.push(`  ${variable.name.padEnd(width)}  ${variable.usedBy}: ${variable.meaning}`);
    }
    lines.push('');
  }
  if (rendered.notes.length > 0) {
    lines.push('Credentials without variables in the file:');
    for (const note of rendered.notes) lines.push(`  ${note}`);
    lines.push('');
  }
  if (!isFolder(resolve(configDir, siteDir))) {
    lines.push(`The site folder ${siteDir} does not exist yet: build the site there, or edit site.dir.`, '');
  }
  const config = file === DEFAULT_FILE ? '' : ` -c ${shellWord(file)}`;
  const commands: Array<[string, string]> = [
    [`outlast check${config}`, 'the preflight: what is not ready yet (it changes nothing)'],
    [`outlast setup --create${config}`, 'create the buckets and containers and make them serve the site'],
    [`outlast plan${config}`, 'what the first deploy would upload'],
    [`outlast deploy${config}`, 'publish the site to every origin'],
  ];
  if (dns) commands.push([`outlast watch${config}`, 'probe the origins and move the name when one fails']);
  const width = Math.max(...commands.map(([command]) => command.length));
  lines.push('Next:', ...commands.map(([command, what]) => `  ${command.padEnd(width)}  ${what}`));
  process.stdout.write(`${lines.join('\n')}\n`);
}

function shellWord(text: string): string {
  return /^[\w./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}

function isFolder(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function codeOf(error: unknown): unknown {
  return error instanceof Error && 'code' in error ? error.code : undefined;
}

/** Ctrl-C or end of input while a question waited. */
class InputStopped extends Error {
  constructor(readonly reason: 'interrupted' | 'ended') {
    super(reason);
  }
}

/** Asks on the terminal, again after a bad answer; Ctrl-C and Ctrl-D end it with `InputStopped`. */
class TerminalAsker implements Asker {
  private readonly rl: Interface;
  private readonly stop = new AbortController();
  private reason: 'interrupted' | 'ended' | undefined;

  constructor() {
    this.rl = createInterface({ input: process.stdin, output: process.stdout, terminal: true });
    this.rl.on('SIGINT', () => this.end('interrupted'));
    this.rl.on('close', () => this.end('ended'));
  }

  async ask(question: Question): Promise<string | undefined> {
    const shown = question.default ?? question.suggestion;
    const text = question.topic ? `${question.topic}: ${question.prompt}` : question.prompt;
    const prompt =
      text.charAt(0).toUpperCase() +
      text.slice(1) +
      (question.example ? ` (e.g. ${question.example})` : '') +
      (shown !== undefined ? ` [${shown}]` : '') +
      ': ';
    for (;;) {
      const answer = (await this.line(prompt)).trim();
      if (answer === '') {
        if (shown !== undefined) return shown;
        if (question.optional) return undefined;
        this.say('  an answer is needed here');
        continue;
      }
      const problem =
        question.choices && !question.choices.includes(answer)
          ? `expected one of ${question.choices.join(', ')}`
          : question.check?.(answer);
      if (problem === undefined) return answer;
      this.say(`  ${problem}`);
    }
  }

  async confirm(prompt: string, defaultYes: boolean): Promise<boolean> {
    for (;;) {
      const answer = (await this.line(`${prompt} [${defaultYes ? 'Y/n' : 'y/N'}]: `)).trim();
      if (answer === '') return defaultYes;
      const yes = parseYesNo(answer);
      if (yes !== undefined) return yes;
      this.say('  expected y or n');
    }
  }

  close(): void {
    this.rl.close();
  }

  private async line(prompt: string): Promise<string> {
    try {
      return await this.rl.question(prompt, { signal: this.stop.signal });
    } catch (error) {
      if (this.stop.signal.aborted) throw new InputStopped(this.reason ?? 'interrupted');
      throw error;
    }
  }

  private end(reason: 'interrupted' | 'ended'): void {
    this.reason ??= reason;
    this.stop.abort();
  }

  private say(text: string): void {
    process.stdout.write(`${text}\n`);
  }
}
