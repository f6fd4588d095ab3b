/**
 * The timeline: newest event first, filtered by text and by kind (a kind seen for the first time
 * gets its checkbox, checked). Rebuilt only when the events or the filters changed.
 */
import { $, $input, h, setText, show } from './dom.ts';
import { clock } from './format.ts';
import { state } from './state.ts';
import type { StatusJson } from './wire.ts';

export function renderTimeline(s: StatusJson): void {
  const events = s.events;
  const kinds = $('kinds');
  for (const e of events) {
    if (state.kinds[e.kind] !== undefined) continue;
    state.kinds[e.kind] = true;
    const label = h('label', { class: 'check' });
    const input = h('input', { type: 'checkbox', value: e.kind, 'data-testid': `kind-${e.kind}` });
    input.checked = true;
    input.addEventListener('change', () => {
      state.kinds[e.kind] = input.checked;
      if (state.status) renderTimeline(state.status);
    });
    label.append(input, document.createTextNode(e.kind));
    kinds.appendChild(label);
  }
  const filter = state.filter.toLowerCase();
  const last = events.at(-1);
  const key = `${events.length}|${last ? last.at + last.message : ''}|${filter}|${JSON.stringify(state.kinds)}`;
  if (key === state.timelineKey) return;
  state.timelineKey = key;
  const shown = events
    .filter((e) => {
      if (state.kinds[e.kind] === false) return false;
      if (!filter) return true;
      return `${e.kind} ${e.message} ${clock(e.at)}`.toLowerCase().includes(filter);
    })
    .reverse();
  const list = $('timeline');
  list.textContent = '';
  for (const e of shown) {
    const li = h('li', { 'data-testid': 'event', 'data-kind': e.kind });
    const time = h('time', { datetime: e.at, title: e.at }, clock(e.at));
    const kind = h('span', { class: `badge k-${e.kind.replace(/[^a-z0-9-]/gi, '')}` }, e.kind);
    li.append(time, kind, h('span', { class: 'message' }, e.message));
    list.appendChild(li);
  }
  setText(
    $('timeline-count'),
    shown.length === events.length ? `${events.length} events` : `${shown.length} of ${events.length} events`,
  );
  show($('timeline-empty'), shown.length === 0);
}

/** The text filter: the timeline follows each keystroke. */
export function wireTimelineFilter(): void {
  const input = $input('timeline-filter');
  input.addEventListener('input', () => {
    state.filter = input.value;
    if (state.status) renderTimeline(state.status);
  });
}
