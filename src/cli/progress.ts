/**
 * A one-line progress display for a terminal (stderr), redrawn at most ten times a second.
 * On anything that is not a terminal it prints nothing: the summary lines say what happened.
 */
import type { ApplyProgress } from '../deploy/apply.ts';
import { formatBytes } from './format.ts';

export class ProgressLine {
  private readonly origins = new Map<string, ApplyProgress>();
  private scan: { done: number; total: number } | undefined;
  private lastDraw = 0;
  private drawn = false;

  constructor(private readonly stream: NodeJS.WriteStream = process.stderr) {}

  static enabled(wanted: boolean, stream: NodeJS.WriteStream = process.stderr): boolean {
    return wanted && stream.isTTY === true && process.env.CI === undefined;
  }

  onScan(done: number, total: number): void {
    this.scan = { done, total };
    this.draw(done === total);
  }

  onProgress(progress: ApplyProgress): void {
    this.origins.set(progress.originId, progress);
    this.draw(progress.phase === 'done');
  }

  /** Erases the line, so that the next output starts clean. */
  clear(): void {
    if (this.drawn) this.stream.write('\r\x1b[2K');
    this.drawn = false;
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const width = this.stream.columns ?? 100;
    let line: string;
    if (this.origins.size === 0 && this.scan) {
      line = `scanning site  ${bar(this.scan.done, this.scan.total)} ${this.scan.done}/${this.scan.total} files`;
    } else {
      let done = 0;
      let total = 0;
      let bytesDone = 0;
      let bytesTotal = 0;
      const parts: string[] = [];
      for (const progress of this.origins.values()) {
        done += progress.done;
        total += progress.total;
        bytesDone += progress.bytesDone;
        bytesTotal += progress.bytesTotal;
        const percent = progress.total === 0 ? 100 : Math.floor((progress.done * 100) / progress.total);
        parts.push(`${progress.originId} ${progress.phase === 'done' ? 'done' : `${percent}%`}`);
      }
      line = `deploying  ${bar(done, total)} ${formatBytes(bytesDone)}/${formatBytes(bytesTotal)}  ${parts.join('  ')}`;
    }
    this.stream.write(`\r\x1b[2K${line.slice(0, width - 1)}`);
    this.drawn = true;
  }
}

function bar(done: number, total: number, width = 24): string {
  const filled = total === 0 ? width : Math.round((done / total) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}
