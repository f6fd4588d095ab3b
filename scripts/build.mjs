#!/usr/bin/env node
// `npm run build` (also run by `npm ci` through `prepare`, and by `npm test` before the tests):
// builds the dashboard's browser side (scripts/build-dashboard.mjs writes
// src/daemon/dashboard/assets.generated.ts), then compiles src/ to dist/ with tsc
// (tsconfig.build.json: ESM, source maps, `.ts` imports rewritten to `.js`). tsc writes a new
// folder beside dist/, which then takes dist/'s place by two renames: a deleted source leaves no
// stale module behind, a failed build leaves the last good dist/ as it was, and a command started
// meanwhile (a test running the CLI) never finds dist/ half written or gone for long.
import { spawn } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDashboard } from './build-dashboard.mjs';

const root = fileURLToPath(new URL('..', import.meta.url));

function run(command, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: root, stdio: 'inherit' });
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? code})`)),
    );
  });
}

const started = Date.now();
try {
  await buildDashboard({ root });
  const fresh = join(root, `.dist-${process.pid}`);
  const old = join(root, `.dist-old-${process.pid}`);
  rmSync(fresh, { recursive: true, force: true });
  try {
    await run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.build.json', '--outDir', fresh]);
    const dist = join(root, 'dist');
    if (existsSync(dist)) renameSync(dist, old);
    renameSync(fresh, dist);
  } finally {
    rmSync(fresh, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
} catch (error) {
  process.stderr.write(`build: ${error.message}\n`);
  process.exit(1);
}
if (!process.env.OUTLAST_BUILD_QUIET) {
  process.stdout.write(`build: dist/ ready (${((Date.now() - started) / 1000).toFixed(1)}s)\n`);
}
