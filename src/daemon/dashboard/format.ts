/** How times, ages, releases and latencies read on the page. */

function pad(n: number): string {
  return (n < 10 ? '0' : '') + n;
}

/** `14:03:07` today, `2026-11-30 14:03:07` on another day, `?` for a bad time. */
export function clock(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '?';
  const t = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  if (d.toDateString() === new Date().toDateString()) return t;
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${t}`;
}

/** `42 s ago`, `3 min ago`, `2 h 5 min ago`, `4 d ago`; empty for a bad time. */
export function ago(iso: string): string {
  const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (!Number.isFinite(s)) return '';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A release id's first 12 characters (enough to tell releases apart); empty for none. */
export function shortRelease(id: string | undefined): string {
  if (!id) return '';
  return id.length > 12 ? id.slice(0, 12) : id;
}

export function ms(n: number | undefined): string {
  return n === undefined ? '—' : `${Math.round(n)} ms`;
}

/** `512 B`, `3.4 KiB`, `120 MiB`, `1.5 GiB` (as the CLI prints sizes). */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/** `1,234,567`: digits grouped by hand (no locale, the same on every machine). */
export function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}
