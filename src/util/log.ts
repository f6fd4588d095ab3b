/**
 * Structured logs: one root logger writing JSON lines to stderr, one child per component
 * (`logger.child({ component: 'deploy' })`). The operation is the message, data goes in fields.
 * Level from OUTLAST_LOG_LEVEL (default `warn`, so a CLI run prints only what the user needs;
 * `--verbose` sets `info`, `--debug` sets `debug`). Never log a secret.
 */
import { pino } from 'pino';

export type Logger = pino.Logger;

const LEVELS = new Set(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);

function levelFromEnv(): string {
  const level = process.env.OUTLAST_LOG_LEVEL;
  return level && LEVELS.has(level) ? level : 'warn';
}

export const rootLogger: Logger = pino(
  {
    level: levelFromEnv(),
    base: undefined,
    redact: {
      paths: ['*.apiKey', '*.secret', '*.password', '*.key', '*.token', '*.authorization'],
      remove: true,
    },
  },
  pino.destination({ fd: 2, sync: true }),
);

export function setLogLevel(level: string): void {
  if (LEVELS.has(level)) rootLogger.level = level;
}

export function componentLogger(component: string, fields: Record<string, unknown> = {}): Logger {
  return rootLogger.child({ component, ...fields });
}
