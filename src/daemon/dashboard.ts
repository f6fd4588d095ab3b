/**
 * The dashboard `outlast watch` serves at `/`: one self-contained page (inline style and script,
 * nothing fetched from elsewhere) that reads the watcher's own endpoints:
 *
 *   GET  status                     everything shown (re-fetched on every server-sent event, and
 *                                   every 5 s as a fallback; every 30 s while the tab is hidden)
 *   GET  events                     server-sent events: a `timeline` event → re-fetch status
 *   GET  demo                       demo controls, when the server has them (404 otherwise)
 *   POST actions/<action>           failback | pause | resume | force, with the token as Bearer
 *   POST demo/origins/<id>/<verb>   stop | start a local origin, with the token as Bearer
 *
 * This module is the markup and the Content-Security-Policy. The script and the style are real
 * source files in dashboard/ (client.ts and the modules it imports, typed against the DOM;
 * style.css), which scripts/build-dashboard.mjs bundles into dashboard/assets.generated.ts with
 * their sha256 hashes at build time (`npm run build`; `npm test` runs it first).
 *
 * URLs are relative, so the page also works behind a proxy under a path prefix. It is read-only
 * until it has the token: typed in ("unlock actions"), or in the address's fragment
 * (`/#token=…`, which `outlast demo` prints; a fragment is never sent to a server), which the page
 * then removes from the address bar. The token is kept in sessionStorage (this tab only, gone when
 * it closes). Everything from the server is put in the page as text (textContent), never as
 * markup, and the page is sent with a Content-Security-Policy that allows only its own inline
 * script and style (by hash) and connections to its own origin.
 *
 * It is meant to stay open all day: one EventSource, one timer, and cards updated in place (a
 * focused button keeps its focus across refreshes; the timeline is rebuilt only when it changed).
 */
import {
  DASHBOARD_SCRIPT,
  DASHBOARD_SCRIPT_HASH,
  DASHBOARD_STYLE,
  DASHBOARD_STYLE_HASH,
} from './dashboard/assets.generated.ts';
import type { StatusJson } from './dashboard/wire.ts';
import type { WatchStatus } from './watcher.ts';

// The page reads GET /status as dashboard/wire.ts's StatusJson: this stops compiling when what the
// watcher sends no longer fits what the page expects.
true satisfies WatchStatus extends StatusJson ? true : false;

/** The page's Content-Security-Policy: its own inline script and style only, and its own origin. */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  `script-src ${DASHBOARD_SCRIPT_HASH}`,
  `style-src ${DASHBOARD_STYLE_HASH}`,
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
<style>${DASHBOARD_STYLE}</style>
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
  <section id="native-section" aria-labelledby="native-h" data-testid="native" hidden>
    <h2 id="native-h">DNS host's view</h2>
    <p class="small muted">Providers with native failover answer by themselves: the watcher writes nothing
      there, and shows what the host's own checks say beside what it sees.</p>
    <div id="native" class="cards wide" data-testid="native-hosts"></div>
  </section>
  <section id="cluster-section" aria-labelledby="cluster-h" data-testid="cluster" hidden>
    <h2 id="cluster-h">Cluster</h2>
    <p class="row">This watcher: <strong id="cluster-id" class="mono" data-testid="cluster-id"></strong>
      <span id="cluster-role" class="badge" data-testid="cluster-role"></span>
      <span id="cluster-quorum" class="badge" data-testid="cluster-quorum"></span>
      <span id="cluster-quorum-lost" class="badge warn" data-testid="cluster-quorum-lost" hidden>quorum lost</span>
      <span id="cluster-etcd" class="badge" data-testid="cluster-etcd"></span></p>
    <p id="cluster-leader" data-testid="cluster-leader"></p>
    <p id="cluster-quorum-lost-notice" class="notice warn" data-testid="cluster-quorum-lost-notice" hidden></p>
    <p id="cluster-etcd-error" class="notice error" role="alert" data-testid="cluster-etcd-error" hidden></p>
    <div class="table-wrap">
      <table class="cluster" data-testid="cluster-table">
        <caption class="small muted">Every watcher's own view of every origin; the last row is the
          cluster's verdict, which the leader alone feeds to failover.</caption>
        <thead><tr id="cluster-head"></tr></thead>
        <tbody id="cluster-watchers" data-testid="cluster-watchers"></tbody>
        <tfoot id="cluster-verdict" data-testid="cluster-verdict"></tfoot>
      </table>
    </div>
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
<script>${DASHBOARD_SCRIPT}</script>
</body>
</html>
`;
}
