#!/usr/bin/env node
// `npm test`: type-check, format and lint check, then every test file under test/ on node's test
// runner. Real servers that tests need are started by test/servers/*.ts (required by the test
// files through their helpers) and stopped when the run ends.
//
//   npm test                      everything
//   npm test -- test/unit/x.test.ts   only the given files (checks still run first)
//   OUTLAST_TEST_SKIP_CHECKS=1    skip tsc and biome (for quick local loops; CI never sets it)
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);

function run(label, command, args, extraEnv = {}) {
  const started = Date.now();
  process.stdout.write(`\n== ${label}\n`);
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...extraEnv },
  });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (result.status !== 0) {
    process.stdout.write(`== ${label}: FAILED after ${seconds}s\n`);
    process.exit(result.status ?? 1);
  }
  process.stdout.write(`== ${label}: ok (${seconds}s)\n`);
}

function findTests(dir) {
  const found = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) found.push(...findTests(path));
    else if (name.endsWith('.test.ts')) found.push(relative(root, path));
  }
  return found;
}

const selected = process.argv.slice(2);
if (!process.env.OUTLAST_TEST_SKIP_CHECKS) {
  run('type-check (tsc)', bin('tsc'), ['--noEmit', '-p', 'tsconfig.json']);
  run('format and lint (biome)', bin('biome'), ['check', '--diagnostic-level=error', '.']);
}
const files = selected.length > 0 ? selected : findTests(join(root, 'test'));
if (files.length === 0) {
  console.error('no test files found under test/');
  process.exit(1);
}
run(`tests (${files.length} files)`, process.execPath, [
  '--import',
  'tsx',
  '--test',
  '--test-concurrency=2',
  '--test-reporter=spec',
  ...files,
]);
