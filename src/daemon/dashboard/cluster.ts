/**
 * The Cluster section, shown only with `watch.cluster`: this watcher's id and role, who leads and
 * since when, whether etcd answers, the quorum, and a table of every watcher × every origin (each
 * watcher's own view, the ones not counted and why) with the cluster's verdict as its last row.
 * The table is rebuilt only when what it shows changed.
 */
import { $, h, setClass, setText, show } from './dom.ts';
import { ago, clock, ms } from './format.ts';
import type { ClusterJson, StatusJson } from './wire.ts';

/** What the table was last built from. */
let tableKey: string | null = null;

export function renderCluster(s: StatusJson): void {
  const c = s.cluster;
  show($('cluster-section'), !!c);
  if (!c) return;
  setText($('cluster-id'), c.id);
  const role = $('cluster-role');
  setText(role, c.leading ? 'leader' : 'follower');
  setClass(role, c.leading ? 'badge accent' : 'badge');
  role.setAttribute('data-leading', c.leading ? 'true' : 'false');

  const counted = c.watchers.filter((w) => w.counted).length;
  setText($('cluster-quorum'), `quorum ${c.quorum} \u00b7 ${counted} of ${c.watchers.length} counted`);
  show($('cluster-quorum-lost'), c.quorumLost);
  const lost = $('cluster-quorum-lost-notice');
  setText(
    lost,
    c.quorumLost
      ? `Quorum lost: ${counted} watcher${counted === 1 ? '' : 's'} counted, ${c.quorum} needed. ` +
          "No origin's health can change until enough watchers count again."
      : '',
  );
  show(lost, c.quorumLost);

  const etcd = $('cluster-etcd');
  setText(etcd, c.etcdReachable ? 'etcd reachable' : 'etcd unreachable');
  setClass(etcd, `badge ${c.etcdReachable ? 'up' : 'down'}`);
  etcd.setAttribute('data-reachable', c.etcdReachable ? 'true' : 'false');
  const error = $('cluster-etcd-error');
  const detail = c.etcdReachable ? undefined : lastEtcdProblem(s);
  setText(
    error,
    c.etcdReachable
      ? ''
      : `etcd does not answer this watcher${detail ? ` (${detail})` : ''}: it cannot lead, ` +
          'and what it shows of the other watchers may be out of date.',
  );
  show(error, !c.etcdReachable);

  const leader = $('cluster-leader');
  let text: string;
  if (c.leading) {
    text = `This watcher leads${c.leadingSince ? ` since ${clock(c.leadingSince)} (${ago(c.leadingSince)})` : ''}.`;
  } else if (c.leader) text = `Leader: ${c.leader}.`;
  else text = 'No leader: an election is under way, or no watcher reaches etcd.';
  setText(leader, text);
  leader.setAttribute('data-leader', c.leader ?? '');

  renderTable(s, c);
}

/** The latest etcd-unreachable event's message, unless etcd answered again after it. */
function lastEtcdProblem(s: StatusJson): string | undefined {
  for (let i = s.events.length - 1; i >= 0; i--) {
    const e = s.events[i]!;
    if (e.kind === 'etcd') return undefined;
    if (e.kind === 'etcd-unreachable') return e.message;
  }
  return undefined;
}

function renderTable(s: StatusJson, c: ClusterJson): void {
  // The config's origins in their order, then any other one a watcher names.
  const ids = s.origins.map((o) => o.originId);
  for (const id of Object.keys(c.origins)) if (!ids.includes(id)) ids.push(id);
  const key = JSON.stringify([ids, c.id, c.leader, c.watchers, c.origins]);
  if (key === tableKey) return;
  tableKey = key;

  const head = $('cluster-head');
  head.textContent = '';
  head.appendChild(h('th', { scope: 'col' }, 'Watcher'));
  for (const id of ids) head.appendChild(h('th', { scope: 'col', class: 'mono' }, id));

  const body = $('cluster-watchers');
  body.textContent = '';
  if (c.watchers.length === 0) {
    const row = h('tr');
    row.appendChild(
      h('td', { colspan: String(ids.length + 1), class: 'muted' }, 'No watcher has published a view yet.'),
    );
    body.appendChild(row);
  }
  for (const w of c.watchers) {
    const row = h('tr', {
      'data-testid': `cluster-watcher-${w.id}`,
      'data-watcher': w.id,
      'data-counted': w.counted ? 'true' : 'false',
      'data-leader': w.id === c.leader ? 'true' : 'false',
      class: w.counted ? '' : 'not-counted',
    });
    const name = h('th', { scope: 'row' });
    const line = h('div', { class: 'row' });
    line.appendChild(h('span', { class: 'mono' }, w.id));
    if (w.id === c.leader) line.appendChild(h('span', { class: 'badge accent' }, 'leader'));
    if (w.id === c.id) line.appendChild(h('span', { class: 'badge' }, 'this watcher'));
    if (!w.counted) {
      line.appendChild(
        h(
          'span',
          { class: 'badge warn', title: w.ignoredBecause ?? '', 'data-testid': 'cluster-not-counted' },
          'not counted',
        ),
      );
    }
    name.appendChild(line);
    if (!w.counted && w.ignoredBecause) name.appendChild(h('p', { class: 'small muted' }, w.ignoredBecause));
    if (w.at) name.appendChild(h('p', { class: 'small muted' }, `view of ${clock(w.at)}`));
    row.appendChild(name);
    for (const id of ids) {
      const o = w.origins[id];
      const state = o?.state ?? 'unknown';
      const cell = h('td', { 'data-origin': id, 'data-state': state });
      cell.appendChild(h('span', { class: `badge ${state}` }, o ? state : 'no view'));
      if (o?.latencyMs !== undefined)
        cell.appendChild(h('span', { class: 'small muted' }, ` ${ms(o.latencyMs)}`));
      if (o?.error) {
        cell.title = o.error;
        cell.appendChild(
          h('span', { class: 'cell-error', title: o.error, 'data-testid': 'cluster-error' }, ' \u26a0 error'),
        );
      }
      row.appendChild(cell);
    }
    body.appendChild(row);
  }

  const foot = $('cluster-verdict');
  foot.textContent = '';
  const row = h('tr');
  row.appendChild(h('th', { scope: 'row' }, "Cluster's verdict"));
  for (const id of ids) {
    const v = c.origins[id];
    const cell = h('td', {
      'data-testid': `cluster-verdict-${id}`,
      'data-origin': id,
      'data-health': v?.health ?? 'unknown',
    });
    cell.appendChild(h('span', { class: `badge ${v?.health ?? 'unknown'}` }, v?.health ?? 'unknown'));
    if (v) cell.appendChild(h('span', { class: 'small muted' }, ` up ${v.up} \u00b7 down ${v.down}`));
    row.appendChild(cell);
  }
  foot.appendChild(row);
}
