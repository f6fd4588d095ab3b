/** Statistics and the Markdown report of the failover bench (the JSON is the `FailoverReport`). */
import { REFUSED_RETRY_MS } from '../../src/health/engine.ts';
import type { NativeApplyRun } from './native.ts';

export type Scenario = 'refused' | 'hung';
export type System = 'outlast' | 'pdns-lua' | 'outlast-native';

/** One failure of origin a, observed by all three contestants at once. */
export interface EventMeasurement {
  scenario: Scenario;
  /** The outlast watcher's health.retryInterval during this event (ms). */
  retryIntervalMs: number;
  round: number;
  attempt: number;
  /** Seconds from the signal to the first DNS reply with origin b's address; undefined: not within the limit. */
  outlastSeconds: number | undefined;
  /** The hand-written PowerDNS LUA record. */
  luaSeconds: number | undefined;
  /** The LUA record outlast provisioned (`failover: native`). */
  nativeSeconds: number | undefined;
  /** When outlast declared origin a down, and when its DNS write finished (ms since the signal). */
  outlastDownAtMs: number | undefined;
  outlastWriteAtMs: number | undefined;
  /** How long the bench waited for other processes to calm down before this attempt (ms). */
  quietWaitMs: number;
  /** Random wait before the signal (ms), so the failure falls at any phase of the probe timers. */
  phaseMs: number;
  loadBefore: string;
  loadAfter: string;
  foreignCores: number;
  disturbed: boolean;
  /** Whether this attempt is the one used in the statistics. */
  used: boolean;
  /** Every answer change seen while polling (ms since the signal). */
  changes: { name: string; answer: string; atMs: number }[];
  /** outlast's timeline events during the measurement (health, failover, dns). */
  outlastEvents: { atMs: number; kind: string; message: string }[];
}

export interface CountMeasurement {
  /** `steady`, `flap-kill` or `flap-stop`. */
  scenario: string;
  retryIntervalMs: number;
  seconds: number;
  /** DNS writes outlast made (its `dns` events) during the window … */
  outlastWrites: number;
  /** … and in the few seconds after it (a failover the last down phase caused). */
  outlastWritesAfter: number;
  /** Changes of providers[].lastWriteAt seen by sampling status() during the window. */
  lastWriteAtChanges: number;
  /** outlast's health transitions of origin a during the window. */
  outlastHealthTransitions: number;
  /** Changes of the answer for www (outlast), lua (PowerDNS LUA) and native (outlast native) seen by polling every 20 ms. */
  wwwAnswerChanges: number;
  luaAnswerChanges: number;
  nativeAnswerChanges: number;
  /** The answers each name gave, with counts of polls. */
  wwwAnswers: Record<string, number>;
  luaAnswers: Record<string, number>;
  nativeAnswers: Record<string, number>;
  /** Flap only: how long origin a actually was down and up per cycle (ms). */
  downMs?: number[];
  upMs?: number[];
  /** outlast's timeline during the window and the 5 s after (ms since the window's start). */
  outlastEvents: { atMs: number; kind: string; message: string }[];
  loadBefore: string;
  loadAfter: string;
  foreignCores: number;
  disturbed: boolean;
  attempt: number;
  /** The attempt the summary uses (the first quiet one, else the least disturbed). */
  used: boolean;
}

/** The hosts that cannot run here, simulated by the repository's stand-ins (standin-hosts.ts). */
export type StandinHost = 'route53' | 'dnsmadeeasy';
export const STANDIN_HOSTS: StandinHost[] = ['route53', 'dnsmadeeasy'];
export const STANDIN_LABELS: Record<StandinHost, string> = {
  route53: 'Route 53 (stand-in, simulated)',
  dnsmadeeasy: 'DNS Made Easy (stand-in, simulated)',
};

/** One check of origin a by a stand-in host (ms since the signal). */
export interface StandinCheck {
  atMs: number;
  result: string;
}

