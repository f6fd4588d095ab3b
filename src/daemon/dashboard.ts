/**
 * The dashboard `outlast watch` serves at `/`: one self-contained page (inline CSS and vanilla JS,
 * nothing fetched from elsewhere, no build step) that reads the watcher's own endpoints:
 *
 *   GET  status                     everything shown (re-fetched on every server-sent event, and
 *                                   every 5 s as a fallback; every 30 s while the tab is hidden)
 *   GET  events                     server-sent events: a `timeline` event → re-fetch status
 *   GET  demo                       demo controls, when the server has them (404 otherwise)
 *   POST actions/<action>           failback | pause | resume | force, with the token as Bearer
 *   POST demo/origins/<id>/<verb>   stop | start a local origin, with the token as Bearer
 *
 * URLs are relative, so the page also works behind a proxy under a path prefix. It is read-only
 * until the user enters the token ("unlock actions"); the token is kept in sessionStorage (this tab
 * only, gone when it closes). Everything from the server is put in the page as text (textContent),
 * never as markup, and the page is sent with a Content-Security-Policy that allows only its own
 * inline script and style (by hash) and connections to its own origin.
 *
 * It is meant to stay open all day: one EventSource, one timer, and cards updated in place (a
 * focused button keeps its focus across refreshes; the timeline is rebuilt only when it changed).
 */
import { createHash } from 'node:crypto';

