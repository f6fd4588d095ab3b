/**
 * The edge's access log: one JSON line per request on stdout (origin used, failovers, cache hit,
 * bytes, duration). Lines are gathered and written once per turn of the event loop, so a busy
 * edge makes one write for many requests instead of one each.
 */
import type { Served } from './respond.ts';

export interface AccessLine {
  method: string | undefined;
  path: string | undefined;
  served: Served;
  ms: number;
  protocol: string;
}

export class AccessLog {
  private pending: string[] = [];
  private scheduled = false;

  constructor(private readonly write: (text: string) => void = (text) => process.stdout.write(text)) {}

  add(line: AccessLine): void {
    const { served } = line;
    this.pending.push(
      JSON.stringify({
        time: new Date().toISOString(),
        method: line.method,
        path: line.path,
        status: served.status,
        protocol: line.protocol,
        release: served.release,
        source: served.source,
        failovers: served.failovers,
        cache: served.cacheOnly
          ? 'only'
          : served.cacheHit
            ? 'hit'
            : served.source === undefined
              ? 'none'
              : 'miss',
        bytes: served.bytes,
        ms: Math.round(line.ms * 10) / 10,
      }),
    );
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => this.flush());
  }

  flush(): void {
    this.scheduled = false;
    if (this.pending.length === 0) return;
    const text = `${this.pending.join('\n')}\n`;
    this.pending = [];
    this.write(text);
  }
}
