/**
 * The Edges section, shown only while an `outlast edge` runs in the watcher's process (status
 * `edges`): one card per edge with its URLs, the release it serves, a banner while every origin is
 * down and the site comes from the cache, its requests, the traffic per origin (a table with a
 * bar of each origin's share of the requests served: edge-traffic.ts), its cache and its
 * certificate.
 *
 * The section is made here rather than in the page's markup (src/daemon/dashboard.ts), once,
 * after the Cluster section. Cards, and each origin's row in them, are made once and then
 * updated in place.
 */
import { $, h, setClass, setText, show } from './dom.ts';
import { type TrafficTable, trafficTable } from './edge-traffic.ts';
import { ago, bytes, clock, count, shortRelease } from './format.ts';
import type { EdgeJson, StatusJson } from './wire.ts';

/** Below this many days the certificate's line is a warning (as the watcher's probes warn). */
const CERTIFICATE_WARNING_DAYS = 14;

interface EdgeCard {
  root: HTMLElement;
  title: HTMLElement;
  badge: HTMLElement;
  urls: HTMLElement;
  banner: HTMLElement;
  release: HTMLElement;
  requests: { total: HTMLElement; failedOver: HTMLElement; cacheOnly: HTMLElement; errors: HTMLElement };
  errorsStat: HTMLElement;
  traffic: TrafficTable;
  cache: HTMLElement;
  cacheBar: HTMLProgressElement;
  hits: HTMLElement;
  warm: HTMLElement;
  warmBar: HTMLProgressElement;
  tls: HTMLElement;
  tlsError: HTMLElement;
}

let section: HTMLElement | null = null;
let list: HTMLElement | null = null;
/** By the edge's place in the status. */
const cards: EdgeCard[] = [];

function makeSection(): HTMLElement {
  const node = h('section', { id: 'edges-section', 'aria-labelledby': 'edges-h', 'data-testid': 'edges' });
  node.hidden = true;
  const about = h('p', { class: 'small muted' });
  about.append(
    h('span', { class: 'mono' }, 'outlast edge'),
    " in this process: each request is served from the first origin that holds the release's " +
      'bytes, failing over within the request, and from the cache when no origin can answer.',
  );
  node.append(h('h2', { id: 'edges-h' }, 'Edges'), about);
  list = h('div', { class: 'cards edges', 'data-testid': 'edge-cards' });
  node.appendChild(list);
  $('cluster-section').after(node);
  return node;
}

/** A labelled number: `1,234` over `requests`. */
function stat(label: string, testid: string): { root: HTMLElement; value: HTMLElement } {
  const root = h('div', { class: 'stat' });
  const value = h('strong', { 'data-testid': testid });
  root.append(value, h('span', { class: 'small muted' }, label));
  return { root, value };
}

function edgeCard(index: number): EdgeCard {
  const root = h('article', {
    class: 'card',
    'data-testid': `edge-${index}`,
    'aria-labelledby': `edge-h-${index}`,
  });
  const head = h('div', { class: 'row' });
  const title = h('h3', { id: `edge-h-${index}`, class: 'mono' });
  const badge = h('span', { class: 'badge', 'data-testid': 'edge-state' });
  head.append(title, badge);
  const urls = h('p', { class: 'small muted mono', 'data-testid': 'edge-urls' });
  const banner = h('p', { class: 'notice error banner', role: 'alert', 'data-testid': 'edge-cache-only' });
  const release = h('p', { 'data-testid': 'edge-release' });

  const stats = h('div', { class: 'stats', 'data-testid': 'edge-requests' });
  const total = stat('requests', 'edge-requests-total');
  const failedOver = stat('failed over', 'edge-requests-failed-over');
  const cacheOnly = stat('from the cache only', 'edge-requests-cache-only');
  const errors = stat('errors (5xx)', 'edge-requests-errors');
  stats.append(total.root, failedOver.root, cacheOnly.root, errors.root);
  const traffic = trafficTable();

  const facts = h('dl', { class: 'facts' });
  const cache = h('span', { 'data-testid': 'edge-cache' });
  const cacheBar = h('progress', { 'data-testid': 'edge-cache-bar', 'aria-label': 'cache used' });
  const hits = h('dd', { 'data-testid': 'edge-hits' });
  const warm = h('span', { 'data-testid': 'edge-warm' });
  const warmBar = h('progress', {
    'data-testid': 'edge-warm-bar',
    'aria-label': 'release held in the cache',
  });
  const tls = h('dd', { 'data-testid': 'edge-tls' });
  const cacheFact = h('dd');
  cacheFact.append(cache, cacheBar);
  const warmFact = h('dd');
  warmFact.append(warm, warmBar);
  facts.append(
    h('dt', null, 'Cache'),
    cacheFact,
    h('dt', null, 'Hit ratio'),
    hits,
    h('dt', null, 'Warm'),
    warmFact,
    h('dt', null, 'TLS'),
    tls,
  );
  const tlsError = h('p', { class: 'notice error', 'data-testid': 'edge-tls-error' });

  const columns = h('div', { class: 'edge-columns' });
  const left = h('div', { class: 'table-wrap' });
  left.appendChild(traffic.root);
  const right = h('div');
  right.append(facts, tlsError);
  columns.append(left, right);
  root.append(head, urls, banner, release, stats, columns);
  return {
    root,
    title,
    badge,
    urls,
    banner,
    release,
    requests: {
      total: total.value,
      failedOver: failedOver.value,
      cacheOnly: cacheOnly.value,
      errors: errors.value,
    },
    errorsStat: errors.root,
    traffic,
    cache,
    cacheBar,
    hits,
    warm,
    warmBar,
    tls,
    tlsError,
  };
}