const STYLE = `
:root {
  color-scheme: light dark;
  --bg: #f6f7f9; --card: #fff; --fg: #1c2330; --muted: #5b6472; --line: #d9dde3;
  --up: #137333; --up-bg: #e6f4ea; --down: #b3261e; --down-bg: #fce8e6;
  --unknown: #5b6472; --unknown-bg: #eceff1; --warn: #8a5300; --warn-bg: #fef3d6;
  --accent: #1a5fb4; --accent-bg: #e8f0fe;
}
@media (prefers-color-scheme: dark) {
  :root {
    --bg: #14171c; --card: #1d2128; --fg: #e6e9ee; --muted: #a2aab6; --line: #323844;
    --up: #81c995; --up-bg: #1e3a28; --down: #f28b82; --down-bg: #4a1f1c;
    --unknown: #a2aab6; --unknown-bg: #2a2f38; --warn: #fdd663; --warn-bg: #3d3217;
    --accent: #8ab4f8; --accent-bg: #1f2d45;
  }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg);
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
header { display: flex; flex-wrap: wrap; align-items: center; gap: .5rem 1rem; padding: .75rem 1rem;
  border-bottom: 1px solid var(--line); background: var(--card); }
header h1 { font-size: 1.15rem; margin: 0; flex: 1 1 auto; overflow-wrap: anywhere; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem; display: grid; gap: 1rem;
  grid-template-columns: minmax(0, 1fr); }
@media (min-width: 900px) {
  main { grid-template-columns: minmax(0, 2fr) minmax(0, 1fr); }
  #decision, #origins-section, #providers-section { grid-column: 1 / -1; }
  #timeline-section { grid-column: 1; grid-row: 4; }
  #side { grid-column: 2; grid-row: 4; }
}
#side { display: grid; gap: 1rem; align-content: start; min-width: 0; }
section { background: var(--card); border: 1px solid var(--line); border-radius: 10px; padding: .9rem 1rem; min-width: 0; }
h2 { font-size: 1rem; margin: 0 0 .6rem; }
h3 { font-size: .95rem; margin: 0; overflow-wrap: anywhere; }
p { margin: .3rem 0; }
.muted { color: var(--muted); }
.small { font-size: .85rem; }
.mono { font-family: ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: .85rem; overflow-wrap: anywhere; }
[hidden] { display: none !important; }
.badge { display: inline-block; padding: .05rem .5rem; border-radius: 999px; font-size: .8rem; font-weight: 600;
  background: var(--unknown-bg); color: var(--unknown); white-space: nowrap; }
.badge.up, .badge.live, .badge.ok, .badge.running { background: var(--up-bg); color: var(--up); }
.badge.down, .badge.offline, .badge.failed, .badge.stopped { background: var(--down-bg); color: var(--down); }
.badge.warn, .badge.reconnecting, .badge.pending { background: var(--warn-bg); color: var(--warn); }
.badge.accent { background: var(--accent-bg); color: var(--accent); }
.row { display: flex; flex-wrap: wrap; align-items: center; gap: .4rem .6rem; }
.big { font-size: 1.25rem; font-weight: 650; }
.cards { display: grid; gap: .75rem; grid-template-columns: repeat(auto-fill, minmax(min(100%, 270px), 1fr)); }
.cards.wide { grid-template-columns: repeat(auto-fill, minmax(min(100%, 360px), 1fr)); }
.card { border: 1px solid var(--line); border-radius: 8px; padding: .65rem .75rem; min-width: 0; }
.card.is-down { border-color: var(--down); }
.card.is-active { box-shadow: inset 4px 0 0 var(--accent); }
.notice { border-radius: 6px; padding: .25rem .5rem; margin: .35rem 0 0; font-size: .85rem; overflow-wrap: anywhere; }
.notice.warn { background: var(--warn-bg); color: var(--warn); }
.notice.error { background: var(--down-bg); color: var(--down); }
.notice.ok { background: var(--up-bg); color: var(--up); }
.spark { display: block; width: 100%; max-width: 240px; height: 36px; margin: .3rem 0 0; }
.spark .line { fill: none; stroke: var(--accent); stroke-width: 1.5; stroke-linejoin: round; }
.spark .fail { fill: var(--down); }
.spark .base { stroke: var(--line); stroke-width: 1; }
ul.records { list-style: none; padding: 0; margin: .3rem 0; }
ul.records li { padding: .1rem 0; }
button { font: inherit; font-size: .9rem; padding: .3rem .75rem; border-radius: 6px; cursor: pointer;
  border: 1px solid var(--line); background: var(--card); color: var(--fg); }
button:hover { border-color: var(--accent); }
button.primary { background: var(--accent); border-color: var(--accent); color: var(--card); }
button.danger { border-color: var(--down); color: var(--down); }
button:disabled { opacity: .55; cursor: default; }
button:focus-visible, input:focus-visible { outline: 2px solid var(--accent); outline-offset: 2px; }
input[type=password], input[type=search] { font: inherit; padding: .3rem .5rem; border-radius: 6px;
  border: 1px solid var(--line); background: var(--bg); color: var(--fg); min-width: 0; flex: 1 1 10rem; }
fieldset { border: 1px solid var(--line); border-radius: 6px; margin: .5rem 0; padding: .3rem .6rem .5rem; min-width: 0; }
legend { font-size: .85rem; color: var(--muted); padding: 0 .25rem; }
label.check { display: inline-flex; align-items: center; gap: .25rem; margin-right: .6rem; font-size: .85rem; white-space: nowrap; }
.actions-grid { display: flex; flex-wrap: wrap; gap: .5rem; margin: .5rem 0; }
ol.timeline { list-style: none; margin: .5rem 0 0; padding: 0; max-height: 32rem; overflow-y: auto; }
ol.timeline li { display: grid; grid-template-columns: auto auto minmax(0, 1fr); gap: .15rem .5rem; align-items: baseline;
  padding: .3rem 0; border-top: 1px solid var(--line); }
ol.timeline time { font-size: .8rem; color: var(--muted); white-space: nowrap; font-variant-numeric: tabular-nums; }
ol.timeline .message { overflow-wrap: anywhere; font-size: .9rem; }
ol.timeline .badge { justify-self: start; }
@media (max-width: 520px) {
  ol.timeline li { grid-template-columns: auto minmax(0, 1fr); }
  ol.timeline .message { grid-column: 1 / -1; }
}
.k-failover, .k-dns-error, .k-no-healthy-origin { background: var(--down-bg); color: var(--down); }
.k-failback, .k-route, .k-started { background: var(--up-bg); color: var(--up); }
.k-health, .k-held-down, .k-degraded, .k-paused, .k-forced { background: var(--warn-bg); color: var(--warn); }
.k-dns, .k-release, .k-resumed { background: var(--accent-bg); color: var(--accent); }
`;

