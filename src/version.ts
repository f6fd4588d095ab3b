/** The package's version, read once from package.json (there is no build step to inline it). */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as {
  version: string;
};

export const VERSION: string = pkg.version;
/** Written into every beacon, so an origin says which tool put it there. */
export const WRITER = `outlast/${VERSION}`;
