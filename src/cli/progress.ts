/**
 * A one-line progress display for a terminal (stderr), redrawn at most ten times a second:
 * per origin the files and bytes done of its plan, then the rate over the last few seconds and
 * an ETA for the slowest origin. On anything that is not a terminal it prints nothing: the
 * summary lines say what happened.
 *
 * The ETA is honest about small files: a site of thousands of small files is bound by requests,
 * not bytes, so each origin's remaining time is the larger of what its recent files-per-second
 * and bytes-per-second rates say; there is none until a few seconds of rate are known.
 */
import type { ApplyProgress } from '../deploy/apply.ts';
import { formatBytes, groupDigits } from './format.ts';

/** Redraws at most this often. */
const DRAW_EVERY_MS = 100;
/** The rate is measured over this much recent time. */
const RATE_WINDOW_MS = 5_000;
/** No rate (and no ETA) before this much of the window is known. */
const RATE_MIN_MS = 1_500;

interface Sample {
  at: number;
  done: number;
  bytes: number;
}

interface OriginView {
  progress: ApplyProgress;
  samples: Sample[];
}

export class ProgressLine {
  private readonly origins = new Map<string, OriginView>();
  private scan: { done: number; total: number } | undefined;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private drawn = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly now: () => number = () => performance.now(),
  ) {}

  static enabled(wanted: boolean, stream: NodeJS.WriteStream = process.stderr): boolean {
    return wanted && stream.isTTY === true && process.env.CI === undefined;
  }

  onScan(done: number, total: number): void {
    this.scan = { done, total };
    this.draw(done === total);
  }

  onProgress(progress: ApplyProgress): void {
    const at = this.now();
    const view = this.origins.get(progress.originId) ?? { progress, samples: [] };
    view.progress = progress;
    view.samples.push({ at, done: progress.done, bytes: progress.bytesDone });
    // Keep one sample older than the window, so the rate always spans the whole window.
    while (view.samples.length > 2 && view.samples[1]!.at <= at - RATE_WINDOW_MS) view.samples.shift();
    this.origins.set(progress.originId, view);
    this.draw(progress.phase === 'done');
  }

  /** Erases the line, so that the next output starts clean. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  /** The line as it would be drawn now on a terminal `width` wide (without its control characters):
   * when the full line does not fit, each origin shows its percentage instead of its counts. */
  line(width = Number.POSITIVE_INFINITY): string {
    if (this.origins.size === 0) {
      if (!this.scan) return '';
      return `scanning site  ${bar(this.scan.done, this.scan.total)} ${groupDigits(this.scan.done)}/${groupDigits(this.scan.total)} files`;
    }
    const now = this.now();
    const parts: string[] = [];
    const compact: string[] = [];
    let bytesPerSecond = 0;
    let rated = false;
    let eta: number | undefined = 0;
    for (const [id, { progress, samples }] of this.origins) {
      parts.push(`${id} ${describe(progress)}`);
      compact.push(`${id} ${progress.phase === 'done' ? 'done' : `${percent(progress)}%`}`);
      const rate = rateOf(samples, now);
      if (rate) {
        bytesPerSecond += rate.bytesPerSecond;
        rated = true;
      }
      const left = secondsLeft(progress, rate);
      eta = eta === undefined || left === undefined ? undefined : Math.max(eta, left);
    }
    const tail = [
      rated ? `${formatBytes(Math.round(bytesPerSecond))}/s` : undefined,
      eta === undefined || !rated ? undefined : `ETA ${clock(eta)}`,
    ].filter((part) => part !== undefined);
    const end = tail.length > 0 ? `  ${tail.join('  ')}` : '';
    const full = `deploying  ${parts.join('  ')}${end}`;
    return full.length < width ? full : `deploying  ${compact.join('  ')}${end}`;
  }

  private draw(force: boolean): void {
    const now = this.now();
    if (!force && now - this.lastDraw < DRAW_EVERY_MS) return;
    this.lastDraw = now;
    const width = this.stream.columns ?? 100;
    this.stream.write(`\r\x1b[2K${this.line(width).slice(0, width - 1)}`);
    this.drawn = true;
  }
}

/** `1,234/10,000 files 20.1 MiB/230 MiB`, or the phase once the uploads are over. */
function describe(progress: ApplyProgress): string {
  if (progress.phase === 'done') return 'done';
  const files = `${groupDigits(progress.done)}/${groupDigits(progress.total)} files`;
  const bytes = `${formatBytes(progress.bytesDone)}/${formatBytes(progress.bytesTotal)}`;
  const phase = progress.phase === 'commit' || progress.phase === 'cleanup' ? ` (${progress.phase})` : '';
  return `${files} ${bytes}${phase}`;
}

/** Of files and bytes, the share done (bytes weigh in only when there are some to send). */
function percent(progress: ApplyProgress): number {
  const files = progress.total === 0 ? 1 : progress.done / progress.total;
  const bytes = progress.bytesTotal === 0 ? files : progress.bytesDone / progress.bytesTotal;
  return Math.floor(Math.min(files, bytes) * 100);
}

function rateOf(
  samples: Sample[],
  now: number,
): { filesPerSecond: number; bytesPerSecond: number } | undefined {
  const first = samples[0];
  const last = samples[samples.length - 1];
  if (!first || !last || samples.length < 2 || now - first.at < RATE_MIN_MS) return undefined;
  const seconds = (now - first.at) / 1000;
  return {
    filesPerSecond: (last.done - first.done) / seconds,
    bytesPerSecond: (last.bytes - first.bytes) / seconds,
  };
}

/** Seconds until the origin is done at its recent rate; undefined when that cannot be told. */
function secondsLeft(
  progress: ApplyProgress,
  rate: { filesPerSecond: number; bytesPerSecond: number } | undefined,
): number | undefined {
  if (progress.phase === 'done') return 0;
  if (!rate) return undefined;
  const files = progress.total - progress.done;
  const bytes = progress.bytesTotal - progress.bytesDone;
  const byFiles = files === 0 ? 0 : rate.filesPerSecond > 0 ? files / rate.filesPerSecond : undefined;
  const byBytes = bytes === 0 ? 0 : rate.bytesPerSecond > 0 ? bytes / rate.bytesPerSecond : undefined;
  return byFiles === undefined || byBytes === undefined ? undefined : Math.max(byFiles, byBytes);
}

/** 75 → `1:15`, 3725 → `1:02:05`. */
function clock(seconds: number): string {
  const total = Math.ceil(seconds);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function bar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
