/** The cluster bench's measurements (the JSON), statistics and the Markdown report. */
import type { TrafficCounts } from './proxy.ts';

export type Scenario = 'refused' | 'hung';

interface Load {
  loadBefore: string;
  loadAfter: string;
  /** Cores' worth of CPU other processes used meanwhile (see bench/failover/cpu.ts). */
  foreignCores: number;
  disturbed: boolean;
}

/** One failure of origin a, seen by the lone watcher and by the cluster at once. */
export interface FailoverEvent extends Load {
  scenario: Scenario;
  round: number;
  attempt: number;
  phaseMs: number;
  quietWaitMs: number;
  /** Seconds from the signal to the first DNS reply naming b (undefined: not within the limit). */
  loneSeconds: number | undefined;
  clusterSeconds: number | undefined;
  /** From the lone watcher's timeline (ms since the signal): its down verdict and its DNS write. */
  lone: { downAtMs?: number; writeAtMs?: number };
  /** From the cluster's timelines: each watcher's own view, the leader's quorum verdict and write. */
  cluster: {
    leader?: string;
    viewsAtMs: Record<string, number | undefined>;
    verdictAtMs?: number;
    writeAtMs?: number;
  };
  used: boolean;
}

export interface HandoverMeasurement extends Load {
  index: number;
  killed: string;
  phaseMs: number;
  quietWaitMs: number;
  /** The first survivor whose /status said it leads, and when (ms since the SIGKILL). */
  next?: string;
  leadMs?: number;
  /** When both survivors named that leader. */
  agreedMs?: number;
  /** PowerDNS's SOA serial of the cluster's zone before the kill and after the new leader settled. */
  serialBefore: number;
  serialAfter: number;
  /** The cluster zone's API requests in PowerDNS's log over the same span, by method. */
  requests: Record<string, number>;
  /** `dns` events on the new leader's timeline since the kill. */
  dnsEvents: number;
  /** The killed watcher started again: until the leader counts 3 watchers (ms), and what that wrote. */
  rejoinMs?: number;
  rejoinSerialDelta: number;
  rejoinRequests: Record<string, number>;
}

export interface WatcherCost {
  id: string;
  role: 'lone' | 'leader' | 'follower';
  cpuSeconds: number;
  cpuSecondsPerMinute: number;
  /** The same per slice of the window (about 10 s each). */
  sliceCpuSecondsPerMinute: number[];
  traffic?: TrafficCounts;
}

export interface SteadyMeasurement extends Load {
  seconds: number;
  leaderAtStart?: string;
  leaderAtEnd?: string;
  watchers: WatcherCost[];
  etcdCpuSecondsPerMinute: number;
  pdnsCpuSecondsPerMinute: number;
  /** SOA serial changes of each zone during the window (expected 0). */
  serialDeltas: { lone: number; cluster: number };
  /** Each zone's API requests in PowerDNS's log during the window, by method. */
  dnsRequests: { lone: Record<string, number>; cluster: Record<string, number> };
  /** etcd's counters over the window, summed over its members. */
  etcd: {
    members: number;
    msgReceivedByMethod: Record<string, number>;
    handledByMethod: Record<string, number>;
    startedByMethod: Record<string, number>;
    kv: Record<string, { metric: string; value: number } | undefined>;
    scrapeErrors: string[];
  };
}

export interface ClusterReport {
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; node: string; pdns: string; etcd: string; build: string };
  settings: {
    rounds: number;
    handovers: number;
    steadySeconds: number;
    health: { interval: string; timeout: string; fall: number; rise: number; retryInterval: string };
    holdDown: string;
    ttl: number;
    quorum: number;
    leaseTtlMs: number;
    pollMs: number;
    statusPollMs: number;
    maxForeignCores: number;
    retriesOfDisturbed: number;
    quietWaitSeconds: number;
  };
  events: FailoverEvent[];
  handovers: HandoverMeasurement[];
  steady?: SteadyMeasurement;
  notes: string[];
}