// Plain JS (no template literals, so that this file's template string needs no escapes).
const SCRIPT = `
(function () {
  'use strict';
  var TOKEN_KEY = 'outlast.token';
  var SVG = 'http://www.w3.org/2000/svg';
  var baseTitle = document.title;
  var state = {
    status: null, demo: null, token: null, kinds: {}, filter: '',
    sseOpen: false, fetchOk: false, fetching: false, again: false, timelineKey: '', busy: false
  };
  var originCards = {};
  var providerCards = {};
  var demoRows = {};

  function $(id) { return document.getElementById(id); }
  function h(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) for (var k in attrs) if (attrs[k] !== undefined && attrs[k] !== null) node.setAttribute(k, attrs[k]);
    if (text !== undefined) node.textContent = text;
    return node;
  }
  function show(node, on) { node.hidden = !on; }
  function setText(node, text) { if (node.textContent !== text) node.textContent = text; }
  function setClass(node, cls) { if (node.className !== cls) node.className = cls; }

  try { state.token = sessionStorage.getItem(TOKEN_KEY); } catch (e) { state.token = null; }

  // ---- formatting -------------------------------------------------------------------------------
  function pad(n) { return (n < 10 ? '0' : '') + n; }
  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d.getTime())) return '?';
    var t = pad(d.getHours()) + ':' + pad(d.getMinutes()) + ':' + pad(d.getSeconds());
    var now = new Date();
    if (d.toDateString() === now.toDateString()) return t;
    return d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate()) + ' ' + t;
  }
  function ago(iso) {
    var s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    if (!isFinite(s)) return '';
    if (s < 60) return s + ' s ago';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min ago';
    return Math.floor(s / 86400) + ' d ago';
  }
  function shortRelease(id) { return id ? (id.length > 12 ? id.slice(0, 12) : id) : ''; }
  function ms(n) { return n === undefined || n === null ? '—' : Math.round(n) + ' ms'; }

  // ---- connection ---------------------------------------------------------------------------------
  function renderConnection() {
    var node = $('connection');
    var label, cls;
    if (state.sseOpen && state.fetchOk) { label = 'live'; cls = 'live'; }
    else if (!state.fetchOk && state.status) { label = 'offline, reconnecting'; cls = 'offline'; }
    else if (!state.status) { label = 'connecting'; cls = 'reconnecting'; }
    else { label = 'reconnecting'; cls = 'reconnecting'; }
    setText(node, label);
    setClass(node, 'badge ' + cls);
    node.setAttribute('data-state', cls);
  }

  var source = null;
  function connect() {
    if (source) source.close();
    source = new EventSource('events');
    source.onopen = function () { state.sseOpen = true; renderConnection(); refresh(); };
    source.onerror = function () {
      state.sseOpen = false;
      renderConnection();
      if (source.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
    };
    source.addEventListener('timeline', function () { refreshSoon(); });
  }

  var soon = null;
  function refreshSoon() {
    if (soon) return;
    soon = setTimeout(function () { soon = null; refresh(); }, 100);
  }

  function refresh() {
    if (state.fetching) { state.again = true; return Promise.resolve(); }
    state.fetching = true;
    var demoWanted = state.demo !== false;
    return Promise.all([
      fetch('status', { cache: 'no-store' }).then(function (res) {
        if (!res.ok) throw new Error('status ' + res.status);
        return res.json();
      }),
      demoWanted ? fetch('demo', { cache: 'no-store' }).then(function (res) {
        if (res.status === 404) return false;
        if (!res.ok) return null;
        return res.json();
      }).catch(function () { return null; }) : Promise.resolve(false)
    ]).then(function (results) {
      state.status = results[0];
      if (results[1] !== null) state.demo = results[1];
      state.fetchOk = true;
      render();
      setText($('updated'), 'updated ' + clock(new Date().toISOString()));
    }).catch(function () {
      state.fetchOk = false;
    }).then(function () {
      state.fetching = false;
      renderConnection();
      if (state.again) { state.again = false; refresh(); }
    });
  }

  function poll() {
    setTimeout(function () { refresh().then(poll); }, document.hidden ? 30000 : 5000);
  }
  document.addEventListener('visibilitychange', function () { if (!document.hidden) refresh(); });

  // ---- rendering ----------------------------------------------------------------------------------
  function render() {
    var s = state.status;
    if (!s) return;
    renderDecision(s);
    renderOrigins(s);
    renderProviders(s);
    renderActions(s);
    renderDemo();
    renderTimeline(s);
    var down = s.origins.filter(function (o) { return o.state === 'down'; }).length;
    var title = (down ? '\\u26a0 ' + down + ' down \\u00b7 ' : '') + baseTitle;
    if (document.title !== title) document.title = title;
  }

  function renderDecision(s) {
    setText($('decision-name'), s.name);
    var active = $('decision-active');
    var key = s.active.join(' ');
    if (active.getAttribute('data-origins') !== key) {
      active.textContent = '';
      active.setAttribute('data-origins', key);
      if (s.active.length === 0) active.appendChild(h('span', { class: 'badge down' }, 'no origin yet'));
      s.active.forEach(function (id) { active.appendChild(h('span', { class: 'badge accent' }, id)); });
    }
    setText($('decision-since'), s.activeSince ? 'since ' + clock(s.activeSince) + ' (' + ago(s.activeSince) + ')' : 'not decided yet');
    setText($('decision-reason'), s.reason || 'no decision yet: waiting for the first health checks');
    show($('flag-paused'), s.paused);
    show($('flag-awaiting-failback'), s.awaitingFailback);
    setText($('decision-policy'), 'policy ' + s.policy + ' \\u00b7 failback ' + s.failback +
      ' \\u00b7 current release ' + (shortRelease(s.currentRelease) || 'not known yet') +
      ' \\u00b7 watching since ' + clock(s.startedAt));
    setText($('expected-seconds'), 'about ' + s.expectedFailoverSeconds + ' s');
  }

  function sparkline(history) {
    var W = 240, H = 36, P = 2;
    var svg = document.createElementNS(SVG, 'svg');
    svg.setAttribute('class', 'spark');
    svg.setAttribute('viewBox', '0 0 ' + W + ' ' + H);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.setAttribute('role', 'img');
    svg.setAttribute('data-testid', 'origin-sparkline');
    var base = document.createElementNS(SVG, 'line');
    base.setAttribute('class', 'base');
    base.setAttribute('x1', '0'); base.setAttribute('x2', String(W));
    base.setAttribute('y1', String(H - 0.5)); base.setAttribute('y2', String(H - 0.5));
    svg.appendChild(base);
    if (!history.length) { svg.setAttribute('aria-label', 'latency over the last hour: no probes yet'); return svg; }
    var t0 = Date.parse(history[0].at);
    var t1 = Math.max(Date.parse(history[history.length - 1].at), t0 + 1);
    var oks = history.filter(function (p) { return p.ok; }).map(function (p) { return p.latencyMs; });
    var max = Math.max.apply(null, oks.concat([1]));
    var x = function (at) { return P + ((Date.parse(at) - t0) / (t1 - t0)) * (W - 2 * P); };
    var run = [];
    var fails = 0;
    function flush() {
      if (run.length === 0) return;
      if (run.length === 1) run.push((parseFloat(run[0]) + 1).toFixed(1) + ',' + run[0].split(',')[1]);
      var line = document.createElementNS(SVG, 'polyline');
      line.setAttribute('class', 'line');
      line.setAttribute('points', run.join(' '));
      svg.appendChild(line);
      run = [];
    }
    history.forEach(function (p) {
      if (p.ok) {
        var y = H - P - (p.latencyMs / max) * (H - 2 * P - 2);
        run.push(x(p.at).toFixed(1) + ',' + y.toFixed(1));
      } else {
        flush();
        fails++;
        var mark = document.createElementNS(SVG, 'rect');
        mark.setAttribute('class', 'fail');
        mark.setAttribute('x', (x(p.at) - 1).toFixed(1));
        mark.setAttribute('y', String(H - 8));
        mark.setAttribute('width', '2');
        mark.setAttribute('height', '8');
        svg.appendChild(mark);
      }
    });
    flush();
    var sorted = oks.slice().sort(function (a, b) { return a - b; });
    var median = sorted.length ? sorted[Math.floor(sorted.length / 2)] : undefined;
    var label = 'latency since ' + clock(history[0].at) + ': ' + history.length + ' probes, median ' + ms(median) +
      ', max ' + (oks.length ? ms(max) : '\\u2014') + ', ' + fails + ' failed';
    svg.setAttribute('aria-label', label);
    var title = document.createElementNS(SVG, 'title');
    title.textContent = label;
    svg.appendChild(title);
    return svg;
  }

  function originCard(id) {
    var card = h('article', { class: 'card', 'data-testid': 'origin-' + id, 'aria-labelledby': 'origin-h-' + id });
    var head = h('div', { class: 'row' });
    var title = h('h3', { id: 'origin-h-' + id }, id);
    var badge = h('span', { class: 'badge', 'data-testid': 'origin-state' });
    var active = h('span', { class: 'badge accent', 'data-testid': 'origin-active' }, 'DNS points here');
    head.append(title, badge, active);
    var url = h('p', { class: 'mono muted' });
    var release = h('p', { class: 'small', 'data-testid': 'origin-release' });
    var latency = h('p', { class: 'small', 'data-testid': 'origin-latency' });
    var spark = h('div', { class: 'spark-wrap' });
    var since = h('p', { class: 'small muted' });
    var cert = h('p', { class: 'notice warn', 'data-testid': 'origin-certificate' });
    var error = h('p', { class: 'notice error', 'data-testid': 'origin-error' });
    card.append(head, url, release, latency, spark, since, cert, error);
    return { root: card, badge: badge, active: active, url: url, release: release, latency: latency, spark: spark,
      since: since, cert: cert, error: error, historyKey: '' };
  }

  function renderOrigins(s) {
    var list = $('origins');
    var seen = {};
    s.origins.forEach(function (o, index) {
      var id = o.originId;
      seen[id] = true;
      var c = originCards[id];
      if (!c) { c = originCards[id] = originCard(id); }
      if (list.children[index] !== c.root) list.insertBefore(c.root, list.children[index] || null);
      c.root.setAttribute('data-state', o.state);
      c.root.setAttribute('data-active', o.active ? 'true' : 'false');
      setClass(c.root, 'card' + (o.state === 'down' ? ' is-down' : '') + (o.active ? ' is-active' : ''));
      setText(c.badge, o.state);
      setClass(c.badge, 'badge ' + o.state);
      show(c.active, o.active);
      setText(c.url, o.url);
      var rel;
      if (!o.release) rel = 'release: not read yet';
      else rel = 'release ' + shortRelease(o.release) + (o.onCurrentRelease ? ' (current)' :
        s.currentRelease ? ' (not the current one, ' + shortRelease(s.currentRelease) + ')' : '');
      if (o.deployedAt) rel += ', deployed ' + clock(o.deployedAt);
      setText(c.release, rel);
      c.release.setAttribute('data-current', o.onCurrentRelease ? 'true' : 'false');
      setText(c.latency, 'latency ' + ms(o.latencyMs) + ' \\u00b7 last hour:');
      var last = o.history[o.history.length - 1];
      var hk = o.history.length + '|' + (last ? last.at : '');
      if (hk !== c.historyKey) {
        c.historyKey = hk;
        c.spark.textContent = '';
        c.spark.appendChild(sparkline(o.history));
      }
      setText(c.since, o.state + ' since ' + clock(o.since) + ' (' + ago(o.since) + ')');
      setText(c.cert, o.certificateWarning ? 'Certificate: ' + o.certificateWarning : '');
      show(c.cert, !!o.certificateWarning);
      var err = o.lastProbe && !o.lastProbe.ok ? (o.lastProbe.error || 'probe failed') : '';
      setText(c.error, err ? 'Last probe failed: ' + err : '');
      show(c.error, !!err);
    });
    for (var id in originCards) {
      if (!seen[id]) { originCards[id].root.remove(); delete originCards[id]; }
    }
  }

  function providerCard(index) {
    var card = h('article', { class: 'card', 'data-testid': 'provider-' + index, 'aria-labelledby': 'provider-h-' + index });
    var title = h('h3', { id: 'provider-h-' + index });
    var answers = h('p', { class: 'small muted' }, 'answers now:');
    var records = h('ul', { class: 'records mono', 'data-testid': 'provider-records' });
    var write = h('p', { class: 'small', 'data-testid': 'provider-write' });
    var error = h('p', { class: 'notice error', 'data-testid': 'provider-error' });
    var pending = h('p', { class: 'notice warn', 'data-testid': 'provider-pending' });
    card.append(title, answers, records, write, error, pending);
    return { root: card, title: title, records: records, write: write, error: error, pending: pending, recordsKey: null };
  }

  function renderProviders(s) {
    var list = $('providers');
    show($('providers-empty'), s.providers.length === 0);
    s.providers.forEach(function (p, index) {
      var c = providerCards[index];
      if (!c) { c = providerCards[index] = providerCard(index); list.appendChild(c.root); }
      setText(c.title, p.provider);
      var key = p.records.join('\\n');
      if (key !== c.recordsKey) {
        c.recordsKey = key;
        c.records.textContent = '';
        if (p.records.length === 0) c.records.appendChild(h('li', { class: 'muted' }, 'nothing at ' + s.name));
        p.records.forEach(function (r) { c.records.appendChild(h('li', null, s.name + ' ' + r)); });
      }
      var write;
      if (p.lastWriteOk === true) write = 'last write succeeded' + (p.lastWriteAt ? ' at ' + clock(p.lastWriteAt) : '');
      else if (p.lastWriteOk === false) write = 'last write FAILED';
      else write = 'no write needed yet' + (p.lastReadAt ? ' (read at ' + clock(p.lastReadAt) + ')' : '');
      setText(c.write, write);
      c.write.setAttribute('data-ok', p.lastWriteOk === false ? 'false' : 'true');
      setText(c.error, p.lastError ? 'Error: ' + p.lastError : '');
      show(c.error, !!p.lastError);
      var pend = p.pending ? 'Write pending' + (p.attempts ? ', attempt ' + p.attempts : '') +
        (p.nextRetryAt ? ', next retry at ' + clock(p.nextRetryAt) : '') : '';
      setText(c.pending, pend);
      show(c.pending, !!p.pending);
    });
    for (var index in providerCards) {
      if (Number(index) >= s.providers.length) { providerCards[index].root.remove(); delete providerCards[index]; }
    }
  }

  // ---- actions --------------------------------------------------------------------------------------
  function unlocked() { return !!state.token; }

  function renderActions(s) {
    show($('unlock-form'), !unlocked());
    show($('actions'), unlocked());
    if (!s) return;
    show($('action-pause'), !s.paused);
    show($('action-resume'), s.paused);
    setClass($('action-failback'), s.awaitingFailback ? 'primary' : '');
    var box = $('force-origins');
    var key = s.origins.map(function (o) { return o.originId; }).join(' ');
    if (box.getAttribute('data-origins') !== key) {
      box.setAttribute('data-origins', key);
      box.textContent = '';
      s.origins.forEach(function (o) {
        var label = h('label', { class: 'check' });
        var input = h('input', { type: 'checkbox', value: o.originId, 'data-testid': 'force-' + o.originId });
        label.append(input, document.createTextNode(o.originId));
        box.appendChild(label);
      });
    }
  }

  function say(kind, text) {
    var ok = $('action-message');
    var bad = $('action-error');
    setText(ok, kind === 'ok' ? text : '');
    show(ok, kind === 'ok');
    setText(bad, kind === 'error' ? text : '');
    show(bad, kind === 'error');
  }

  function post(path, body, what) {
    if (!state.token) { say('error', 'Unlock actions with the token first.'); return Promise.resolve(false); }
    state.busy = true;
    setBusy(true);
    return fetch(path, {
      method: 'POST',
      headers: { authorization: 'Bearer ' + state.token, 'content-type': 'application/json' },
      body: JSON.stringify(body || {})
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (res.status === 401) {
          say('error', 'Refused (401): the server did not accept the token. Lock, then enter the right token.');
          return false;
        }
        if (!res.ok) { say('error', what + ' failed (' + res.status + '): ' + (data.error || res.statusText)); return false; }
        say('ok', what + ': done at ' + clock(new Date().toISOString()) + '.');
        return true;
      });
    }).catch(function (error) {
      say('error', what + ' failed: ' + (error && error.message ? error.message : 'network error'));
      return false;
    }).then(function (ok) {
      state.busy = false;
      setBusy(false);
      refresh();
      return ok;
    });
  }

  function setBusy(on) {
    var buttons = document.querySelectorAll('button[data-action]');
    for (var i = 0; i < buttons.length; i++) buttons[i].disabled = on;
  }

  $('unlock-form').addEventListener('submit', function (event) {
    event.preventDefault();
    var value = $('token').value.trim();
    if (!value) { say('error', 'Enter the token (the state folder\\'s token file, or OUTLAST_TOKEN).'); return; }
    state.token = value;
    try { sessionStorage.setItem(TOKEN_KEY, value); } catch (e) { /* private mode: this page only */ }
    $('token').value = '';
    say('ok', 'Actions unlocked in this tab.');
    renderActions(state.status);
    renderDemo();
  });
  $('action-lock').addEventListener('click', function () {
    state.token = null;
    try { sessionStorage.removeItem(TOKEN_KEY); } catch (e) { /* nothing kept */ }
    say('ok', 'Actions locked.');
    renderActions(state.status);
    renderDemo();
    $('token').focus();
  });
  $('action-failback').addEventListener('click', function () { post('actions/failback', {}, 'Failback'); });
  $('action-pause').addEventListener('click', function () { post('actions/pause', {}, 'Pause'); });
  $('action-resume').addEventListener('click', function () { post('actions/resume', {}, 'Resume'); });
  $('action-force').addEventListener('click', function () {
    var ids = Array.prototype.map.call(document.querySelectorAll('#force-origins input:checked'), function (i) { return i.value; });
    if (ids.length === 0) { say('error', 'Check the origin(s) to point DNS to, then Force.'); return; }
    post('actions/force', { origins: ids }, 'Force to ' + ids.join(', '));
  });

  // ---- demo -----------------------------------------------------------------------------------------
  function renderDemo() {
    var d = state.demo;
    show($('demo-section'), !!d);
    if (!d) return;
    show($('demo-locked'), !unlocked());
    var list = $('demo-origins');
    d.origins.forEach(function (o) {
      var r = demoRows[o.id];
      if (!r) {
        var li = h('li', { class: 'row', 'data-testid': 'demo-' + o.id });
        var name = h('strong', null, o.id);
        var badge = h('span', { class: 'badge', 'data-testid': 'demo-state-' + o.id });
        var stop = h('button', { type: 'button', class: 'danger', 'data-action': 'demo', 'data-testid': 'demo-stop-' + o.id }, 'Stop ' + o.id);
        var start = h('button', { type: 'button', 'data-action': 'demo', 'data-testid': 'demo-start-' + o.id }, 'Start ' + o.id);
        stop.addEventListener('click', function () { demoAction(o.id, 'stop'); });
        start.addEventListener('click', function () { demoAction(o.id, 'start'); });
        li.append(name, badge, stop, start);
        list.appendChild(li);
        r = demoRows[o.id] = { badge: badge, stop: stop, start: start };
      }
      setText(r.badge, o.running ? 'running' : 'stopped');
      setClass(r.badge, 'badge ' + (o.running ? 'running' : 'stopped'));
      show(r.stop, unlocked() && o.running);
      show(r.start, unlocked() && !o.running);
    });
  }

  function demoAction(id, verb) {
    post('demo/origins/' + encodeURIComponent(id) + '/' + verb, {}, (verb === 'stop' ? 'Stop ' : 'Start ') + id);
  }

  // ---- timeline ----------------------------------------------------------------------------------------
  function renderTimeline(s) {
    var events = s.events || [];
    var kinds = $('kinds');
    events.forEach(function (e) {
      if (state.kinds[e.kind] !== undefined) return;
      state.kinds[e.kind] = true;
      var label = h('label', { class: 'check' });
      var input = h('input', { type: 'checkbox', value: e.kind, 'data-testid': 'kind-' + e.kind });
      input.checked = true;
      input.addEventListener('change', function () { state.kinds[e.kind] = input.checked; renderTimeline(state.status); });
      label.append(input, document.createTextNode(e.kind));
      kinds.appendChild(label);
    });
    var filter = state.filter.toLowerCase();
    var last = events[events.length - 1];
    var key = events.length + '|' + (last ? last.at + last.message : '') + '|' + filter + '|' + JSON.stringify(state.kinds);
    if (key === state.timelineKey) return;
    state.timelineKey = key;
    var shown = events.filter(function (e) {
      if (state.kinds[e.kind] === false) return false;
      if (!filter) return true;
      return (e.kind + ' ' + e.message + ' ' + clock(e.at)).toLowerCase().indexOf(filter) !== -1;
    }).reverse();
    var list = $('timeline');
    list.textContent = '';
    shown.forEach(function (e) {
      var li = h('li', { 'data-testid': 'event', 'data-kind': e.kind });
      var time = h('time', { datetime: e.at, title: e.at }, clock(e.at));
      var kind = h('span', { class: 'badge k-' + e.kind.replace(/[^a-z0-9-]/gi, '') }, e.kind);
      li.append(time, kind, h('span', { class: 'message' }, e.message));
      list.appendChild(li);
    });
    setText($('timeline-count'), shown.length === events.length ? events.length + ' events' : shown.length + ' of ' + events.length + ' events');
    show($('timeline-empty'), shown.length === 0);
  }
  $('timeline-filter').addEventListener('input', function (event) {
    state.filter = event.target.value;
    if (state.status) renderTimeline(state.status);
  });

  renderActions(null);
  renderConnection();
  connect();
  refresh();
  poll();
})();
`;

