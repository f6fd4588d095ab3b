/** The benchmark's results as rows, the ratios the issues ask for, and their Markdown. */
import { type Goal, goalsMarkdown } from './goals.ts';
import type { ScenarioName } from './target.ts';
import { timingsMarkdown } from './timings.ts';

export interface Row {
  target: string;
  description: string;
  scenario: ScenarioName;
  /** 1 for the first attempt; a repeat after a disturbed measurement counts up. */
  attempt: number;
  wallSeconds: number;
  cpuSeconds: number;
  userSeconds: number;
  sysSeconds: number;
  peakRssMb: number;
  /** Storage requests as the client counts them (outlast's `--json` requests, summed over origins). */
  requests: number | null;
  requestCounts: Record<string, number> | null;
  /** Client requests the Swift proxies logged (null for the fs origin). */
  serverRequests: number | null;
  serverRequestsByMethod: Record<string, number> | null;
  /** Objects the client says it uploaded (outlast, bare-PUT). */
  uploaded: number | null;
  /** Objects in the container(s) after the run. */
  objectsAfter: number | null;
  perOrigin: unknown;
  /** The site this row deployed: its files, and the files its 1 % step rewrites. */
  siteFiles: number;
  changedFiles: number;
  /** outlast's `deploy --json` `timings` (ms), null when the client or build reports none. */
  timings: Record<string, number> | null;
  serverCpuSeconds: number;
  foreignCpuSeconds: number;
  loadBefore: number;
  loadAfter: number;
  /** Cores' worth of CPU other processes used in the 3 s before the run (see waitForQuiet). */
  otherCoresBefore: number;
  disturbed: boolean;
  exitCode: number;
  error: string | null;
  command: string;
}

export interface Ratio {
  name: string;
  value: number | null;
  numerator: string;
  denominator: string;
  /** One of its measurements was disturbed by other work. */
  disturbed: boolean;
}

export interface SiteFacts {
  files: number;
  bytes: number;
  changedFiles: number;
  changedBytes: number;
  seed: number;
}

export interface Report {
  started: string;
  finished: string;
  command: string;
  machine: Record<string, string>;
  site: SiteFacts;
  /** The scale targets' own site (`--scale-files`), null when none ran. */
  scaleSite: SiteFacts | null;
  rows: Row[];
  ratios: Ratio[];
  /** Issue 15's targets, from this run's rows (goals.ts). */
  goals: Goal[];
  notes: string[];
}

const find = (rows: Row[], target: string, scenario: ScenarioName) =>
  rows.find((row) => row.target === target && row.scenario === scenario && row.error === null);

/** The fastest bare-PUT run: the store's own speed (the plain ones; `bare-put-meta-*` carry
 * outlast's headers and are the floor for requests like outlast's, see barePutMeta). */
export function barePutBest(rows: Row[]): Row | undefined {
  return rows
    .filter((row) => /^bare-put-\d+$/.test(row.target) && row.error === null)
    .sort((a, b) => a.wallSeconds - b.wallSeconds)[0];
}

/** The bare-PUT run whose requests carry what outlast's do: the store's speed for those requests. */
export function barePutMeta(rows: Row[]): Row | undefined {
  return rows.find((row) => row.target.startsWith('bare-put-meta-') && row.error === null);
}

/** The bare S3 PUT run (`bare-s3-put-*`, bare-s3-put.ts): the store's speed through its S3 API. Not
 * a bare-PUT limit (barePutBest's regex leaves it out): the limit stays the native API's. */
export function bareS3Put(rows: Row[]): Row | undefined {
  return rows
    .filter((row) => /^bare-s3-put-\d+$/.test(row.target) && row.error === null)
    .sort((a, b) => a.wallSeconds - b.wallSeconds)[0];
}

