/**
 * An edge card's "Traffic per origin" table (edges.ts): per origin its state, the requests it
 * served with a bar of its share of all served, the bytes it sent and its failed attempts; under
 * each origin's row a detail row (when it is next tried, its last error), shown only when there
 * is something to tell. Rows are made once per origin and updated in place.
 */
import { h, SVG, setClass, setText, show } from './dom.ts';
import { bytes, clock, count } from './format.ts';
import type { EdgeOriginJson } from './wire.ts';

/** An origin's edge state → the badge class that colours it. */
const STATE_CLASS: Record<string, string> = { ok: 'up', skipped: 'warn', down: 'down' };

interface OriginRow {
  root: HTMLTableRowElement;
  /** The row under it, across the table: when it is next tried, and its last error. */
  detail: HTMLTableRowElement;
  state: HTMLElement;
  retry: HTMLElement;
  error: HTMLElement;
  served: HTMLElement;
  bar: SVGRectElement;
  bytes: HTMLElement;
  failed: HTMLElement;
}

export interface TrafficTable {
  root: HTMLTableElement;
  /** Shows these origins, in this order. */
  render(origins: EdgeOriginJson[]): void;
}

export function trafficTable(): TrafficTable {
  const table = h('table', { class: 'traffic', 'data-testid': 'edge-traffic' });
  table.appendChild(h('caption', { class: 'small muted' }, 'Traffic per origin'));
  const headRow = h('tr');
  for (const [label, cls] of [
    ['Origin', ''],
    ['State', ''],
    ['Requests served', 'num'],
    ['Bytes', 'num'],
    ['Failed attempts', 'num'],
  ] as const) {
    headRow.appendChild(h('th', { scope: 'col', ...(cls ? { class: cls } : {}) }, label));
  }
  table.appendChild(h('thead')).appendChild(headRow);
  const body = h('tbody');
  table.appendChild(body);
  const rows = new Map<string, OriginRow>();
  const render = (origins: EdgeOriginJson[]): void => {
    const served = origins.reduce((sum, o) => sum + o.served, 0);
    const seen = new Set<string>();
    origins.forEach((o, index) => {
      seen.add(o.id);
      let row = rows.get(o.id);
      if (!row) {
        row = originRow(o.id);
        rows.set(o.id, row);
      }
      // Two rows per origin: its numbers, then its detail.
      if (body.children[2 * index] !== row.root) {
        body.insertBefore(row.root, body.children[2 * index] ?? null);
      }
      if (row.root.nextSibling !== row.detail) row.root.after(row.detail);
      row.root.setAttribute('data-state', o.state);
      row.root.title = o.url;
      setText(row.state, o.state);
      setClass(row.state, `badge ${STATE_CLASS[o.state] ?? ''}`);
      const retry = o.state === 'skipped' && o.retryAt ? `next try at ${clock(o.retryAt)}` : '';
      setText(row.retry, retry);
      show(row.retry, !!retry);
      setText(row.error, o.lastError ? `${retry ? ' \u00b7 ' : ''}\u26a0 ${o.lastError}` : '');
      show(row.error, !!o.lastError);
      show(row.detail, !!retry || !!o.lastError);
      setText(row.served, count(o.served));
      const share = served > 0 ? (o.served / served) * 100 : 0;
      row.bar.setAttribute('width', share.toFixed(1));
      setText(row.bytes, bytes(o.bytes));
      setText(row.failed, count(o.failed));
      setClass(row.failed, o.failed > 0 ? 'num bad' : 'num');
    });
    for (const [id, row] of rows) {
      if (!seen.has(id)) {
        row.root.remove();
        row.detail.remove();
        rows.delete(id);
      }
    }
  };
  return { root: table, render };
}

function originRow(id: string): OriginRow {
  const root = h('tr', { 'data-testid': `edge-origin-${id}`, 'data-origin': id });
  const name = h('th', { scope: 'row', class: 'mono' }, id);
  const stateCell = h('td');
  const state = h('span', { class: 'badge', 'data-testid': 'edge-origin-state' });
  stateCell.append(state);
  const detail = h('tr', { class: 'detail', 'data-testid': `edge-origin-detail-${id}` });
  const detailCell = h('td', { colspan: '5', class: 'small' });
  const retry = h('span', { class: 'muted', 'data-testid': 'edge-origin-retry' });
  const error = h('span', { class: 'cell-error', 'data-testid': 'edge-origin-error' });
  detailCell.append(retry, error);
  detail.appendChild(detailCell);
  const servedCell = h('td', { class: 'num' });
  const served = h('span', { 'data-testid': 'edge-origin-served' });
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'share');
  svg.setAttribute('viewBox', '0 0 100 6');
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('aria-hidden', 'true');
  const track = document.createElementNS(SVG, 'rect');
  track.setAttribute('class', 'track');
  track.setAttribute('width', '100');
  track.setAttribute('height', '6');
  const bar = document.createElementNS(SVG, 'rect');
  bar.setAttribute('class', 'bar');
  bar.setAttribute('height', '6');
  bar.setAttribute('width', '0');
  svg.append(track, bar);
  servedCell.append(served, svg);
  const bytesCell = h('td', { class: 'num', 'data-testid': 'edge-origin-bytes' });
  const failed = h('td', { class: 'num', 'data-testid': 'edge-origin-failed' });
  root.append(name, stateCell, servedCell, bytesCell, failed);
  return { root, detail, state, retry, error, served, bar, bytes: bytesCell, failed };
}