const sha256 = (text: string): string => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** The page's Content-Security-Policy: its own inline script and style only, and its own origin. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${sha256(SCRIPT)}`,
  `style-src ${sha256(STYLE)}`,
  "connect-src 'self'",
  'img-src data:',
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

function escapeHtml(text: string): string {
  return text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

/** The whole dashboard, one HTML document. */
export function dashboardHtml(options: { title: string }): string {
  const title = escapeHtml(options.title);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>${title}</title>
<link rel="icon" href="data:,">
<style>${STYLE}</style>
</head>
<body>
<header>
  <h1>${title}</h1>
  <span id="connection" class="badge" role="status" aria-live="polite" data-testid="connection">connecting</span>
  <span id="updated" class="small muted"></span>
</header>
<main>
  <section id="decision" aria-labelledby="decision-h" data-testid="decision">
    <h2 id="decision-h">Where the name points</h2>
    <div class="row big"><span id="decision-name" class="mono"></span><span aria-hidden="true">→</span>
      <span id="decision-active" class="row" data-testid="decision-active" aria-live="polite"></span></div>
    <p class="row"><span id="decision-since" class="muted" data-testid="decision-since"></span>
      <span id="flag-paused" class="badge warn" data-testid="flag-paused" hidden>paused: automation off</span>
      <span id="flag-awaiting-failback" class="badge warn" data-testid="flag-awaiting-failback" hidden>awaiting manual failback</span></p>
    <p>Why: <span id="decision-reason" data-testid="decision-reason"></span></p>
    <p id="decision-policy" class="small muted"></p>
    <p class="small" data-testid="expected-failover">Expected user-visible failover time:
      <strong id="expected-seconds"></strong>: the health checks (interval × fall) + the records' TTL +
      the 60 s floor of browsers' DNS caches. Resolvers that keep answers longer make the tail longer.</p>
  </section>
  <section id="origins-section" aria-labelledby="origins-h">
    <h2 id="origins-h">Origins</h2>
    <div id="origins" class="cards" data-testid="origins"></div>
  </section>
  <section id="providers-section" aria-labelledby="providers-h">
    <h2 id="providers-h">DNS providers</h2>
    <p id="providers-empty" class="muted" hidden>No DNS provider configured.</p>
    <div id="providers" class="cards wide" data-testid="providers"></div>
  </section>
  <div id="side">
    <section id="actions-section" aria-labelledby="actions-h">
      <h2 id="actions-h">Actions</h2>
      <form id="unlock-form" data-testid="unlock-form">
        <p class="small muted">Read-only. To act, enter the watcher's token (the <span class="mono">token</span>
          file in its state folder, or OUTLAST_TOKEN); it is kept in this tab only.</p>
        <div class="row">
          <label for="token">Token</label>
          <input id="token" type="password" autocomplete="off" spellcheck="false" data-testid="token">
          <button type="submit" data-testid="unlock">Unlock actions</button>
        </div>
      </form>
      <div id="actions" data-testid="actions" hidden>
        <div class="actions-grid">
          <button type="button" id="action-failback" data-action="failback" data-testid="action-failback">Failback now</button>
          <button type="button" id="action-pause" data-action="pause" data-testid="action-pause">Pause automation</button>
          <button type="button" id="action-resume" data-action="resume" data-testid="action-resume" hidden>Resume automation</button>
          <button type="button" id="action-lock" data-testid="action-lock">Lock</button>
        </div>
        <fieldset>
          <legend>Force DNS to (pauses automation)</legend>
          <div id="force-origins" data-testid="force-origins"></div>
          <button type="button" id="action-force" class="danger" data-action="force" data-testid="action-force">Force</button>
        </fieldset>
      </div>
      <p id="action-message" class="notice ok" role="status" data-testid="action-message" hidden></p>
      <p id="action-error" class="notice error" role="alert" data-testid="action-error" hidden></p>
    </section>
    <section id="demo-section" aria-labelledby="demo-h" data-testid="demo" hidden>
      <h2 id="demo-h">Demo origins</h2>
      <p class="small muted">Local origins run by this demo: stop one and watch the failover.</p>
      <p id="demo-locked" class="small muted">Unlock actions to stop or start them.</p>
      <ul id="demo-origins" class="records"></ul>
    </section>
  </div>
  <section id="timeline-section" aria-labelledby="timeline-h">
    <h2 id="timeline-h">Timeline <span id="timeline-count" class="small muted" data-testid="timeline-count"></span></h2>
    <div class="row">
      <label for="timeline-filter">Filter</label>
      <input id="timeline-filter" type="search" placeholder="text in the events" autocomplete="off" data-testid="timeline-filter">
    </div>
    <fieldset><legend>Kinds</legend><div id="kinds" data-testid="kinds"></div></fieldset>
    <ol id="timeline" class="timeline" data-testid="timeline" aria-live="off"></ol>
    <p id="timeline-empty" class="muted" hidden>No events match.</p>
  </section>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
