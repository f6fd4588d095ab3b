/**
 * The targets a default run leaves out (`--only scale`, `--only progress`), because they cost
 * minutes that the other figures do not need:
 *
 * - outlast-scale: outlast → cluster A, native Swift, on a site of its own (`--scale-files`,
 *   100,000 by default), with `aws s3 sync`'s no-op measured over the container outlast's cold
 *   deploy just filled. aws compares size and mtime: after outlast's upload the objects are as
 *   large as the files and newer than them, so aws has nothing to upload (the report checks that
 *   it PUT nothing), and the bench does not spend aws's own cold upload of 100,000 files (~12 min).
 * - outlast-progress: outlast's cold deploy with stderr on a pseudo-terminal (util-linux's
 *   `script`), so that the progress line is drawn, right after the same deploy without one.
 */
import { outlastToSwiftA } from './outlast-targets.ts';
import { awsSyncInvocation } from './peer-targets.ts';
import { clustersOf, type Invocation, type ScenarioName, type Target } from './target.ts';

/** aws's no-op comes after outlast's no-op and before its 1 % deploy (which would make aws upload). */
const SCALE_STEPS: ScenarioName[] = ['cold', 'noop', 'noop', 'changed'];
const AWS_STEP = 2;

export const outlastScale: Target = {
  id: 'outlast-scale',
  groups: ['scale'],
  description: 'outlast deploy → cluster A, native Swift API, the `--scale-files` site (100,000 files)',
  scenarios: SCALE_STEPS,
  needsClusters: true,
  largeSite: true,
  async prepare(ctx, attempt) {
    const { a } = clustersOf(ctx);
    const container = `outlast-scale-${attempt}`;
    const outlast = await outlastToSwiftA(ctx, container);
    return {
      ...outlast,
      invocation: (scenario, step) =>
        step === AWS_STEP
          ? {
              ...awsSyncInvocation(ctx, a, container),
              as: {
                target: 'aws-s3-sync-over-outlast',
                description:
                  '`aws s3 sync` no-op over the container outlast-scale’s cold deploy filled (S3 API of cluster A)',
              },
            }
          : outlast.invocation(scenario, step),
    };
  },
};

/** A word for `sh -c` (script runs its command through the shell), quoted only when it must be. */
const quote = (word: string) => (/^[\w@%+=:,./-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`);

/**
 * The invocation under `script -qfec CMD /dev/null`: the child's stdin, stdout and stderr are a
 * pty, whose output script copies to its own stdout (the bench's pipe); -e passes on the child's
 * exit code, -f flushes at once, /dev/null is where the typescript would go. Without --json, which
 * turns the progress line off; CI unset, which does too.
 */
function onTerminal(invocation: Invocation): Invocation {
  const command = [invocation.command, ...invocation.args.filter((arg) => arg !== '--json')]
    .map(quote)
    .join(' ');
  const env: NodeJS.ProcessEnv = { ...invocation.env, TERM: 'xterm', COLUMNS: '120' };
  delete env.CI;
  return { command: '/usr/bin/script', args: ['-qfec', command, '/dev/null'], env };
}

/** A cold deploy needs an empty container: one for the run without a terminal, one for the run on it. */
const PROGRESS_STEPS: ScenarioName[] = ['cold', 'cold'];
const OFF_STEP = 0;

export const outlastProgress: Target = {
  id: 'outlast-progress',
  groups: ['progress'],
  description:
    'outlast deploy → cluster A, native Swift API, on a terminal (`script`): the progress line drawn; requests from the proxy log',
  scenarios: PROGRESS_STEPS,
  needsClusters: true,
  async prepare(ctx, attempt) {
    const { a } = clustersOf(ctx);
    // Off, then on, back to back: on this shared machine the pair's conditions are closer than
    // against outlast-swift's cold deploy minutes earlier.
    const [off, on] = await Promise.all(
      ['off', 'on'].map((name) => outlastToSwiftA(ctx, `outlast-progress-${name}-${attempt}`)),
    );
    return {
      clusters: [a],
      objectCount: (step) => (step === OFF_STEP ? off! : on!).objectCount!(step),
      invocation: (scenario, step) =>
        step === OFF_STEP
          ? {
              ...off!.invocation(scenario, step),
              as: {
                target: 'outlast-progress-off',
                description:
                  'outlast deploy → cluster A, native Swift API, `--json`, no terminal (as outlast-swift), just before outlast-progress',
                report: off!.report,
              },
            }
          : onTerminal(on!.invocation(scenario, step)),
      // No JSON on the terminal: the exit code tells failure, the proxy log the requests; the
      // line's erase sequence in the pty's output tells that it was drawn at all.
      report: (measurement) =>
        measurement.stdout.includes('\r\x1b[2K')
          ? {}
          : { error: `no progress line in the terminal's output:\n${measurement.stdout.slice(-500)}` },
    };
  },
};
