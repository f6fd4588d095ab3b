/** An origin's last hour as a small SVG: a latency line for the passed probes, a red mark per failure. */
import { SVG } from './dom.ts';
import { clock, ms } from './format.ts';
import type { ProbePoint } from './wire.ts';

const W = 240;
const H = 36;
const P = 2;

export function sparkline(history: ProbePoint[]): SVGSVGElement {
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('class', 'spark');
  svg.setAttribute('viewBox', `0 0 ${W} ${H}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  svg.setAttribute('data-testid', 'origin-sparkline');
  const base = document.createElementNS(SVG, 'line');
  base.setAttribute('class', 'base');
  base.setAttribute('x1', '0');
  base.setAttribute('x2', String(W));
  base.setAttribute('y1', String(H - 0.5));
  base.setAttribute('y2', String(H - 0.5));
  svg.appendChild(base);
  const first = history[0];
  const last = history.at(-1);
  if (!first || !last) {
    svg.setAttribute('aria-label', 'latency over the last hour: no probes yet');
    return svg;
  }
  const t0 = Date.parse(first.at);
  const t1 = Math.max(Date.parse(last.at), t0 + 1);
  const oks = history.filter((p) => p.ok).map((p) => p.latencyMs);
  const max = Math.max(...oks, 1);
  const x = (at: string) => P + ((Date.parse(at) - t0) / (t1 - t0)) * (W - 2 * P);
  /** The points of the current run of passed probes, as formatted x and y. */
  let run: [string, string][] = [];
  let fails = 0;
  const flush = () => {
    const [only] = run;
    if (!only) return;
    // One point alone would draw nothing: a 1-unit dash instead.
    if (run.length === 1) run.push([(Number.parseFloat(only[0]) + 1).toFixed(1), only[1]]);
    const line = document.createElementNS(SVG, 'polyline');
    line.setAttribute('class', 'line');
    line.setAttribute('points', run.map((point) => point.join(',')).join(' '));
    svg.appendChild(line);
    run = [];
  };
  for (const p of history) {
    if (p.ok) {
      const y = H - P - (p.latencyMs / max) * (H - 2 * P - 2);
      run.push([x(p.at).toFixed(1), y.toFixed(1)]);
    } else {
      flush();
      fails++;
      const mark = document.createElementNS(SVG, 'rect');
      mark.setAttribute('class', 'fail');
      mark.setAttribute('x', (x(p.at) - 1).toFixed(1));
      mark.setAttribute('y', String(H - 8));
      mark.setAttribute('width', '2');
      mark.setAttribute('height', '8');
      svg.appendChild(mark);
    }
  }
  flush();
  const sorted = oks.slice().sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  const label =
    `latency since ${clock(first.at)}: ${history.length} probes, median ${ms(median)}, ` +
    `max ${oks.length ? ms(max) : '\u2014'}, ${fails} failed`;
  svg.setAttribute('aria-label', label);
  const title = document.createElementNS(SVG, 'title');
  title.textContent = label;
  svg.appendChild(title);
  return svg;
}