/** One failure of origin a, observed by every stand-in host of the run at once. */
export interface StandinEvent {
  scenario: Scenario;
  round: number;
  /** Seconds from the signal to the first answer with origin b, per host; null: not within the limit. */
  seconds: Partial<Record<StandinHost, number | null>>;
  /** The host's checks of origin a from the signal to the end of the measurement. */
  checksOfA: Partial<Record<StandinHost, StandinCheck[]>>;
  /** How long the bench waited for other processes to calm down first (ms). */
  quietWaitMs: number;
  /** Random wait before the signal (ms): the failure falls at any phase of Route 53's checks. */
  waitMs: number;
  /** DNS Made Easy: its next check round was set this long after the signal (random over the interval). */
  dmeNextRoundMs: number | null;
  loadBefore: string;
  loadAfter: string;
  foreignCores: number;
  disturbed: boolean;
  /** Every answer change seen while polling (ms since the signal). */
  changes: { name: string; answer: string; atMs: number }[];
}

export interface StandinReport {
  hosts: StandinHost[];
  rounds: number;
  pollMs: number;
  /** What outlast provisioned (read back from the stand-ins) and the schedule the bench simulates. */
  route53?: {
    name: string;
    requestIntervalSeconds: number;
    failureThreshold: number;
    /** The stand-in looks for due checks every this many ms (route53-health.ts). */
    tickMs: number;
    /** Connected, no status within this: a failed check (route53-health.ts, Route 53's documented 2 s). */
    answerTimeoutMs: number;
    checks: string[];
  };
  dnsmadeeasy?: {
    name: string;
    /** The assumed time between two check rounds (--dme-interval). */
    intervalMs: number;
    sensitivity: number;
    /** The stand-in's probe timeout (dnsmadeeasy.ts). */
    probeTimeoutMs: number;
    monitor: Record<string, unknown>;
  };
  events: StandinEvent[];
  /** Every `outlast dns apply` per host, with the API requests it made. */
  applies: Partial<Record<StandinHost, NativeApplyRun[]>>;
  /** Requests each stand-in says the real service would refuse (expected: none). */
  violations: Partial<Record<StandinHost, string[]>>;
  notes: string[];
}

/**
 * What the simulated schedule allows, [best, worst] seconds. Route 53 (stand-in): the first of
 * FailureThreshold failed checks comes 0 to RequestInterval (+ the stand-in's tick) after the
 * failure, the others every RequestInterval; a hung origin fails a check at the answer timeout.
 * DNS Made Easy (stand-in): the same with the assumed interval and `sensitivity` checks.
 */
export function standinModel(host: StandinHost, scenario: Scenario, s: StandinReport): [number, number] {
  if (host === 'route53') {
    const r = s.route53!;
    const interval = r.requestIntervalSeconds * 1000;
    const best = (r.failureThreshold - 1) * interval + (scenario === 'hung' ? r.answerTimeoutMs : 0);
    return [best / 1000, (best + interval + r.tickMs) / 1000];
  }
  const d = s.dnsmadeeasy!;
  const best = (d.sensitivity - 1) * d.intervalMs + (scenario === 'hung' ? d.probeTimeoutMs : 0);
  return [best / 1000, (best + d.intervalMs) / 1000];
}

/** The settings a stand-in row is labelled with: what outlast provisioned, and the simulated pace. */
export function standinSettings(host: StandinHost, s: StandinReport): string {
  if (host === 'route53') {
    const r = s.route53!;
    return `failover: native; stand-in's checkers at Route 53's pace: RequestInterval ${r.requestIntervalSeconds} s, FailureThreshold ${r.failureThreshold} (its fastest), one vantage point; answer by TestDNSAnswer every ${s.pollMs} ms`;
  }
  const d = s.dnsmadeeasy!;
  return `failover: native; sensitivity ${d.sensitivity} (High, its fastest); check rounds every ${d.intervalMs / 1000} s: ASSUMED (documented "2 to 4-minute monitoring window", not settable; --dme-interval); one vantage point; its evaluated answer every ${s.pollMs} ms`;
}

export interface FailoverReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; node: string; pdns: string };
  settings: Record<string, unknown>;
  events: EventMeasurement[];
  counts: CountMeasurement[];
  /** Every `outlast dns apply` of the native contestant, with the API requests it made. */
  nativeApply: NativeApplyRun[];
  /** Route 53 and DNS Made Easy, simulated by the stand-ins (absent with --hosts pdns). */
  standins?: StandinReport;
  notes: string[];
}