export function renderEdges(s: StatusJson): void {
  const edges = s.edges ?? [];
  if (!section) {
    if (edges.length === 0) return;
    section = makeSection();
  }
  show(section, edges.length > 0);
  edges.forEach((edge, index) => {
    let c = cards[index];
    if (!c) {
      c = cards[index] = edgeCard(index);
      list!.appendChild(c.root);
    }
    renderEdge(c, edge);
  });
  for (const card of cards.splice(edges.length)) card.root.remove();
}

function renderEdge(c: EdgeCard, e: EdgeJson): void {
  const [first = 'edge', ...others] = e.urls;
  setText(c.title, first);
  setText(c.urls, others.length ? `also ${others.join(' \u00b7 ')}` : '');
  show(c.urls, others.length > 0);
  const ok = e.origins.filter((o) => o.state === 'ok').length;
  let badge: [string, string];
  if (e.cacheOnly) badge = ['from the cache only', 'down'];
  else if (ok < e.origins.length) badge = [`${ok} of ${e.origins.length} origins ok`, 'warn'];
  else badge = [`${e.origins.length === 1 ? 'its origin' : `all ${e.origins.length} origins`} ok`, 'up'];
  setText(c.badge, badge[0]);
  setClass(c.badge, `badge ${badge[1]}`);
  c.root.setAttribute('data-cache-only', e.cacheOnly ? 'true' : 'false');
  setClass(c.root, `card edge${e.cacheOnly ? ' is-down' : ''}`);

  const release = e.release ? shortRelease(e.release.id) : '';
  setText(
    c.banner,
    e.cacheOnly
      ? `Every origin is down: serving ${release ? `release ${release}` : 'what it holds'} from the cache.`
      : '',
  );
  show(c.banner, e.cacheOnly);
  c.release.setAttribute('data-release', e.release?.id ?? '');
  setText(
    c.release,
    e.release
      ? `Serves release ${release} since ${clock(e.release.since)} (${ago(e.release.since)}) \u00b7 ` +
          `${count(e.release.files)} files, ${bytes(e.release.bytes)}`
      : 'No release known yet: waiting for the first beacon an origin answers.',
  );

  setText(c.requests.total, count(e.requests.total));
  setText(c.requests.failedOver, count(e.requests.failedOver));
  setText(c.requests.cacheOnly, count(e.requests.cacheOnly));
  setText(c.requests.errors, count(e.requests.errors));
  setClass(c.errorsStat, `stat${e.requests.errors > 0 ? ' bad' : ''}`);

  c.traffic.render(e.origins);
  renderCache(c, e);
  renderTls(c, e);
}

function renderCache(c: EdgeCard, e: EdgeJson): void {
  const { cache } = e;
  const used = cache.maxBytes > 0 ? cache.bytes / cache.maxBytes : 0;
  setText(
    c.cache,
    `${count(cache.files)} files \u00b7 ${bytes(cache.bytes)} of ${bytes(cache.maxBytes)} (${Math.round(used * 100)}%)`,
  );
  c.cacheBar.max = Math.max(cache.maxBytes, 1);
  c.cacheBar.value = Math.min(cache.bytes, c.cacheBar.max);
  const lookups = cache.hits + cache.misses;
  // Floored, so that 99.96 % never reads as 100 %.
  const ratio = lookups > 0 ? `${(Math.floor((cache.hits / lookups) * 1000) / 10).toFixed(1)}%` : '';
  setText(
    c.hits,
    lookups > 0 ? `${ratio} (${count(cache.hits)} hits, ${count(cache.misses)} misses)` : 'no lookups yet',
  );
  const { held, total, running } = cache.warm;
  setText(
    c.warm,
    total > 0
      ? `${count(held)} of ${count(total)} files of the release held${running ? ', filling' : ''}`
      : 'nothing to hold yet',
  );
  c.warmBar.max = Math.max(total, 1);
  c.warmBar.value = Math.min(held, c.warmBar.max);
}

function renderTls(c: EdgeCard, e: EdgeJson): void {
  const t = e.tls;
  let text = 'none: plain HTTP';
  let cls = '';
  if (t) {
    const parts = [t.mode === 'acme' ? 'ACME' : 'certificate files'];
    if (t.subject) parts.push(t.subject);
    if (t.daysLeft !== undefined) {
      parts.push(t.daysLeft < 0 ? `expired ${-t.daysLeft} days ago` : `${t.daysLeft} days left`);
      if (t.daysLeft < 0) cls = 'bad';
      else if (t.daysLeft < CERTIFICATE_WARNING_DAYS) cls = 'warn';
    }
    text = parts.join(' \u00b7 ');
  }
  setText(c.tls, text);
  setClass(c.tls, cls);
  const error = t?.lastError;
  setText(c.tlsError, error ? `TLS: ${error} (the previous certificate is still served)` : '');
  show(c.tlsError, !!error);
}
