/**
 * The dashboard's script, the entry of its bundle: scripts/build-dashboard.mjs bundles it with the
 * modules next to it into the one inline script of the page (src/daemon/dashboard.ts, which also
 * says what the page reads). Browser code: type-checked by this folder's tsconfig.json (DOM, no
 * node types), not by the root one.
 *
 * It is meant to stay open all day: one EventSource, one timer, and cards updated in place.
 */
import { createActions } from './actions.ts';
import { renderDecision, renderNative, renderOrigins, renderProviders } from './cards.ts';
import { renderCluster } from './cluster.ts';
import { $, setClass, setText } from './dom.ts';
import { renderEdges } from './edges.ts';
import { clock } from './format.ts';
import { state } from './state.ts';
import { renderTimeline, wireTimelineFilter } from './timeline.ts';
import type { DemoJson, StatusJson } from './wire.ts';

const baseTitle = document.title;
const actions = createActions(() => void refresh());

// ---- connection ---------------------------------------------------------------------------------

function renderConnection(): void {
  const node = $('connection');
  let label: string;
  let cls: string;
  if (state.sseOpen && state.fetchOk) {
    label = 'live';
    cls = 'live';
  } else if (!state.fetchOk && state.status) {
    label = 'offline, reconnecting';
    cls = 'offline';
  } else if (!state.status) {
    label = 'connecting';
    cls = 'reconnecting';
  } else {
    label = 'reconnecting';
    cls = 'reconnecting';
  }
  setText(node, label);
  setClass(node, `badge ${cls}`);
  node.setAttribute('data-state', cls);
}

let source: EventSource | null = null;

/** The event stream: each `timeline` event means "something changed", so re-fetch the status. */
function connect(): void {
  source?.close();
  const events = new EventSource('events');
  source = events;
  events.onopen = () => {
    state.sseOpen = true;
    renderConnection();
    void refresh();
  };
  events.onerror = () => {
    state.sseOpen = false;
    renderConnection();
    if (events.readyState === EventSource.CLOSED) setTimeout(connect, 5000);
  };
  events.addEventListener('timeline', () => refreshSoon());
}

let soon: ReturnType<typeof setTimeout> | null = null;

/** One refresh for a burst of events. */
function refreshSoon(): void {
  if (soon) return;
  soon = setTimeout(() => {
    soon = null;
    void refresh();
  }, 100);
}

async function fetchStatus(): Promise<StatusJson> {
  const res = await fetch('status', { cache: 'no-store' });
  if (!res.ok) throw new Error(`status ${res.status}`);
  return (await res.json()) as StatusJson;
}

/** The demo controls; false when the server has none; null when that could not be told now. */
async function fetchDemo(): Promise<DemoJson | false | null> {
  try {
    const res = await fetch('demo', { cache: 'no-store' });
    if (res.status === 404) return false;
    if (!res.ok) return null;
    return (await res.json()) as DemoJson;
  } catch {
    return null;
  }
}

/** Fetches everything and renders it; one at a time (a call during one asks for another after it). */
async function refresh(): Promise<void> {
  if (state.fetching) {
    state.again = true;
    return;
  }
  state.fetching = true;
  try {
    const [status, demo] = await Promise.all([
      fetchStatus(),
      state.demo !== false ? fetchDemo() : (false as const),
    ]);
    state.status = status;
    if (demo !== null) state.demo = demo;
    state.fetchOk = true;
    render();
    setText($('updated'), `updated ${clock(new Date().toISOString())}`);
  } catch {
    state.fetchOk = false;
  }
  state.fetching = false;
  renderConnection();
  if (state.again) {
    state.again = false;
    void refresh();
  }
}

/** The fallback when events do not arrive: every 5 s, every 30 s while the tab is hidden. */
function poll(): void {
  setTimeout(() => void refresh().then(poll), document.hidden ? 30000 : 5000);
}

// ---- rendering ----------------------------------------------------------------------------------

function render(): void {
  const s = state.status;
  if (!s) return;
  renderDecision(s);
  renderOrigins(s);
  renderProviders(s);
  renderNative(s);
  renderCluster(s);
  renderEdges(s);
  actions.renderActions(s);
  actions.renderDemo();
  renderTimeline(s);
  const down = s.origins.filter((o) => o.state === 'down').length;
  const title = (down ? `\u26a0 ${down} down \u00b7 ` : '') + baseTitle;
  if (document.title !== title) document.title = title;
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void refresh();
});
wireTimelineFilter();
actions.renderActions(null);
renderConnection();
connect();
void refresh();
poll();
