/** bench/edge's results: one row per front × scenario, issue 17's targets, and their Markdown. */
import type { WrkResult } from './wrk.ts';

/** Other work using more than this many cores during a measured run makes it disturbed (⚠). */
export const DISTURBED_CORES = 0.25;

export const SCENARIOS = {
  'cached-small': 'cached small files (≤ 16 KiB), the cache warmed first',
  'cached-1mb': 'one 1 MiB file, cached',
  'uncached-small': 'small files, no cache (the edge: 1 MB cache, none in memory, no warming)',
  'uncached-1mb':
    'eight 1 MiB files in turn, no cache (the edge: as for uncached-small; one 1 MiB file would fit its 1 MB cache)',
  kill: 'small files, uncached, origin A’s Swift proxy SIGKILLed during the run',
  freeze: 'small files, uncached, origin A’s Swift proxy SIGSTOPped during the run (SIGCONT after it)',
} as const;
export type Scenario = keyof typeof SCENARIOS;

export interface Row {
  front: string;
  scenario: Scenario;
  result: WrkResult | null;
  error: string | null;
  /** Client requests the Swift proxies logged during the measured run. */
  originRequests: { a: number; b: number } | null;
  /** The edge's cache hits / (hits + misses) during the run, from its /status. */
  cacheHitRatio: number | null;
  /** What else the row should say (the edge's failovers, how long A took to be in use again…). */
  notes: string[];
}

export interface Goal {
  name: string;
  value: number | null;
  target: string;
  met: boolean | null;
  /** nginx's figure for the same, for comparison. */
  nginx: string;
}

export interface Report {
  started: string;
  finished: string;
  command: string;
  machine: Record<string, string>;
  settings: Record<string, string | number | boolean>;
  rows: Row[];
  goals: Goal[];
  notes: string[];
}

export const EDGE = 'outlast edge';
export const NGINX = 'nginx';

const find = (rows: Row[], front: string, scenario: Scenario) =>
  rows.find((row) => row.front === front && row.scenario === scenario && row.result !== null)?.result;

export function computeGoals(rows: Row[]): Goal[] {
  const edge = find(rows, EDGE, 'cached-small');
  const nginx = find(rows, NGINX, 'cached-small');
  const ratio = (a: number | undefined, b: number | undefined) =>
    a !== undefined && b !== undefined && b > 0 ? a / b : null;
  const rps = ratio(edge?.rps, nginx?.rps);
  const p99 = ratio(edge?.p99Ms, nginx?.p99Ms);
  const failed = (scenario: Scenario) => find(rows, EDGE, scenario)?.failed ?? null;
  const goals: Goal[] = [
    {
      name: 'cached small: edge req/s ÷ nginx req/s',
      value: rps,
      target: '≥ 0.5',
      met: rps === null ? null : rps >= 0.5,
      nginx: nginx ? `${nginx.rps.toFixed(0)} req/s` : '–',
    },
    {
      name: 'cached small: edge p99 ÷ nginx p99',
      value: p99,
      target: '≤ 2',
      met: p99 === null ? null : p99 <= 2,
      nginx: nginx ? `p99 ${nginx.p99Ms.toFixed(2)} ms` : '–',
    },
  ];
  for (const scenario of ['kill', 'freeze'] as const) {
    const value = failed(scenario);
    goals.push({
      name: `edge: failed requests during the ${scenario === 'kill' ? 'kill' : 'freeze'} of origin A`,
      value,
      target: '0',
      met: value === null ? null : value === 0,
      nginx: String(find(rows, NGINX, scenario)?.failed ?? '–'),
    });
  }
  return goals;
}

const fixed = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);
const cell = (text: string) => text.replaceAll('|', '\\|').replaceAll('\n', ' ');

function failedCell(result: WrkResult): string {
  if (result.failed === 0) return '0';
  const { connect, read, write, timeout } = result.socket;
  const parts = [
    result.non2xx ? `${result.non2xx} non-2xx/3xx` : '',
    connect ? `${connect} connect` : '',
    read ? `${read} read` : '',
    write ? `${write} write` : '',
    timeout ? `${timeout} timeout` : '',
  ].filter(Boolean);
  return `**${result.failed}** (${parts.join(', ')})`;
}

export function markdown(report: Report): string {
  const lines = [`# outlast edge vs nginx — ${report.started}`, ''];
  lines.push(
    `Settings: ${Object.entries(report.settings)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    `Machine: ${Object.entries(report.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    '',
    '| front | scenario | requests | req/s | p50 ms | p99 ms | max ms | failed | front CPU µs/req | Swift CPU µs/req | origin requests A / B | cache hits | other load (cores) |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const row of report.rows) {
    const r = row.result;
    if (!r) {
      lines.push(
        `| ${row.front} | ${row.scenario} | FAILED: ${cell(row.error ?? '?').slice(0, 200)} | | | | | | | | | | |`,
      );
      continue;
    }
    const origin = row.originRequests ? `${row.originRequests.a} / ${row.originRequests.b}` : '–';
    const hits = row.cacheHitRatio === null ? '–' : `${(row.cacheHitRatio * 100).toFixed(1)} %`;
    lines.push(
      `| ${row.front} | ${row.scenario} | ${r.requests} | ${fixed(r.rps, 0)} | ${fixed(r.p50Ms, 2)} | ${fixed(r.p99Ms, 2)} | ${fixed(r.maxMs, 0)} | ${failedCell(r)} | ${fixed(r.frontCpuUsPerRequest, 0)} | ${fixed(r.originCpuUsPerRequest, 0)} | ${origin} | ${hits} | ${fixed(r.otherCores, 2)}${r.otherCores > DISTURBED_CORES ? ' ⚠' : ''} |`,
    );
  }
  lines.push(
    '',
    '## Targets (issue 17)',
    '',
    '| target | value | wanted | | nginx |',
    '|---|--:|---|---|--:|',
  );
  for (const goal of report.goals) {
    const mark = goal.met === null ? '– (not measured)' : goal.met ? '✓' : '✗';
    lines.push(
      `| ${goal.name} | ${fixed(goal.value, goal.value !== null && goal.value % 1 !== 0 ? 2 : 0)} | ${goal.target} | ${mark} | ${goal.nginx} |`,
    );
  }
  lines.push('', '## Scenarios', '');
  for (const [name, what] of Object.entries(SCENARIOS)) lines.push(`- **${name}**: ${what}.`);
  const rowNotes = report.rows.filter((row) => row.notes.length > 0);
  if (rowNotes.length > 0) {
    lines.push('', '## Per run', '');
    for (const row of rowNotes) lines.push(`- ${row.front} ${row.scenario}: ${row.notes.join('; ')}.`);
  }
  lines.push('', '## Notes', '', ...report.notes.map((note) => `- ${note}`));
  const commands = [
    ...new Set(
      report.rows.flatMap((row) => (row.result ? [row.result.command.replace(/http:\S+/, 'URL')] : [])),
    ),
  ];
  lines.push('', '## Commands', '', ...commands.map((command) => `- \`${command}\``));
  lines.push('', `Made by: \`${report.command}\` (${report.started} → ${report.finished})`, '');
  return lines.join('\n');
}
