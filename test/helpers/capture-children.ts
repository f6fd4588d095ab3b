/**
 * Loaded into every test process by scripts/test.mjs (`--import`), when the run has a capture
 * folder: whatever a child running the `outlast` command prints (stdout and stderr, however the
 * test spawned it: spawn, execFile, exec, their Sync forms, a shell script or `script` naming
 * bin/outlast.js) is also appended to the capture folder for the end-of-run secret scan
 * (canary-scan.ts). The test itself sees exactly what it saw before: the streams are tapped where
 * Node pushes data into them, so no listener is added and no stream's mode changes.
 */
import childProcess, { type ChildProcess } from 'node:child_process';
import { syncBuiltinESMExports } from 'node:module';
import type { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { captureDir, captureFile } from './canary.ts';

/** `…/bin/outlast.js`, `node_modules/.bin/outlast`, `outlast deploy` in a script; not `outlast-x`. */
const OUTLAST = /(?:^|[\s/'"])outlast(?:\.js)?(?=$|[\s'";&|])/;

/** A capture name for a child running outlast, or undefined for any other child. */
function outlastChild(command: unknown, args: unknown): string | undefined {
  const words = [command, ...(Array.isArray(args) ? args : [])].filter(
    (word): word is string => typeof word === 'string',
  );
  const at = words.findIndex((word) => OUTLAST.test(word));
  if (at < 0) return undefined;
  const next = words[at + 1];
  const subcommand = next && /^[a-z][a-z-]*$/.test(next) ? next : 'run';
  return `child-outlast-${subcommand}`;
}

function tap(stream: Readable | null | undefined, write: (chunk: string | Uint8Array) => void): void {
  if (!stream) return;
  const push = stream.push.bind(stream);
  stream.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (typeof chunk === 'string' || chunk instanceof Uint8Array) write(chunk);
    return push(chunk, encoding);
  };
}

function tapChild(child: ChildProcess, name: string): ChildProcess {
  const out = captureFile(`${name}-stdout`);
  const err = captureFile(`${name}-stderr`);
  if (out) tap(child.stdout, out);
  if (err) tap(child.stderr, err);
  return child;
}

function keepOutput(name: string, stdout: unknown, stderr: unknown): void {
  for (const [stream, text] of [
    ['stdout', stdout],
    ['stderr', stderr],
  ] as const) {
    if (typeof text === 'string' || text instanceof Uint8Array) captureFile(`${name}-${stream}`)?.(text);
  }
}

type AnyFunction = (...args: unknown[]) => unknown;

/**
 * `promisify(execFile)` and `promisify(exec)` resolve `{ stdout, stderr }` through the original's
 * `util.promisify.custom`, which a plain wrapper lacks (it would resolve stdout alone): give the
 * wrapper one of its own that goes through the wrapper, with the child on the promise, as Node's.
 */
function withPromisify(wrapper: AnyFunction): AnyFunction {
  const promisified = (...args: unknown[]) => {
    let child: unknown;
    const promise = new Promise((resolve, reject) => {
      child = wrapper(...args, (error: Error | null, stdout: unknown, stderr: unknown) => {
        if (error) reject(Object.assign(error, { stdout, stderr }));
        else resolve({ stdout, stderr });
      });
    });
    return Object.assign(promise, { child });
  };
  Object.defineProperty(wrapper, promisify.custom, { value: promisified });
  return wrapper;
}

function install(): void {
  const cp = childProcess as unknown as Record<string, AnyFunction>;
  for (const method of ['spawn', 'execFile'] as const) {
    const original = cp[method]!;
    const wrapper = function (this: unknown, ...args: unknown[]) {
      const child = original.apply(this, args) as ChildProcess;
      const name = outlastChild(args[0], args[1]);
      return name ? tapChild(child, name) : child;
    };
    cp[method] = method === 'execFile' ? withPromisify(wrapper) : wrapper;
  }
  const exec = cp.exec!;
  cp.exec = withPromisify(function (this: unknown, ...args: unknown[]) {
    const child = exec.apply(this, args) as ChildProcess;
    const name = outlastChild(args[0], []);
    return name ? tapChild(child, name) : child;
  });
  const spawnSync = cp.spawnSync!;
  cp.spawnSync = function (this: unknown, ...args: unknown[]) {
    const result = spawnSync.apply(this, args) as { stdout?: unknown; stderr?: unknown };
    const name = outlastChild(args[0], args[1]);
    if (name) keepOutput(name, result.stdout, result.stderr);
    return result;
  };
  for (const method of ['execFileSync', 'execSync'] as const) {
    const original = cp[method]!;
    cp[method] = function (this: unknown, ...args: unknown[]) {
      const name = outlastChild(args[0], method === 'execFileSync' ? args[1] : []);
      try {
        const stdout = original.apply(this, args);
        if (name) keepOutput(name, stdout, undefined);
        return stdout;
      } catch (error) {
        const failed = error as { stdout?: unknown; stderr?: unknown };
        if (name) keepOutput(name, failed.stdout, failed.stderr);
        throw error;
      }
    };
  }
  // `import { spawn } from 'node:child_process'` reads these, not the object's properties.
  syncBuiltinESMExports();
}

if (captureDir()) install();
