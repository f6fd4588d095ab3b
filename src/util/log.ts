/**
 * Structured logs: JSON lines to stderr, one child logger per component
 * (`componentLogger('deploy')`). The operation is the message, data goes in fields. Level from
 * OUTLAST_LOG_LEVEL (default `warn`, so a CLI run prints only what the user needs; `--verbose` sets
 * `info`, `--debug` sets `debug`). Never log a secret: the usual secret fields are removed anyway.
 *
 * pino writes the lines, but it is loaded only when a line is written at an enabled level: most
 * CLI runs log nothing, and loading pino was 30 ms of every command's start-up. The `Logger` type
 * is the part of pino's interface that outlast uses, so a pino logger (as tests make) is one too.
 */
import { createRequire } from 'node:module';
import type { pino as Pino } from 'pino';

type LogFn = {
  (fields: object, message?: string, ...args: unknown[]): void;
  (message: string, ...args: unknown[]): void;
};

export interface Logger {
  readonly level: string;
  trace: LogFn;
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
  error: LogFn;
  fatal: LogFn;
  isLevelEnabled(level: string): boolean;
  child(bindings: Record<string, unknown>, options?: { level?: string }): Logger;
}

const LEVEL_VALUES: Record<string, number> = {
  trace: 10,
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
  silent: Number.POSITIVE_INFINITY,
};
const METHODS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'] as const;

function levelFromEnv(): string {
  const level = process.env.OUTLAST_LOG_LEVEL;
  return level && level in LEVEL_VALUES ? level : 'warn';
}

let rootLevel = levelFromEnv();
let pinoRoot: Pino.Logger | undefined;

function realRoot(): Pino.Logger {
  if (pinoRoot === undefined) {
    const { pino } = createRequire(import.meta.url)('pino') as typeof import('pino');
    pinoRoot = pino(
      {
        level: 'trace',
        base: undefined,
        redact: {
          paths: ['*.apiKey', '*.secret', '*.password', '*.key', '*.token', '*.authorization'],
          remove: true,
        },
      },
      pino.destination({ fd: 2, sync: true }),
    );
  }
  return pinoRoot;
}

/** A logger whose pino child is made on its first enabled line; the level is checked each call. */
class LazyLogger implements Logger {
  private real: Pino.Logger | undefined;
  declare trace: LogFn;
  declare debug: LogFn;
  declare info: LogFn;
  declare warn: LogFn;
  declare error: LogFn;
  declare fatal: LogFn;

  constructor(
    private readonly bindings: Record<string, unknown>,
    /** This logger's own level; undefined follows the root's (`setLogLevel`). */
    private readonly ownLevel: string | undefined,
  ) {
    for (const method of METHODS) {
      this[method] = ((...args: [object | string, ...unknown[]]) => {
        if (!this.isLevelEnabled(method)) return;
        this.real ??= realRoot().child(this.bindings);
        (this.real[method] as (...all: unknown[]) => void)(...args);
      }) as LogFn;
    }
  }

  get level(): string {
    return this.ownLevel ?? rootLevel;
  }

  isLevelEnabled(level: string): boolean {
    return (LEVEL_VALUES[level] ?? 0) >= (LEVEL_VALUES[this.level] ?? 0);
  }

  child(bindings: Record<string, unknown>, options: { level?: string } = {}): Logger {
    const level =
      options.level !== undefined && options.level in LEVEL_VALUES ? options.level : this.ownLevel;
    return new LazyLogger({ ...this.bindings, ...bindings }, level);
  }
}

export const rootLogger: Logger = new LazyLogger({}, undefined);

export function setLogLevel(level: string): void {
  if (level in LEVEL_VALUES) rootLevel = level;
}

export function componentLogger(component: string, fields: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...fields });
}
