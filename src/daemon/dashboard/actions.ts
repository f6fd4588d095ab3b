/**
 * The actions (failback, pause, resume, force) and the demo's stop/start buttons, all sent with the
 * watcher's token as Bearer. The page is read-only until it has the token: typed into the unlock
 * form, or taken from the address's fragment (`#token=…`, what `outlast demo` prints; a fragment
 * is never sent to a server), and then kept in sessionStorage (this tab only).
 */
import { $, $input, h, setClass, setText, show } from './dom.ts';
import { clock } from './format.ts';
import { state, TOKEN_KEY } from './state.ts';
import type { StatusJson } from './wire.ts';

export interface Actions {
  renderActions(s: StatusJson | null): void;
  renderDemo(): void;
}

interface DemoRow {
  badge: HTMLElement;
  stop: HTMLButtonElement;
  start: HTMLButtonElement;
}

/** Wires the forms and buttons; `refresh` is called after every action, whatever its outcome. */
export function createActions(refresh: () => void): Actions {
  const demoRows = new Map<string, DemoRow>();
  const unlocked = () => !!state.token;

  function keepToken(token: string): void {
    state.token = token;
    try {
      sessionStorage.setItem(TOKEN_KEY, token);
    } catch {
      // private mode: this page only
    }
  }

  function renderActions(s: StatusJson | null): void {
    show($('unlock-form'), !unlocked());
    show($('actions'), unlocked());
    if (!s) return;
    show($('action-pause'), !s.paused);
    show($('action-resume'), s.paused);
    setClass($('action-failback'), s.awaitingFailback ? 'primary' : '');
    const box = $('force-origins');
    const key = s.origins.map((o) => o.originId).join(' ');
    if (box.getAttribute('data-origins') !== key) {
      box.setAttribute('data-origins', key);
      box.textContent = '';
      for (const o of s.origins) {
        const label = h('label', { class: 'check' });
        const input = h('input', {
          type: 'checkbox',
          value: o.originId,
          'data-testid': `force-${o.originId}`,
        });
        label.append(input, document.createTextNode(o.originId));
        box.appendChild(label);
      }
    }
  }

  function say(kind: 'ok' | 'error', text: string): void {
    const ok = $('action-message');
    const bad = $('action-error');
    setText(ok, kind === 'ok' ? text : '');
    show(ok, kind === 'ok');
    setText(bad, kind === 'error' ? text : '');
    show(bad, kind === 'error');
  }

  function setBusy(on: boolean): void {
    for (const button of document.querySelectorAll<HTMLButtonElement>('button[data-action]')) {
      button.disabled = on;
    }
  }

  /** POSTs `body` to `path` with the token; says how it went; true when it was done. */
  async function post(path: string, body: object, what: string): Promise<boolean> {
    if (!state.token) {
      say('error', 'Unlock actions with the token first.');
      return false;
    }
    state.busy = true;
    setBusy(true);
    let ok = false;
    try {
      const res = await fetch(path, {
        method: 'POST',
        headers: { authorization: `Bearer ${state.token}`, 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const data = (await res.json().catch(() => ({}))) as { error?: string };
      if (res.status === 401) {
        say('error', 'Refused (401): the server did not accept the token. Lock, then enter the right token.');
      } else if (!res.ok) {
        say('error', `${what} failed (${res.status}): ${data.error || res.statusText}`);
      } else {
        say('ok', `${what}: done at ${clock(new Date().toISOString())}.`);
        ok = true;
      }
    } catch (error) {
      say(
        'error',
        `${what} failed: ${error instanceof Error && error.message ? error.message : 'network error'}`,
      );
    }
    state.busy = false;
    setBusy(false);
    refresh();
    return ok;
  }

  function renderDemo(): void {
    const d = state.demo;
    show($('demo-section'), !!d);
    if (!d) return;
    show($('demo-locked'), !unlocked());
    const list = $('demo-origins');
    for (const o of d.origins) {
      let r = demoRows.get(o.id);
      if (!r) {
        const li = h('li', { class: 'row', 'data-testid': `demo-${o.id}` });
        const name = h('strong', null, o.id);
        const badge = h('span', { class: 'badge', 'data-testid': `demo-state-${o.id}` });
        const stop = h(
          'button',
          { type: 'button', class: 'danger', 'data-action': 'demo', 'data-testid': `demo-stop-${o.id}` },
          `Stop ${o.id}`,
        );
        const start = h(
          'button',
          { type: 'button', 'data-action': 'demo', 'data-testid': `demo-start-${o.id}` },
          `Start ${o.id}`,
        );
        stop.addEventListener('click', () => demoAction(o.id, 'stop'));
        start.addEventListener('click', () => demoAction(o.id, 'start'));
        li.append(name, badge, stop, start);
        list.appendChild(li);
        r = { badge, stop, start };
        demoRows.set(o.id, r);
      }
      setText(r.badge, o.running ? 'running' : 'stopped');
      setClass(r.badge, `badge ${o.running ? 'running' : 'stopped'}`);
      show(r.stop, unlocked() && o.running);
      show(r.start, unlocked() && !o.running);
    }
  }

  function demoAction(id: string, verb: 'stop' | 'start'): void {
    void post(
      `demo/origins/${encodeURIComponent(id)}/${verb}`,
      {},
      `${verb === 'stop' ? 'Stop' : 'Start'} ${id}`,
    );
  }

  /** A token in the fragment unlocks the page; it is then taken out of the address (and history). */
  function takeTokenFromAddress(): void {
    const params = new URLSearchParams(location.hash.slice(1));
    if (!params.has('token')) return;
    const token = params.get('token')?.trim();
    params.delete('token');
    const rest = params.toString();
    history.replaceState(history.state, '', location.pathname + location.search + (rest ? `#${rest}` : ''));
    if (!token) return;
    keepToken(token);
    say('ok', 'Actions unlocked in this tab.');
    renderActions(state.status);
    renderDemo();
  }

  try {
    state.token = sessionStorage.getItem(TOKEN_KEY);
  } catch {
    state.token = null;
  }
  takeTokenFromAddress();
  window.addEventListener('hashchange', takeTokenFromAddress);

  $('unlock-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = $input('token');
    const value = input.value.trim();
    if (!value) {
      say('error', "Enter the token (the state folder's token file, or OUTLAST_TOKEN).");
      return;
    }
    keepToken(value);
    input.value = '';
    say('ok', 'Actions unlocked in this tab.');
    renderActions(state.status);
    renderDemo();
  });
  $('action-lock').addEventListener('click', () => {
    state.token = null;
    try {
      sessionStorage.removeItem(TOKEN_KEY);
    } catch {
      // nothing kept
    }
    say('ok', 'Actions locked.');
    renderActions(state.status);
    renderDemo();
    $('token').focus();
  });
  $('action-failback').addEventListener('click', () => void post('actions/failback', {}, 'Failback'));
  $('action-pause').addEventListener('click', () => void post('actions/pause', {}, 'Pause'));
  $('action-resume').addEventListener('click', () => void post('actions/resume', {}, 'Resume'));
  $('action-force').addEventListener('click', () => {
    const checked = document.querySelectorAll<HTMLInputElement>('#force-origins input:checked');
    const ids = Array.from(checked, (input) => input.value);
    if (ids.length === 0) {
      say('error', 'Check the origin(s) to point DNS to, then Force.');
      return;
    }
    void post('actions/force', { origins: ids }, `Force to ${ids.join(', ')}`);
  });

  return { renderActions, renderDemo };
}