export function median(values: number[]): number | undefined {
  if (values.length === 0) return undefined;
  const sorted = [...values].sort((x, y) => x - y);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const min = (values: number[]) => (values.length === 0 ? undefined : Math.min(...values));
const max = (values: number[]) => (values.length === 0 ? undefined : Math.max(...values));
const s2 = (value: number | undefined) => (value === undefined ? '–' : value.toFixed(2));
const signed = (value: number | undefined) =>
  value === undefined ? '–' : `${value >= 0 ? '+' : '−'}${Math.abs(value).toFixed(2)}`;
const ms0 = (value: number | undefined) => (value === undefined ? '–' : String(Math.round(value)));
const yes = (ok: boolean | undefined) => (ok === undefined ? 'n/a' : ok ? 'yes' : '**no**');
const defined = (values: (number | undefined)[]) => values.filter((v): v is number => v !== undefined);

export const TARGETS: Record<Scenario, number> = { refused: 1.5, hung: 3.5 };

export interface FailoverRow {
  scenario: Scenario;
  setup: 'one watcher' | 'three watchers, quorum 2';
  n: number;
  never: number;
  min?: number;
  median?: number;
  max?: number;
  disturbed: number;
}

export function failoverRows(report: ClusterReport): FailoverRow[] {
  const rows: FailoverRow[] = [];
  for (const scenario of ['refused', 'hung'] as const) {
    const used = report.events.filter((event) => event.used && event.scenario === scenario);
    for (const setup of ['one watcher', 'three watchers, quorum 2'] as const) {
      const values = used.map((event) =>
        setup === 'one watcher' ? event.loneSeconds : event.clusterSeconds,
      );
      const got = defined(values);
      rows.push({
        scenario,
        setup,
        n: used.length,
        never: values.length - got.length,
        min: min(got),
        median: median(got),
        max: max(got),
        disturbed: used.filter((event) => event.disturbed).length,
      });
    }
  }
  return rows;
}

/** Per used event, cluster − lone (s). */
function pairedDiffs(report: ClusterReport, scenario: Scenario): number[] {
  return report.events
    .filter((event) => event.used && event.scenario === scenario)
    .flatMap((event) =>
      event.loneSeconds !== undefined && event.clusterSeconds !== undefined
        ? [event.clusterSeconds - event.loneSeconds]
        : [],
    );
}

export interface Verdicts {
  lone: Record<Scenario, { median?: boolean; max?: boolean }>;
  clusterExtra: Record<
    Scenario,
    { medianDiff?: number; pairedMedian?: number; pairedMax?: number; met?: boolean }
  >;
  handover: { median?: number; max?: number; writes: number; patches: number; met: boolean };
}

export function verdicts(report: ClusterReport, rows: FailoverRow[]): Verdicts {
  const renewal = report.settings.leaseTtlMs / 3 / 1000;
  const row = (scenario: Scenario, setup: FailoverRow['setup']) =>
    rows.find((item) => item.scenario === scenario && item.setup === setup)!;
  const lone = {} as Verdicts['lone'];
  const clusterExtra = {} as Verdicts['clusterExtra'];
  for (const scenario of ['refused', 'hung'] as const) {
    const one = row(scenario, 'one watcher');
    const three = row(scenario, 'three watchers, quorum 2');
    const allMoved = one.never === 0;
    lone[scenario] = {
      ...(one.median === undefined ? {} : { median: allMoved && one.median <= TARGETS[scenario] }),
      ...(one.max === undefined ? {} : { max: allMoved && one.max <= TARGETS[scenario] }),
    };
    const diffs = pairedDiffs(report, scenario);
    const medianDiff =
      one.median === undefined || three.median === undefined ? undefined : three.median - one.median;
    clusterExtra[scenario] = {
      ...(medianDiff === undefined ? {} : { medianDiff, met: three.never === 0 && medianDiff <= renewal }),
      ...(diffs.length === 0 ? {} : { pairedMedian: median(diffs), pairedMax: max(diffs) }),
    };
  }
  const leads = defined(report.handovers.map((item) => item.leadMs));
  const writes = report.handovers.reduce((sum, item) => sum + (item.serialAfter - item.serialBefore), 0);
  const patches = report.handovers.reduce((sum, item) => sum + (item.requests.PATCH ?? 0), 0);
  return {
    lone,
    clusterExtra,
    handover: {
      ...(leads.length === 0 ? {} : { median: median(leads), max: max(leads) }),
      writes,
      patches,
      met: report.handovers.length > 0 && writes === 0 && patches === 0,
    },
  };
}

export function fmtRequests(requests: Record<string, number>): string {
  const entries = Object.entries(requests).filter(([, count]) => count > 0);
  return entries.length === 0 ? '0' : entries.map(([method, count]) => `${count} ${method}`).join(', ');
}

const perSecond = (value: number, seconds: number) => (seconds > 0 ? value / seconds : 0);
const kb = (bytes: number) => (bytes / 1024).toFixed(2);

export function markdown(report: ClusterReport): string {
  const rows = failoverRows(report);
  const v = verdicts(report, rows);
  const st = report.settings;
  const renewalMs = Math.round(st.leaseTtlMs / 3);
  const lines: string[] = [];
  const push = (...more: string[]) => lines.push(...more);
  push(
    '# outlast cluster bench (issue 13)',
    '',
    `${report.startedAt} → ${report.finishedAt}; \`${report.command}\``,
    '',
    '## Setup',
    '',
    `- Machine: ${report.machine.cpus} cores, Node ${report.machine.node}, ${report.machine.pdns}, ${report.machine.etcd} (3 members on 127.0.0.1, tmpfs).`,
    `- outlast: ${report.machine.build}`,
    `- Two origins, each an \`outlast serve\` child process (a on 127.0.0.2, b on 127.0.0.3); failures: SIGKILL of a (refused) or SIGSTOP of a (hung).`,
    `- **One watcher**: \`outlast watch\` (child process), no cluster, writing \`www.lone.test\` A. **Three watchers**: \`outlast watch\` ×3 (w1–w3) with \`watch.cluster\` (quorum ${st.quorum}, leaseTtl ${st.leaseTtlMs / 1000}s) on the real etcd, writing \`www.cluster.test\` A; each watcher reaches each etcd member through a counting TCP proxy of its own. All four probe the same two origins and write the same PowerDNS (zones lone.test, cluster.test), all run during the whole bench.`,
    `- Health: interval ${st.health.interval}, timeout ${st.health.timeout}, fall ${st.health.fall}, rise ${st.health.rise}, retryInterval ${st.health.retryInterval} (default); failover priority, failback auto, holdDown ${st.holdDown}; ttl ${st.ttl}.`,
    `- Failover time: signal at t0, then both names are asked over UDP every ${st.pollMs} ms; time = the first reply naming b. Random 0–1000 ms before each signal. ${st.rounds} rounds per scenario, disturbed measurements (other processes > ${st.maxForeignCores} cores) repeated up to ${st.retriesOfDisturbed} times.`,
    `- Handover: SIGKILL of the agreed leader (after a random 0–${renewalMs} ms), the two others' /status polled every ${st.statusPollMs} ms; ${st.handovers} times, the killed one restarted after each.`,
    '',
    '## 1. Failover time (s, kill → first DNS reply naming b)',
    '',
    '| scenario | watchers | n | min | median | max | target | median ≤ target | max ≤ target | disturbed used |',
    '|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const row of rows) {
    const lone = row.setup === 'one watcher';
    const target = lone
      ? `≤ ${TARGETS[row.scenario]} s`
      : `≤ one watcher + ${(renewalMs / 1000).toFixed(3)} s (leaseTtl/3)`;
    const met = lone
      ? [yes(v.lone[row.scenario].median), yes(v.lone[row.scenario].max)]
      : [
          `${yes(v.clusterExtra[row.scenario].met)} (median ${signed(v.clusterExtra[row.scenario].medianDiff)} s)`,
          '–',
        ];
    push(
      `| ${row.scenario} | ${row.setup} | ${row.n}${row.never ? ` (${row.never} never)` : ''} | ${s2(row.min)} | ${s2(row.median)} | ${s2(row.max)} | ${target} | ${met[0]} | ${met[1]} | ${row.disturbed} |`,
    );
  }
  push(
    '',
    `Cluster − one watcher, paired by failure (s): refused median ${signed(v.clusterExtra.refused.pairedMedian)}, max ${signed(v.clusterExtra.refused.pairedMax)}; hung median ${signed(v.clusterExtra.hung.pairedMedian)}, max ${signed(v.clusterExtra.hung.pairedMax)}.`,
    '',
    'Every failure (ms since the signal; lone: down verdict / DNS write done; cluster: each watcher\'s own "sees a down", the leader\'s quorum verdict, its write):',
    '',
    '| scenario | round.attempt | phase ms | one watcher s | cluster s | lone verdict / write | views w1 / w2 / w3 | leader | quorum verdict / write | load before → after | foreign cores | used |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const event of report.events) {
    const views = ['w1', 'w2', 'w3'].map((id) => ms0(event.cluster.viewsAtMs[id])).join(' / ');
    push(
      `| ${event.scenario} | ${event.round}.${event.attempt} | ${event.phaseMs} | ${s2(event.loneSeconds)} | ${s2(event.clusterSeconds)} | ${ms0(event.lone.downAtMs)} / ${ms0(event.lone.writeAtMs)} | ${views} | ${event.cluster.leader ?? '–'} | ${ms0(event.cluster.verdictAtMs)} / ${ms0(event.cluster.writeAtMs)} | ${event.loadBefore} → ${event.loadAfter} | ${event.foreignCores.toFixed(2)}${event.disturbed ? ' DISTURBED' : ''} | ${event.used ? 'yes' : ''} |`,
    );
  }

  const hs = report.handovers;
  const leads = defined(hs.map((item) => item.leadMs));
  const agreed = defined(hs.map((item) => item.agreedMs));
  const quiet = defined(hs.filter((item) => !item.disturbed).map((item) => item.leadMs));
  push(
    '',
    `## 2. Leader handover after a SIGKILL (${hs.length} times)`,
    '',
    '| measure | n | min | median | max |',
    '|---|---|---|---|---|',
    `| kill → a survivor's /status says it leads (ms) | ${leads.length}${leads.length < hs.length ? ` (${hs.length - leads.length} never)` : ''} | ${ms0(min(leads))} | ${ms0(median(leads))} | ${ms0(max(leads))} |`,
    `| … the quiet ones only (foreign ≤ ${st.maxForeignCores} cores) | ${quiet.length} | ${ms0(min(quiet))} | ${ms0(median(quiet))} | ${ms0(max(quiet))} |`,
    `| kill → both survivors name the new leader (ms) | ${agreed.length} | ${ms0(min(agreed))} | ${ms0(median(agreed))} | ${ms0(max(agreed))} |`,
    '',
    `**DNS writes made by the handovers: ${v.handover.writes} SOA serial changes, ${v.handover.patches} PATCH requests to the cluster's zone in PowerDNS's API log** (target 0: ${v.handover.met ? 'met' : '**not met**'}). Restarting the killed watcher (it rejoins as a follower) wrote ${hs.reduce((sum, item) => sum + item.rejoinSerialDelta, 0)} serial changes / ${hs.reduce((sum, item) => sum + (item.rejoinRequests.PATCH ?? 0), 0)} PATCHes.`,
    '',
    '| # | killed | next | leads ms | agreed ms | phase ms | serial before → after | API requests (cluster zone) | new leader dns events | rejoin ms | rejoin serial Δ / requests | load before → after | foreign cores |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const item of hs) {
    push(
      `| ${item.index} | ${item.killed} | ${item.next ?? '–'} | ${ms0(item.leadMs)} | ${ms0(item.agreedMs)} | ${item.phaseMs} | ${item.serialBefore} → ${item.serialAfter} | ${fmtRequests(item.requests)} | ${item.dnsEvents} | ${ms0(item.rejoinMs)} | ${item.rejoinSerialDelta} / ${fmtRequests(item.rejoinRequests)} | ${item.loadBefore} → ${item.loadAfter} | ${item.foreignCores.toFixed(2)}${item.disturbed ? ' DISTURBED' : ''} |`,
    );
  }

  const steady = report.steady;
  push('', '## 3. Cost per watcher at interval 1s (steady, nothing failing)', '');
  if (!steady) {
    push('Not measured (`--steady-seconds 0`).');
  } else {
    const lone = steady.watchers.find((item) => item.role === 'lone');
    const members = steady.watchers.filter((item) => item.role !== 'lone');
    const meanMember =
      members.length === 0
        ? undefined
        : members.reduce((sum, item) => sum + item.cpuSecondsPerMinute, 0) / members.length;
    push(
      `${steady.seconds.toFixed(1)} s window; leader ${steady.leaderAtStart ?? '?'} at the start, ${steady.leaderAtEnd ?? '?'} at the end; load ${steady.loadBefore} → ${steady.loadAfter}, foreign ${steady.foreignCores.toFixed(2)} cores${steady.disturbed ? ' (DISTURBED: the CPU seconds a process uses change little with contention, the timers can)' : ''}. SOA serial changes meanwhile: lone ${steady.serialDeltas.lone}, cluster ${steady.serialDeltas.cluster}; PowerDNS API requests: lone ${fmtRequests(steady.dnsRequests.lone)}, cluster ${fmtRequests(steady.dnsRequests.cluster)}.`,
      '',
      '| watcher | role | CPU s in window | CPU s per minute | per ~10 s slice, min–max (s/min) | extra vs one watcher (s/min) | etcd bytes/s up / down | connections (new / open) | gRPC calls/s | gRPC messages/s up / down | HTTP/2 PINGs/s |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
    );
    for (const item of steady.watchers) {
      const extra =
        lone && item.role !== 'lone' ? (item.cpuSecondsPerMinute - lone.cpuSecondsPerMinute).toFixed(3) : '–';
      const t = item.traffic;
      const traffic = t
        ? `${perSecond(t.bytesUp, steady.seconds).toFixed(0)} / ${perSecond(t.bytesDown, steady.seconds).toFixed(0)} | ${t.connections} / ${t.open} | ${perSecond(t.streams, steady.seconds).toFixed(2)} | ${perSecond(t.messagesUp, steady.seconds).toFixed(2)} / ${perSecond(t.messagesDown, steady.seconds).toFixed(2)} | ${perSecond(t.pingsUp, steady.seconds).toFixed(2)}`
        : '– | – | – | – | –';
      push(
        `| ${item.id} | ${item.role} | ${item.cpuSeconds.toFixed(2)} | ${item.cpuSecondsPerMinute.toFixed(3)} | ${s2(min(item.sliceCpuSecondsPerMinute))}–${s2(max(item.sliceCpuSecondsPerMinute))} | ${extra} | ${traffic} |`,
      );
    }
    if (lone && meanMember !== undefined) {
      push(
        '',
        `**Extra CPU of a cluster watcher: ${(meanMember - lone.cpuSecondsPerMinute).toFixed(3)} CPU s per minute** (mean of the three, ${meanMember.toFixed(3)} s/min, minus the lone watcher's ${lone.cpuSecondsPerMinute.toFixed(3)} s/min; CPU ticks are 10 ms, so ±${((0.01 * 60) / steady.seconds).toFixed(3)} s/min per reading). etcd's three members used ${steady.etcdCpuSecondsPerMinute.toFixed(2)} CPU s per minute together (raft heartbeats every 100 ms included), PowerDNS ${steady.pdnsCpuSecondsPerMinute.toFixed(2)}.`,
      );
    }
    const traffics = members.flatMap((item) => (item.traffic ? [item.traffic] : []));
    if (traffics.length > 0) {
      const mean = (pick: (t: TrafficCounts) => number) =>
        traffics.reduce((sum, t) => sum + pick(t), 0) / traffics.length / steady.seconds;
      push(
        '',
        `**etcd traffic per watcher** (mean of the three): ${kb(mean((t) => t.bytesUp + t.bytesDown) * 60)} KiB per minute (${mean((t) => t.bytesUp).toFixed(0)} B/s up, ${mean((t) => t.bytesDown).toFixed(0)} B/s down), ${mean((t) => t.streams).toFixed(2)} gRPC calls/s opened and ${mean((t) => t.messagesUp).toFixed(2)} request messages/s (unary requests + messages on streams such as lease keepalives), counted by the proxies from the HTTP/2 frames. Unparsed frames: ${traffics.reduce((sum, t) => sum + t.unparsed, 0)}.`,
      );
    }
    const e = steady.etcd;
    const methods = Object.entries(e.msgReceivedByMethod)
      .filter(([, count]) => count > 0)
      .sort((x, y) => y[1] - x[1]);
    push(
      '',
      `etcd's own counters over the window (sum over the members, all three watchers together; ÷3 per watcher):`,
      '',
      '| gRPC method | messages received | per s | per s per watcher | calls started | calls handled |',
      '|---|---|---|---|---|---|',
    );
    for (const [method, count] of methods) {
      push(
        `| ${method} | ${count} | ${perSecond(count, steady.seconds).toFixed(2)} | ${perSecond(count / 3, steady.seconds).toFixed(2)} | ${e.startedByMethod[method] ?? 0} | ${e.handledByMethod[method] ?? 0} |`,
      );
    }
    const totalMsgs = methods.reduce((sum, [, count]) => sum + count, 0);
    push(
      `| **all** | ${totalMsgs} | ${perSecond(totalMsgs, steady.seconds).toFixed(2)} | ${perSecond(totalMsgs / 3, steady.seconds).toFixed(2)} | | |`,
      '',
      `Key-value store (${e.members} members; a write is applied by every member, so its counters' sum is divided by ${e.members}; a read is served by one): ${Object.entries(
        e.kv,
      )
        .map(([what, item]) => {
          if (!item) return `${what} n/a`;
          const count = what === 'ranges' ? item.value : item.value / e.members;
          return `${what} ${count} (${perSecond(count / 3, steady.seconds).toFixed(2)}/s per watcher; \`${item.metric}\`${what === 'ranges' ? '' : ` summed ${item.value}`})`;
        })
        .join(', ')}.${e.scrapeErrors.length ? ` Scrape errors: ${e.scrapeErrors.join('; ')}.` : ''}`,
    );
  }

  push('', '## Targets', '');
  const renewalS = (renewalMs / 1000).toFixed(3);
  for (const scenario of ['refused', 'hung'] as const) {
    const one = rows.find((row) => row.scenario === scenario && row.setup === 'one watcher')!;
    const extra = v.clusterExtra[scenario];
    push(
      `- One watcher, ${scenario} ≤ ${TARGETS[scenario]} s: median ${s2(one.median)} s (${yes(v.lone[scenario].median)}), max ${s2(one.max)} s (${yes(v.lone[scenario].max)}).`,
      `- Cluster adds ≤ ${renewalS} s (leaseTtl/3) to ${scenario}: median difference ${signed(extra.medianDiff)} s (${yes(extra.met)}); paired median ${signed(extra.pairedMedian)} s, paired max ${signed(extra.pairedMax)} s.`,
    );
  }
  push(
    `- Leader handover: median ${ms0(v.handover.median)} ms, max ${ms0(v.handover.max)} ms (no target stated; README: "within about leaseTtl" = ${st.leaseTtlMs} ms).`,
    `- DNS writes by handovers = 0: ${v.handover.met ? 'yes' : '**no**'} (${v.handover.writes} serial changes, ${v.handover.patches} PATCHes).`,
  );

  push('', '## Notes', '', ...report.notes.map((note) => `- ${note}`), '');
  return lines.join('\n');
}
