/**
 * outlast's own account of a deploy's time: `deploy --json` prints a top-level `timings` object
 * (milliseconds: startupMs, configMs, scanMs, walkMs, hashMs, manifestMs, remoteMs, planMs,
 * applyMs, totalMs). Older builds print none, or only some of them: every field is optional, and
 * the table shows "–" for what is absent. The table answers "where does a no-op deploy's time go".
 *
 *   node --import tsx bench/deploy/timings.ts --self-check
 */
import { strict as assert } from 'node:assert';
import type { Row } from './report.ts';

export const TIMING_FIELDS = [
  'startupMs',
  'configMs',
  'scanMs',
  'walkMs',
  'hashMs',
  'manifestMs',
  'remoteMs',
  'planMs',
  'applyMs',
  'totalMs',
] as const;

/** The numeric fields of `timings` we know; anything else (or nothing) is left out. */
export function parseTimings(value: unknown): Record<string, number> | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const timings: Record<string, number> = {};
  for (const field of TIMING_FIELDS) {
    const ms = (value as Record<string, unknown>)[field];
    if (typeof ms === 'number' && Number.isFinite(ms)) timings[field] = ms;
  }
  return Object.keys(timings).length > 0 ? timings : undefined;
}

const seconds = (ms: number | undefined) => (ms === undefined ? '–' : (ms / 1000).toFixed(2));

/** Scan = walk + hash + manifest when the parts are there, else the build's scanMs. */
function scanMs(t: Record<string, number>): number | undefined {
  const parts = [t.walkMs, t.hashMs, t.manifestMs].filter((ms) => ms !== undefined);
  return parts.length > 0 ? parts.reduce((sum, ms) => sum + ms, 0) : t.scanMs;
}

/** "Where the no-op time goes": one line per outlast target's no-op row. */
export function timingsMarkdown(rows: Row[]): string[] {
  const noops = rows.filter(
    (row) => row.target.startsWith('outlast') && row.scenario === 'noop' && row.error === null,
  );
  if (noops.length === 0) return [];
  const lines = [
    '## Where the no-op time goes',
    '',
    'Seconds, from `deploy --json` `timings`; scan = walk + hash + manifest; rest = wall − total ' +
      '(the process exit, spawning it under GNU time, and whatever outlast does not time; startup ' +
      'is from the process’s start to main()). "–": this build does not report it.',
    '',
    '| target | wall | startup | config | scan (walk + hash + manifest) | remote | plan | apply | total (outlast) | rest |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (const row of noops) {
    const t = row.timings ?? {};
    const scan = scanMs(t);
    const parts =
      t.walkMs !== undefined || t.hashMs !== undefined || t.manifestMs !== undefined
        ? ` (${seconds(t.walkMs)} + ${seconds(t.hashMs)} + ${seconds(t.manifestMs)})`
        : '';
    const rest = t.totalMs === undefined ? undefined : row.wallSeconds * 1000 - t.totalMs;
    lines.push(
      `| ${row.target} | ${row.wallSeconds.toFixed(2)} | ${seconds(t.startupMs)} | ${seconds(t.configMs)} | ` +
        `${seconds(scan)}${parts} | ${seconds(t.remoteMs)} | ${seconds(t.planMs)} | ${seconds(t.applyMs)} | ` +
        `${seconds(t.totalMs)} | ${seconds(rest)} |`,
    );
  }
  return [...lines, ''];
}

// A hand-made check of the parser and the table (no test framework: the bench is not a test).
if (process.argv.includes('--self-check')) {
  assert.equal(parseTimings(undefined), undefined);
  assert.equal(parseTimings({ other: 1 }), undefined);
  const parsed = parseTimings({ startupMs: 80, walkMs: 100, hashMs: 50, totalMs: 900, planMs: 'x' });
  assert.deepEqual(parsed, { startupMs: 80, walkMs: 100, hashMs: 50, totalMs: 900 });
  const row = { target: 'outlast-swift', scenario: 'noop', error: null, wallSeconds: 1.2, timings: parsed };
  const table = timingsMarkdown([row as unknown as Row]).join('\n');
  assert.match(
    table,
    /\| outlast-swift \| 1\.20 \| 0\.08 \| – \| 0\.15 \(0\.10 \+ 0\.05 \+ –\) \| – \| – \| – \| 0\.90 \| 0\.30 \|/,
  );
  process.stdout.write(`${table}\nself-check ok\n`);
}
