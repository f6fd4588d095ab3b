/**
 * The page's top half: where the name points and why, one card per origin, one per DNS
 * provider, and one per DNS host's own view (native failover). Cards are made once and then updated in place.
 */
import { $, h, setClass, setText, show } from './dom.ts';
import { ago, clock, ms, shortRelease } from './format.ts';
import { sparkline } from './sparkline.ts';
import type { StatusJson } from './wire.ts';

interface OriginCard {
  root: HTMLElement;
  badge: HTMLElement;
  active: HTMLElement;
  url: HTMLElement;
  release: HTMLElement;
  latency: HTMLElement;
  spark: HTMLElement;
  since: HTMLElement;
  cert: HTMLElement;
  error: HTMLElement;
  /** What the sparkline was drawn from: redrawn only when this changes. */
  historyKey: string;
}

interface ProviderCard {
  root: HTMLElement;
  title: HTMLElement;
  records: HTMLElement;
  write: HTMLElement;
  error: HTMLElement;
  pending: HTMLElement;
  recordsKey: string | null;
}

const originCards = new Map<string, OriginCard>();
/** By the provider's place in the config. */
const providerCards: ProviderCard[] = [];

export function renderDecision(s: StatusJson): void {
  setText($('decision-name'), s.name);
  const active = $('decision-active');
  const key = s.active.join(' ');
  if (active.getAttribute('data-origins') !== key) {
    active.textContent = '';
    active.setAttribute('data-origins', key);
    if (s.active.length === 0) active.appendChild(h('span', { class: 'badge down' }, 'no origin yet'));
    for (const id of s.active) active.appendChild(h('span', { class: 'badge accent' }, id));
  }
  setText(
    $('decision-since'),
    s.activeSince ? `since ${clock(s.activeSince)} (${ago(s.activeSince)})` : 'not decided yet',
  );
  setText($('decision-reason'), s.reason || 'no decision yet: waiting for the first health checks');
  show($('flag-paused'), s.paused);
  show($('flag-awaiting-failback'), s.awaitingFailback);
  setText(
    $('decision-policy'),
    `policy ${s.policy} \u00b7 failback ${s.failback} \u00b7 current release ` +
      `${shortRelease(s.currentRelease) || 'not known yet'} \u00b7 watching since ${clock(s.startedAt)}`,
  );
  setText($('expected-seconds'), `about ${s.expectedFailoverSeconds} s`);
}

function originCard(id: string): OriginCard {
  const card = h('article', {
    class: 'card',
    'data-testid': `origin-${id}`,
    'aria-labelledby': `origin-h-${id}`,
  });
  const head = h('div', { class: 'row' });
  const title = h('h3', { id: `origin-h-${id}` }, id);
  const badge = h('span', { class: 'badge', 'data-testid': 'origin-state' });
  const active = h('span', { class: 'badge accent', 'data-testid': 'origin-active' }, 'DNS points here');
  head.append(title, badge, active);
  const url = h('p', { class: 'mono muted' });
  const release = h('p', { class: 'small', 'data-testid': 'origin-release' });
  const latency = h('p', { class: 'small', 'data-testid': 'origin-latency' });
  const spark = h('div', { class: 'spark-wrap' });
  const since = h('p', { class: 'small muted' });
  const cert = h('p', { class: 'notice warn', 'data-testid': 'origin-certificate' });
  const error = h('p', { class: 'notice error', 'data-testid': 'origin-error' });
  card.append(head, url, release, latency, spark, since, cert, error);
  return { root: card, badge, active, url, release, latency, spark, since, cert, error, historyKey: '' };
}

export function renderOrigins(s: StatusJson): void {
  const list = $('origins');
  const seen = new Set<string>();
  s.origins.forEach((o, index) => {
    const id = o.originId;
    seen.add(id);
    let c = originCards.get(id);
    if (!c) {
      c = originCard(id);
      originCards.set(id, c);
    }
    if (list.children[index] !== c.root) list.insertBefore(c.root, list.children[index] ?? null);
    c.root.setAttribute('data-state', o.state);
    c.root.setAttribute('data-active', o.active ? 'true' : 'false');
    setClass(c.root, `card${o.state === 'down' ? ' is-down' : ''}${o.active ? ' is-active' : ''}`);
    setText(c.badge, o.state);
    setClass(c.badge, `badge ${o.state}`);
    show(c.active, o.active);
    setText(c.url, o.url);
    let release: string;
    if (!o.release) release = 'release: not read yet';
    else if (o.onCurrentRelease) release = `release ${shortRelease(o.release)} (current)`;
    else if (s.currentRelease) {
      release = `release ${shortRelease(o.release)} (not the current one, ${shortRelease(s.currentRelease)})`;
    } else release = `release ${shortRelease(o.release)}`;
    if (o.deployedAt) release += `, deployed ${clock(o.deployedAt)}`;
    setText(c.release, release);
    c.release.setAttribute('data-current', o.onCurrentRelease ? 'true' : 'false');
    setText(c.latency, `latency ${ms(o.latencyMs)} \u00b7 last hour:`);
    const last = o.history.at(-1);
    const historyKey = `${o.history.length}|${last ? last.at : ''}`;
    if (historyKey !== c.historyKey) {
      c.historyKey = historyKey;
      c.spark.textContent = '';
      c.spark.appendChild(sparkline(o.history));
    }
    setText(c.since, `${o.state} since ${clock(o.since)} (${ago(o.since)})`);
    setText(c.cert, o.certificateWarning ? `Certificate: ${o.certificateWarning}` : '');
    show(c.cert, !!o.certificateWarning);
    const error = o.lastProbe && !o.lastProbe.ok ? o.lastProbe.error || 'probe failed' : '';
    setText(c.error, error ? `Last probe failed: ${error}` : '');
    show(c.error, !!error);
  });
  for (const [id, card] of originCards) {
    if (!seen.has(id)) {
      card.root.remove();
      originCards.delete(id);
    }
  }
}