export interface Stats {
  n: number;
  failed: number;
  min: number | undefined;
  median: number | undefined;
  max: number | undefined;
}

export function stats(values: (number | undefined)[]): Stats {
  const ok = values.filter((value): value is number => value !== undefined).sort((a, b) => a - b);
  const median =
    ok.length === 0
      ? undefined
      : ok.length % 2 === 1
        ? ok[(ok.length - 1) / 2]
        : (ok[ok.length / 2 - 1]! + ok[ok.length / 2]!) / 2;
  return { n: ok.length, failed: values.length - ok.length, min: ok[0], median, max: ok.at(-1) };
}

const fmt = (value: number | undefined, digits = 2) => (value === undefined ? '—' : value.toFixed(digits));

/** The targets the table compares against (seconds). */
export const TARGETS: Record<Scenario, { seconds: number; text: string }> = {
  refused: { seconds: 1.5, text: 'connection refused → DNS changed within 1.5 s (fall 3)' },
  hung: { seconds: 3.5, text: 'hung origin, 1 s timeout → DNS changed within 3.5 s' },
};

/**
 * What outlast's schedule allows (see README): [best, worst] seconds before the DNS write.
 * src/health/engine.ts: the first failure ends `per` after the phase (0 refused, the timeout hung);
 * the first retry starts once it ended and `retryInterval` after its start; later retries start
 * every `retryInterval`, start to start, in flight or not (at most `fall` at once); the last one
 * fails `per` after its start. Refused: (fall − 1) × 100 ms (REFUSED_RETRY_MS); hung with retryInterval below
 * the timeout: 2 × timeout + (fall − 2) × retryInterval; plus the phase, 0 to `interval`.
 */
export function outlastModel(
  scenario: Scenario,
  h: { intervalMs: number; timeoutMs: number; retryMs: number; fall: number },
): [number, number] {
  const per = scenario === 'refused' ? 0 : h.timeoutMs;
  // A refused connection is retried after REFUSED_RETRY_MS, not retryInterval.
  const retryMs = scenario === 'refused' ? Math.min(REFUSED_RETRY_MS, h.retryMs) : h.retryMs;
  const best = h.fall < 2 ? per : Math.max(retryMs, per) + (h.fall - 2) * retryMs + per;
  return [best / 1000, (best + h.intervalMs) / 1000];
}

export interface Row {
  scenario: Scenario;
  system: string;
  config: string;
  stats: Stats;
  model: string;
  loads: string;
  foreign: string;
}

