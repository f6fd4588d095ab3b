/**
 * Prints docs/bad-input.md from the bad-input corpus (test/fixtures/bad/, read by
 * test/helpers/bad-corpus.ts): one row per case, with its input, exit code and the message it
 * must print. `test/unit/bad-input-table.test.ts` fails when the committed file differs.
 *
 *   node --import tsx scripts/bad-input-table.ts > docs/bad-input.md
 */
import { type BadCase, loadCorpus } from '../test/helpers/bad-corpus.ts';

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const code = (text: string) => (text === '' ? '' : `\`${cell(text).replace(/`/g, "'")}\``);

function row(item: BadCase): string {
  const status = item.skip ? ` (not run: ${item.skip})` : item.todo ? ` (todo: ${item.todo})` : '';
  return `| ${cell(item.title)}${cell(status)} | ${code(item.input)} | \`outlast ${item.command.join(' ')}\` | ${item.exit} | ${code(item.message)} |`;
}

export function badInputDoc(): string {
  const corpus = loadCorpus();
  const groups: [string, string, BadCase[]][] = [
    [
      'Configs',
      'written by hand, one file each in `test/fixtures/bad/config/`',
      corpus.filter((c) => c.id.startsWith('config/')),
    ],
    [
      'Every key missing, of the wrong type, misspelt',
      'derived from `test/fixtures/bad/base.yaml` and the schema: each key removed (when required), given a value of another type, and misspelt',
      corpus.filter((c) => c.id.startsWith('keys/')),
    ],
    [
      'Site folders',
      'made at test time from `test/fixtures/bad/site/`',
      corpus.filter((c) => c.id.startsWith('site/')),
    ],
    [
      'Malformed answers',
      'from a fake store or DNS server (`test/fixtures/bad/answers/`); nothing may be written to it',
      corpus.filter((c) => c.id.startsWith('answers/')),
    ],
  ];
  const lines = [
    '# Bad input: what outlast says',
    '',
    'Generated from the bad-input corpus by `node --import tsx scripts/bad-input-table.ts > docs/bad-input.md`',
    '(`test/unit/bad-input-table.test.ts` fails when this file is not what it prints). Each case is run',
    'through the command by `test/e2e/bad-input.test.ts`, which checks the exit code, that the output',
    'holds the message below (and names the file and the config path), that there is no stack trace,',
    'and that nothing was written anywhere. Exit codes: see README.md, *Exit codes*.',
    '',
    `${corpus.length} cases.`,
  ];
  for (const [title, how, cases] of groups) {
    lines.push('', `## ${title} (${cases.length})`, '', `Cases ${how}.`, '');
    lines.push('| case | input | command | exit | message (part of it) |', '|---|---|---|---|---|');
    lines.push(...cases.map(row));
  }
  return `${lines.join('\n')}\n`;
}

if (import.meta.url === `file://${process.argv[1]}`) process.stdout.write(badInputDoc());
