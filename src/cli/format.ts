/** Small formatting helpers for what the CLI prints. */

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`;
}

/**
 * 10000 → "10,000". By hand rather than `toLocaleString`: the first call of that loads ICU's
 * number formats, about 30 ms of every command's start-up.
 */
export function groupDigits(count: number): string {
  const [whole = '', fraction] = String(count).split('.');
  const grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return fraction === undefined ? grouped : `${grouped}.${fraction}`;
}

export function formatCount(count: number, noun: string, plural = `${noun}s`): string {
  return `${groupDigits(count)} ${count === 1 ? noun : plural}`;
}

export function formatSeconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** At most `max` items, one per line with `indent`, then "… and N more". */
export function listSome(items: string[], max: number, indent = '    '): string[] {
  const shown = items.slice(0, max).map((item) => `${indent}${item}`);
  if (items.length > max) shown.push(`${indent}… and ${groupDigits(items.length - max)} more`);
  return shown;
}

/** Shortens a release id for tables: r + 8 hex is plenty to tell releases apart. */
export function shortRelease(id: string | undefined): string {
  if (!id) return '(none)';
  return id.length > 9 ? id.slice(0, 9) : id;
}