export function rows(
  report: FailoverReport,
  health: { intervalMs: number; timeoutMs: number; fall: number },
  luaTimeoutMs: number,
  luaIntervalMs: number,
): Row[] {
  const out: Row[] = [];
  const retries = [...new Set(report.events.map((event) => event.retryIntervalMs))];
  const describe = (events: Array<{ loadBefore: string; foreignCores: number }>) => {
    const loads = events.map((event) => Number(event.loadBefore.split(' ')[0]));
    const foreign = events.map((event) => event.foreignCores);
    return {
      loads: loads.length ? `${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}` : '—',
      foreign: foreign.length ? `${Math.max(...foreign).toFixed(2)}` : '—',
    };
  };
  for (const scenario of ['refused', 'hung'] as Scenario[]) {
    const used = report.events.filter((event) => event.used && event.scenario === scenario);
    for (const retryMs of retries) {
      const events = used.filter((event) => event.retryIntervalMs === retryMs);
      const [best, worst] = outlastModel(scenario, { ...health, retryMs });
      out.push({
        scenario,
        system: 'outlast watcher',
        config: `interval ${health.intervalMs / 1000}s, timeout ${health.timeoutMs / 1000}s, retryInterval ${retryMs}ms, fall ${health.fall}`,
        stats: stats(events.map((event) => event.outlastSeconds)),
        model: `${best.toFixed(2)}–${worst.toFixed(2)} + write`,
        ...describe(events),
      });
    }
    // PowerDNS's rows only when it was measured (--hosts without pdns skips it).
    if (report.events.length > 0) {
      const luaBest = scenario === 'refused' ? 0 : luaTimeoutMs / 1000;
      const luaModel = `${luaBest.toFixed(2)}–${(luaBest + luaIntervalMs / 1000).toFixed(2)}`;
      out.push({
        scenario,
        system: 'PowerDNS LUA, hand-written (ifurlextup)',
        config: `lua-health-checks-interval ${luaIntervalMs / 1000}s, timeout ${luaTimeoutMs / 1000}s, no threshold (all rounds)`,
        stats: stats(used.map((event) => event.luaSeconds)),
        model: luaModel,
        ...describe(used),
      });
      out.push({
        scenario,
        system: 'outlast native (PowerDNS LUA by outlast dns apply)',
        config: `failover: native, two release tiers, lua-health-checks-interval ${luaIntervalMs / 1000}s, timeout ${luaTimeoutMs / 1000}s (from health.timeout), no threshold (all rounds)`,
        stats: stats(used.map((event) => event.nativeSeconds)),
        model: luaModel,
        ...describe(used),
      });
    }
    const standins = report.standins;
    for (const host of standins?.hosts ?? []) {
      const events = standins!.events.filter((event) => event.scenario === scenario);
      const [best, worst] = standinModel(host, scenario, standins!);
      out.push({
        scenario,
        system: `${STANDIN_LABELS[host]}: outlast native`,
        config: standinSettings(host, standins!),
        stats: stats(events.map((event) => event.seconds[host] ?? undefined)),
        model: `${best.toFixed(2)}–${worst.toFixed(2)} (simulated schedule)`,
        ...describe(events),
      });
    }
  }
  return out;
}

export function markdown(
  report: FailoverReport,
  table: Row[],
  extra: { title: string; intro: string[] },
): string {
  const lines: string[] = [`# ${extra.title}`, '', ...extra.intro, ''];
  lines.push(
    '## Time to move DNS (seconds from the signal to the first DNS reply with origin b)',
    '',
    '| scenario | system | settings | n | min | median | max | target | meets target (max) | schedule allows | load avg (1 min) | max foreign CPU (cores) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of table) {
    const target = TARGETS[row.scenario];
    const meets =
      row.stats.max === undefined
        ? 'no data'
        : row.stats.failed > 0
          ? `no (${row.stats.failed} never moved)`
          : row.stats.max <= target.seconds
            ? 'yes'
            : row.stats.median !== undefined && row.stats.median <= target.seconds
              ? 'median only'
              : 'no';
    lines.push(
      `| ${row.scenario} | ${row.system} | ${row.config} | ${row.stats.n} | ${fmt(row.stats.min)} | ${fmt(row.stats.median)} | ${fmt(row.stats.max)} | ≤ ${target.seconds} s | ${meets} | ${row.model} | ${row.loads} | ${row.foreign} |`,
    );
  }
  lines.push('', 'Targets:', ...Object.values(TARGETS).map((target) => `- ${target.text}`), '');
  if (report.standins)
    lines.push(
      'The rows marked "stand-in, simulated" come from stand-ins, not from Route 53 or DNS Made Easy: the stand-in probes the origins here with the host\'s documented semantics at the pace stated in the row, from one vantage point, and answers at once; the real services add their checkers\' aggregation and the propagation to their name servers (see "Stand-in hosts").',
      '',
    );
  if (report.counts.length > 0) lines.push(...countsSection(report));
  if (report.events.length > 0) lines.push(...eventsSection(report));
  if (report.nativeApply.length > 0)
    lines.push(...nativeApplySection(report.nativeApply, 'the PowerDNS API', 'PowerDNS'));
  if (report.standins) lines.push(...standinSection(report.standins));
  if (report.notes.length > 0) lines.push('## Notes', '', ...report.notes.map((note) => `- ${note}`), '');
  lines.push(
    `Command: \`${report.command}\` — started ${report.startedAt}, finished ${report.finishedAt}; ${report.machine.cpus} CPUs, Node ${report.machine.node}, ${report.machine.pdns}.`,
    '',
  );
  return lines.join('\n');
}

