/**
 * Exit codes, and how an error is shown. The only place that maps errors to exit codes.
 */
import { type ErrorCode, isOutlastError } from '../errors.ts';

export const EXIT = {
  /** Everything asked for was done. */
  ok: 0,
  /** Something failed on the way (an origin could not be written, a service was down). */
  failed: 1,
  /** The command line, the config file or the site is wrong; nothing was written. */
  usage: 2,
  /** A safety guard refused the plan (too many deletes); nothing was written. `--force` overrides. */
  refused: 3,
  /** Interrupted by Ctrl-C (SIGINT). */
  interrupted: 130,
} as const;

const USAGE_CODES: ReadonlySet<ErrorCode> = new Set(['invalid_config', 'invalid_site', 'invalid_argument']);

export function exitCodeFor(error: unknown): number {
  if (isOutlastError(error)) {
    if (USAGE_CODES.has(error.code)) return EXIT.usage;
    if (error.code === 'guard_refused') return EXIT.refused;
  }
  return EXIT.failed;
}

/** `error: …` with the hint, and with --debug the chain of causes and the stack. */
export function formatError(error: unknown, options: { debug: boolean }): string {
  const lines: string[] = [];
  if (isOutlastError(error)) {
    lines.push(`error: ${error.message}`);
    if (error.hint) lines.push(`hint: ${error.hint}`);
  } else {
    // Not one of ours: a bug. Say so, with what we know.
    lines.push(`error: ${error instanceof Error ? error.message : String(error)}`);
    if (!options.debug)
      lines.push('(this is a bug in outlast; run again with --debug and report what it prints)');
  }
  if (options.debug) {
    let cause: unknown = error;
    let depth = 0;
    while (cause !== undefined && depth < 8) {
      if (cause instanceof Error)
        lines.push(`  ${depth === 0 ? 'stack' : 'cause'}: ${cause.stack ?? cause.message}`);
      else lines.push(`  cause: ${String(cause)}`);
      cause = cause instanceof Error ? cause.cause : undefined;
      depth++;
    }
  }
  return `${lines.join('\n')}\n`;
}
