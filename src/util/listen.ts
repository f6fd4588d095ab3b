/** `HOST:PORT` (IPv6 hosts in brackets), as the listen options and flags take it. */
import { OutlastError } from '../errors.ts';

/** Splits `HOST:PORT`; `what` names the option in the error (default `--listen`). */
export function parseListen(listen: string, what = '--listen'): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new OutlastError(
      'invalid_argument',
      `${what} "${listen}": expected HOST:PORT, e.g. 127.0.0.1:8080`,
    );
  }
  return { host: match[1] ?? match[2]!, port };
}
