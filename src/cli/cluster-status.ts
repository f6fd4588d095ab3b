/**
 * How `outlast status` shows a watcher cluster (pure): what src/cluster/read.ts read from etcd, or
 * why it could not, as lines and as JSON. A cluster that cannot be read is one line, like an
 * origin that cannot be reached; it does not change the exit code (status is informational).
 */
import type { ClusterReading } from '../cluster/read.ts';

/** The cluster of `watch.cluster`: what etcd holds, or the error that kept it from being read. */
export type ClusterRead = { endpoints: string[] } & (
  | { reading: ClusterReading; error?: undefined }
  | { reading?: undefined; error: Error & { code?: string } }
);

/** Every watcher and its view of every origin, who leads, and the quorum's counts. */
export function clusterLines(read: ClusterRead): string[] {
  if (!read.reading) return [`cluster  UNREACHABLE: ${read.error.message}`];
  const { prefix, leader, views, quorum } = read.reading;
  const lines = [`cluster  etcd ${read.endpoints.join(', ')}, keys under ${prefix}`];
  lines.push(
    leader === undefined
      ? '  leader: none (an election is under way, or no watcher runs)'
      : `  leader: ${leader} (marked *)`,
  );
  const counted = `${quorum.counted.length} of ${views.length} watcher${views.length === 1 ? '' : 's'} counted`;
  lines.push(
    quorum.quorumLost
      ? `  QUORUM LOST: ${counted}, ${quorum.quorum} needed: no origin's health can change`
      : `  quorum: ${quorum.quorum}; ${counted}`,
  );
  if (views.length === 0) {
    lines.push(`  no watcher has published a view under ${prefix} (none runs, or they use another prefix)`);
    return lines;
  }
  const origins = Object.keys(quorum.origins);
  const ignored = new Map(quorum.ignored.map((item) => [item.id, item.why]));
  const rows: string[][] = [['watcher', ...origins]];
  const notes: string[][] = [[]];
  for (const view of views) {
    rows.push([
      view.id,
      ...origins.map((id) => {
        const seen = view.origins[id];
        if (!seen) return '—';
        return `${seen.state.toUpperCase()}${seen.latencyMs === undefined ? '' : ` ${seen.latencyMs} ms`}`;
      }),
    ]);
    const why = ignored.get(view.id);
    notes.push([
      ...(why ? [`not counted: ${why}`] : []),
      ...origins.flatMap((id) => {
        const error = view.origins[id]?.error;
        return error ? [`${id}: ${error}`] : [];
      }),
    ]);
  }
  rows.push([
    'quorum',
    ...origins.map((id) => {
      const verdict = quorum.origins[id]!;
      return `${verdict.health.toUpperCase()} (${verdict.up} up, ${verdict.down} down)`;
    }),
  ]);
  notes.push([]);
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  rows.forEach((row, index) => {
    const mark = index > 0 && index <= views.length && views[index - 1]!.id === leader ? '*' : ' ';
    lines.push(`  ${mark} ${row.map((cell, column) => cell.padEnd(widths[column]!)).join('  ')}`.trimEnd());
    for (const note of notes[index]!) lines.push(`      ${note}`);
  });
  if (origins.some((id) => quorum.origins[id]!.health === 'unknown')) {
    lines.push(
      `  (UNKNOWN: fewer than ${quorum.quorum} watchers agree on it; the leader keeps its last verdict)`,
    );
  }
  return lines;
}

/** `outlast status --json`'s `cluster`. */
export function clusterJson(read: ClusterRead): Record<string, unknown> {
  if (!read.reading) {
    return {
      ok: false,
      endpoints: read.endpoints,
      error: { code: read.error.code ?? 'internal', message: read.error.message },
    };
  }
  const { prefix, leader, views, quorum } = read.reading;
  const ignored = new Map(quorum.ignored.map((item) => [item.id, item.why]));
  return {
    ok: true,
    endpoints: read.endpoints,
    prefix,
    error: null,
    leader: leader ?? null,
    quorum: quorum.quorum,
    quorumLost: quorum.quorumLost,
    watchers: views.map((view) => ({
      id: view.id,
      at: view.at,
      leader: view.id === leader,
      counted: quorum.counted.includes(view.id),
      ignoredBecause: ignored.get(view.id) ?? null,
      origins: view.origins,
    })),
    origins: Object.fromEntries(
      Object.entries(quorum.origins).map(([id, verdict]) => [
        id,
        { health: verdict.health, up: verdict.up, down: verdict.down },
      ]),
    ),
  };
}