function countsSection(report: FailoverReport): string[] {
  const lines: string[] = [];
  lines.push(
    '## No flap, no needless write',
    '',
    '| scenario | outlast retryInterval | attempt | seconds | outlast DNS writes (window / +5 s after) | lastWriteAt changes | outlast health transitions of a | www answer changes (outlast watcher) | lua answer changes (PowerDNS LUA) | native answer changes (outlast native) | a down / up per cycle (ms, mean) | load avg before → after | foreign CPU (cores) | used |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const count of report.counts) {
    const mean = (values: number[] | undefined) =>
      values && values.length > 0
        ? Math.round(values.reduce((sum, value) => sum + value, 0) / values.length).toString()
        : '—';
    const cycles = count.downMs
      ? `${mean(count.downMs)} / ${mean(count.upMs)} (${count.downMs.length} cycles)`
      : '—';
    lines.push(
      `| ${count.scenario} | ${count.retryIntervalMs} ms | ${count.attempt} | ${count.seconds.toFixed(0)} | ${count.outlastWrites} / ${count.outlastWritesAfter} | ${count.lastWriteAtChanges} | ${count.outlastHealthTransitions} | ${count.wwwAnswerChanges} | ${count.luaAnswerChanges} | ${count.nativeAnswerChanges} | ${cycles} | ${count.loadBefore} → ${count.loadAfter} | ${count.foreignCores.toFixed(2)}${count.disturbed ? ' (disturbed)' : ''} | ${count.used ? 'yes' : 'no'} |`,
    );
  }
  lines.push('');
  return lines;
}

function eventsSection(report: FailoverReport): string[] {
  const lines: string[] = [];
  lines.push(
    '## Every measurement',
    '',
    '| scenario | retryInterval | round | attempt | outlast watcher s | outlast: a down verdict / write done (ms) | PowerDNS LUA s | outlast native s | random wait ms | load avg before → after | foreign CPU (cores) | used |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const event of report.events) {
    lines.push(
      `| ${event.scenario} | ${event.retryIntervalMs} ms | ${event.round} | ${event.attempt} | ${fmt(event.outlastSeconds, 3)} | ${event.outlastDownAtMs ?? '—'} / ${event.outlastWriteAtMs ?? '—'} | ${fmt(event.luaSeconds, 3)} | ${fmt(event.nativeSeconds, 3)} | ${event.phaseMs} | ${event.loadBefore} → ${event.loadAfter} | ${event.foreignCores.toFixed(2)}${event.disturbed ? ' (disturbed)' : ''} | ${event.used ? 'yes' : 'no'} |`,
    );
  }
  lines.push('');
  return lines;
}