export function computeRatios(rows: Row[]): Ratio[] {
  const ratios: Ratio[] = [];
  const add = (
    name: string,
    num: Row | undefined,
    den: Row | undefined,
    field: 'wallSeconds' | 'cpuSeconds',
  ) => {
    // Left out when neither side was measured (their targets were not selected).
    if (!num && !den) return;
    ratios.push({
      name,
      value: num && den && den[field] > 0 ? num[field] / den[field] : null,
      numerator: num
        ? `${num.target} ${num.scenario} ${field === 'wallSeconds' ? 'wall' : 'CPU'}`
        : 'missing',
      denominator: den
        ? `${den.target} ${den.scenario} ${field === 'wallSeconds' ? 'wall' : 'CPU'}`
        : 'missing',
      disturbed: (num?.disturbed ?? false) || (den?.disturbed ?? false),
    });
  };
  const bare = barePutBest(rows);
  for (const target of [
    'outlast-swift',
    'outlast-s3',
    'outlast-two',
    'aws-s3-sync',
    'swift-upload',
    'rclone-s3-16',
  ]) {
    add(`cold deploy / bare-PUT: ${target}`, find(rows, target, 'cold'), bare, 'wallSeconds');
  }
  const awsNoop = find(rows, 'aws-s3-sync', 'noop');
  for (const target of ['outlast-s3', 'outlast-swift', 'outlast-two', 'outlast-fs']) {
    add(`no-op / aws s3 sync no-op: ${target}`, find(rows, target, 'noop'), awsNoop, 'wallSeconds');
  }
  for (const scenario of ['cold', 'noop', 'changed'] as const) {
    const two = find(rows, 'outlast-two', scenario);
    const s3 = find(rows, 'outlast-s3', scenario);
    const swift = find(rows, 'outlast-swift', scenario);
    if (two && s3 && swift) {
      ratios.push({
        name: `CPU two origins / (S3 + Swift): ${scenario}`,
        value: two.cpuSeconds / (s3.cpuSeconds + swift.cpuSeconds),
        numerator: `outlast-two ${scenario} CPU`,
        denominator: `outlast-s3 + outlast-swift ${scenario} CPU`,
        disturbed: two.disturbed || s3.disturbed || swift.disturbed,
      });
    }
    add(`CPU two origins / one (S3): ${scenario}`, two, find(rows, 'outlast-s3', scenario), 'cpuSeconds');
    add(
      `CPU two origins / one (Swift): ${scenario}`,
      two,
      find(rows, 'outlast-swift', scenario),
      'cpuSeconds',
    );
  }
  return ratios;
}

const fixed = (value: number | null | undefined, digits: number) =>
  value === null || value === undefined || Number.isNaN(value) ? '–' : value.toFixed(digits);

export function markdown(report: Report): string {
  const bare = barePutBest(report.rows);
  const lines: string[] = [];
  lines.push(`# outlast deploy benchmark — ${report.started}`, '');
  const describeSite = (name: string, site: SiteFacts) =>
    `${name}: ${site.files.toLocaleString('en')} files, ${(site.bytes / 1e6).toFixed(1)} MB ` +
    `(seed ${site.seed}); the 1 % step rewrites ${site.changedFiles} files ` +
    `(${(site.changedBytes / 1e6).toFixed(2)} MB).`;
  lines.push(describeSite('Site', report.site));
  if (report.scaleSite)
    lines.push(describeSite('Scale site (outlast-scale, aws-s3-sync-over-outlast)', report.scaleSite));
  lines.push(
    `Machine: ${Object.entries(report.machine)
      .map(([k, v]) => `${k} ${v}`)
      .join('; ')}.`,
    '',
  );
  lines.push(
    '| target | scenario | wall s | requests (client) | requests (server) | uploaded | CPU s | peak RSS MB | × bare-PUT | load 1m before → after | other CPU s |',
    '|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const row of report.rows) {
    const ratio =
      // Not against a bare-PUT run of another site (outlast-scale's is its own).
      row.scenario === 'cold' && bare && row.serverRequests !== null && row.siteFiles === bare.siteFiles
        ? row.wallSeconds / bare.wallSeconds
        : null;
    const flag = row.disturbed ? ' ⚠' : '';
    if (row.error !== null) {
      lines.push(
        `| ${row.target} | ${row.scenario} | FAILED | ${row.error.split('\n')[0]!.replaceAll('|', '\\|').slice(0, 160)} | | | | | | ${fixed(row.loadBefore, 2)} → ${fixed(row.loadAfter, 2)} | |`,
      );
      continue;
    }
    lines.push(
      `| ${row.target} | ${row.scenario} | ${fixed(row.wallSeconds, 2)}${flag} | ${row.requests ?? '–'} | ${row.serverRequests ?? '–'} | ${row.uploaded ?? '–'} | ${fixed(row.cpuSeconds, 2)} | ${fixed(row.peakRssMb, 0)} | ${fixed(ratio, 2)} | ${fixed(row.loadBefore, 2)} → ${fixed(row.loadAfter, 2)} | ${fixed(row.foreignCpuSeconds, 1)} |`,
    );
  }
  lines.push('', '⚠: other work used more than 0.15 of a core during the run (see the notes).');
  lines.push('', '## Ratios', '', '| ratio | value | numerator | denominator |', '|---|--:|---|---|');
  for (const ratio of report.ratios) {
    const flag = ratio.disturbed ? ' ⚠' : '';
    lines.push(
      `| ${ratio.name} | ${fixed(ratio.value, 2)}${flag} | ${ratio.numerator} | ${ratio.denominator} |`,
    );
  }
  lines.push('', ...goalsMarkdown(report.goals));
  lines.push(...timingsMarkdown(report.rows));
  lines.push('## Commands', '');
  const seen = new Set<string>();
  for (const row of report.rows) {
    if (seen.has(row.target)) continue;
    seen.add(row.target);
    lines.push(`- **${row.target}**: ${row.description}. \`${row.command}\``);
  }
  lines.push('', '## Notes', '', ...report.notes.map((note) => `- ${note}`));
  lines.push('', `Made by: \`${report.command}\` (${report.started} → ${report.finished})`, '');
  return lines.join('\n');
}