function providerCard(index: number): ProviderCard {
  const card = h('article', {
    class: 'card',
    'data-testid': `provider-${index}`,
    'aria-labelledby': `provider-h-${index}`,
  });
  const title = h('h3', { id: `provider-h-${index}` });
  const answers = h('p', { class: 'small muted' }, 'answers now:');
  const records = h('ul', { class: 'records mono', 'data-testid': 'provider-records' });
  const write = h('p', { class: 'small', 'data-testid': 'provider-write' });
  const error = h('p', { class: 'notice error', 'data-testid': 'provider-error' });
  const pending = h('p', { class: 'notice warn', 'data-testid': 'provider-pending' });
  card.append(title, answers, records, write, error, pending);
  return { root: card, title, records, write, error, pending, recordsKey: null };
}

export function renderProviders(s: StatusJson): void {
  const list = $('providers');
  show($('providers-empty'), s.providers.length === 0);
  s.providers.forEach((p, index) => {
    let c = providerCards[index];
    if (!c) {
      c = providerCards[index] = providerCard(index);
      list.appendChild(c.root);
    }
    setText(c.title, p.provider);
    const key = p.records.join('\n');
    if (key !== c.recordsKey) {
      c.recordsKey = key;
      c.records.textContent = '';
      if (p.records.length === 0) c.records.appendChild(h('li', { class: 'muted' }, `nothing at ${s.name}`));
      for (const record of p.records) c.records.appendChild(h('li', null, `${s.name} ${record}`));
    }
    let write: string;
    if (p.lastWriteOk === true) {
      write = `last write succeeded${p.lastWriteAt ? ` at ${clock(p.lastWriteAt)}` : ''}`;
    } else if (p.lastWriteOk === false) write = 'last write FAILED';
    else write = `no write needed yet${p.lastReadAt ? ` (read at ${clock(p.lastReadAt)})` : ''}`;
    setText(c.write, write);
    c.write.setAttribute('data-ok', p.lastWriteOk === false ? 'false' : 'true');
    setText(c.error, p.lastError ? `Error: ${p.lastError}` : '');
    show(c.error, !!p.lastError);
    const pending = p.pending
      ? `Write pending${p.attempts ? `, attempt ${p.attempts}` : ''}` +
        `${p.nextRetryAt ? `, next retry at ${clock(p.nextRetryAt)}` : ''}`
      : '';
    setText(c.pending, pending);
    show(c.pending, p.pending);
  });
  for (const card of providerCards.splice(s.providers.length)) card.root.remove();
}

interface NativeCard {
  root: HTMLElement;
  title: HTMLElement;
  read: HTMLElement;
  origins: HTMLElement;
  error: HTMLElement;
  originsKey: string | null;
}

/** By the native provider's place in the status. */
const nativeCards: NativeCard[] = [];

function nativeCard(index: number): NativeCard {
  const card = h('article', {
    class: 'card',
    'data-testid': `native-${index}`,
    'aria-labelledby': `native-h-${index}`,
  });
  const title = h('h3', { id: `native-h-${index}` });
  const read = h('p', { class: 'small muted', 'data-testid': 'native-read' });
  const origins = h('ul', { class: 'records', 'data-testid': 'native-origins' });
  const error = h('p', { class: 'notice error', 'data-testid': 'native-error' });
  card.append(title, read, origins, error);
  return { root: card, title, read, origins, error, originsKey: null };
}

/** The DNS hosts' own views: per origin, what the host says beside what the watcher sees. */
export function renderNative(s: StatusJson): void {
  const native = s.native ?? [];
  show($('native-section'), native.length > 0);
  const list = $('native');
  native.forEach((n, index) => {
    let c = nativeCards[index];
    if (!c) {
      c = nativeCards[index] = nativeCard(index);
      list.appendChild(c.root);
    }
    setText(c.title, n.provider);
    setText(c.read, n.at ? `read at ${clock(n.at)} (${ago(n.at)})` : 'not read yet');
    const entries = Object.entries(n.origins);
    const key = JSON.stringify(entries);
    if (key !== c.originsKey) {
      c.originsKey = key;
      c.origins.textContent = '';
      if (entries.length === 0)
        c.origins.appendChild(h('li', { class: 'muted' }, 'no verdict from the host yet'));
      for (const [id, o] of entries) {
        const item = h('li', {
          class: 'row',
          'data-origin': id,
          'data-disagrees': o.disagreeingSince ? 'true' : 'false',
        });
        item.append(
          h('span', { class: 'mono' }, id),
          h('span', { class: `badge ${o.host}` }, `host: ${o.host}`),
          h('span', { class: `badge ${o.watcher}` }, `watcher: ${o.watcher}`),
        );
        if (o.detail) item.appendChild(h('span', { class: 'small muted' }, o.detail));
        if (o.disagreeingSince) {
          item.appendChild(h('span', { class: 'badge warn' }, `disagree since ${clock(o.disagreeingSince)}`));
        }
        c.origins.appendChild(item);
      }
    }
    setText(c.error, n.error ? `Error: ${n.error}` : '');
    show(c.error, !!n.error);
  });
  for (const card of nativeCards.splice(native.length)) card.root.remove();
}