/** The stand-in hosts: what outlast provisioned, every measurement, the applies' requests. */
function standinSection(s: StandinReport): string[] {
  const lines: string[] = ['## Stand-in hosts (simulated)', ''];
  if (s.route53) {
    lines.push(
      `**${STANDIN_LABELS.route53}**, \`${s.route53.name}\`: the health checks outlast created (read back from the stand-in), probed by the stand-in every RequestInterval (${s.route53.requestIntervalSeconds} s; it looks for due checks every ${s.route53.tickMs} ms), healthy/unhealthy after FailureThreshold (${s.route53.failureThreshold}) results in a row; a connected origin that sends no status within ${s.route53.answerTimeoutMs / 1000} s fails:`,
      '',
      ...s.route53.checks.map((check) => `- ${check}`),
      '',
    );
  }
  if (s.dnsmadeeasy) {
    const m = s.dnsmadeeasy.monitor;
    lines.push(
      `**${STANDIN_LABELS.dnsmadeeasy}**, \`${s.dnsmadeeasy.name}\`: the monitor outlast PUT (read back): ip1 ${m.ip1}, ip2 ${m.ip2}, protocolId ${m.protocolId}, port ${m.port}, httpFqdn ${m.httpFqdn}, httpFile ${m.httpFile}, httpQueryString \`${m.httpQueryString}\`, sensitivity ${m.sensitivity}, autoFailover ${m.autoFailover}. The bench runs the stand-in's check rounds every ${s.dnsmadeeasy.intervalMs / 1000} s (ASSUMED: DNS Made Easy documents a 2 to 4-minute monitoring window and no setting; \`--dme-interval\`); an ip fails over after ${m.sensitivity} failed rounds in a row; a probe fails after ${s.dnsmadeeasy.probeTimeoutMs / 1000} s without an answer.`,
      '',
    );
  }
  const hosts = s.hosts;
  lines.push(
    `Every measurement (seconds from the signal to the first answer with origin b; the host's checks of origin a after the signal, as seconds from the signal to the check's start: its result):`,
    '',
    `| scenario | round | ${hosts.map((host) => `${STANDIN_LABELS[host]} s | its checks of a`).join(' | ')} | quiet wait ms | random wait ms | DNS Made Easy's next round after the signal (ms) | load avg before → after | foreign CPU (cores) |`,
    `|---|---|${hosts.map(() => '---|---|').join('')}---|---|---|---|---|`,
  );
  for (const event of s.events) {
    const cells = hosts.map((host) => {
      const seconds = event.seconds[host];
      const checks = (event.checksOfA[host] ?? [])
        .map((check) => `${(check.atMs / 1000).toFixed(2)}: ${check.result}`)
        .join('<br>');
      return `${seconds === null || seconds === undefined ? 'never' : seconds.toFixed(3)} | ${checks || '—'}`;
    });
    lines.push(
      `| ${event.scenario} | ${event.round} | ${cells.join(' | ')} | ${event.quietWaitMs} | ${event.waitMs} | ${event.dmeNextRoundMs ?? '—'} | ${event.loadBefore} → ${event.loadAfter} | ${event.foreignCores.toFixed(2)}${event.disturbed ? ' (disturbed)' : ''} |`,
    );
  }
  lines.push('');
  for (const host of hosts) {
    const label = host === 'route53' ? 'Route 53' : 'DNS Made Easy';
    lines.push(
      ...nativeApplySection(s.applies[host] ?? [], `the ${STANDIN_LABELS[host]} API`, label).map((line) =>
        line.startsWith('## ') ? `#${line}` : line,
      ),
    );
    const violations = s.violations[host] ?? [];
    lines.push(
      `Requests the ${label} stand-in says the real service would refuse: ${violations.length === 0 ? 'none' : violations.join('; ')}.`,
      '',
    );
  }
  if (s.notes.length > 0) lines.push(...s.notes.map((note) => `- ${note}`), '');
  return lines;
}

/** The requests each `outlast dns apply` made to a host's API (target when nothing changed: reads only). */
function nativeApplySection(runs: NativeApplyRun[], api: string, host: string): string[] {
  const lines = [
    `## \`outlast dns apply\`: requests to ${api}`,
    '',
    '| run | exit | ms | changes reported | requests | of which writes | method path → status |',
    '|---|---|---|---|---|---|---|',
  ];
  for (const run of runs) {
    const requests = run.requests.map((item) => `${item.method} ${item.path} → ${item.status}`).join('<br>');
    lines.push(
      `| ${run.label} | ${run.exitCode} | ${run.ms} | ${run.changes.length === 0 ? 'none' : run.changes.join('; ')} | ${run.requests.length} | ${run.writes} | ${requests || '—'} |`,
    );
  }
  const again = runs.filter((run) => run.label !== 'first');
  if (again.length > 0) {
    const readsOnly = again.every(
      (run) => run.writes === 0 && run.changes.length === 0 && run.exitCode === 0,
    );
    lines.push(
      '',
      `Nothing changed (every run after the first): ${readsOnly ? 'reads only, target met' : 'NOT reads only'}.`,
    );
  }
  const notes = runs[0]?.notes ?? [];
  if (notes.length > 0)
    lines.push(
      '',
      `What the plan says ${host} rounds or cannot express:`,
      ...notes.map((note) => `- ${note}`),
    );
  for (const run of runs) {
    if (run.output)
      lines.push(
        '',
        `Output of \`${run.label}\` (exit ${run.exitCode}):`,
        '',
        '```',
        run.output.trim(),
        '```',
      );
  }
  lines.push('');
  return lines;
}
