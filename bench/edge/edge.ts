/**
 * `outlast edge` as the bench runs it: `node bin/outlast.js edge --config FILE` (dist/, built
 * first), a child of the bench stopped by its PID; ready once its admin `/status` names a release
 * (and, when the cache warms, once it holds every file of it).
 */
import { closeSync, openSync, readFileSync } from 'node:fs';
import type { EdgeStatus } from '../../src/edge/types.ts';
import { type Started, startTracked, stopTracked } from './processes.ts';

export interface EdgeOptions {
  bin: string;
  configFile: string;
  listen: string;
  admin: string;
  logFile: string;
  env: NodeJS.ProcessEnv;
  /** Wait for the cache to hold the whole release (cached runs). */
  warm: boolean;
  /** How long start() waits for readiness. */
  timeoutSeconds: number;
}

export class Edge {
  private started: Started | undefined;

  constructor(readonly options: EdgeOptions) {}

  get url(): string {
    return `http://${this.options.listen}`;
  }

  pids(): number[] {
    return this.started ? [this.started.pid] : [];
  }

  async status(): Promise<EdgeStatus> {
    const response = await fetch(`http://${this.options.admin}/status`, {
      signal: AbortSignal.timeout(3000),
    });
    if (!response.ok) throw new Error(`edge /status: ${response.status}`);
    return (await response.json()) as EdgeStatus;
  }

  /** Starts the edge and waits until it is ready; returns how long that took (s). */
  async start(): Promise<number> {
    const began = performance.now();
    // The log file itself is the child's stdout and stderr: a pipe would make the bench read
    // every access-log line, on the cores the edge is measured on.
    const log = openSync(this.options.logFile, 'a');
    this.started = startTracked(
      'outlast edge',
      process.execPath,
      [this.options.bin, 'edge', '--config', this.options.configFile],
      { stdio: ['ignore', log, log], env: this.options.env },
    );
    closeSync(log);
    let exit: number | string | undefined;
    void this.started.exited.then((code) => {
      exit = code;
    });
    const deadline = Date.now() + this.options.timeoutSeconds * 1000;
    let last = 'no answer yet';
    while (Date.now() < deadline) {
      if (exit !== undefined)
        throw new Error(`outlast edge exited (${exit}) during start:\n${this.logTail()}`);
      try {
        const status = await this.status();
        const warm = status.cache.warm;
        last = `release ${status.release?.id ?? 'none'}, cache ${warm.held}/${warm.total}`;
        if (status.release && (!this.options.warm || (warm.total > 0 && warm.held >= warm.total))) {
          return (performance.now() - began) / 1000;
        }
      } catch (error) {
        last = String(error);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    throw new Error(
      `outlast edge not ready in ${this.options.timeoutSeconds} s (${last}):\n${this.logTail()}`,
    );
  }

  logTail(): string {
    try {
      return readFileSync(this.options.logFile, 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '(no log)';
    }
  }

  async stop(): Promise<void> {
    if (this.started) await stopTracked(this.started);
    this.started = undefined;
  }
}
