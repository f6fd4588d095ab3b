#!/usr/bin/env node
// The `outlast` command: runs the compiled code in dist/ (`npm run build`, which `npm ci` runs
// through the `prepare` script). Each command imports what it needs when it runs.
import { existsSync, readFileSync } from 'node:fs';

// A reader that stops early (`outlast plan | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

const argv = process.argv.slice(2);
// `outlast --version` is what scripts and CI logs call most: it needs no module of ours at all.
const versionOnly = argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V');
// Stack traces point into src/*.ts when they are shown (--debug); mapping costs start-up time.
if (argv.includes('--debug')) process.setSourceMapsEnabled(true);

if (versionOnly) {
  const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  process.stdout.write(`${version}\n`);
} else {
  await run();
}

async function run() {
  const entry = new URL('../dist/cli/main.js', import.meta.url);
  if (!existsSync(entry)) {
    process.stderr.write(
      'error: outlast is not built: dist/cli/main.js is missing.\n' +
        'hint: in a checkout, run `npm ci` (or `npm run build`); an installed package ships dist/.\n',
    );
    process.exit(1);
  }
  const { main } = await import(entry.href);
  process.exitCode = await main(argv);
}
