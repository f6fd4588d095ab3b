#!/usr/bin/env node
// The `outlast` command. Runs the TypeScript sources through tsx, so there is no build step.
import { register } from 'tsx/esm/api';

// A reader that stops early (`outlast plan | head`) is not an error of ours.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
