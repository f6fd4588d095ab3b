/** `outlast serve`: a directory origin over HTTP, until Ctrl-C. */
import { resolve } from 'node:path';
import { OutlastError } from '../../errors.ts';
import { startServer } from '../../serve/server.ts';
import { EXIT } from '../exit.ts';

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]+)):(\d{1,5})$/.exec(listen);
  const port = match ? Number(match[3]) : Number.NaN;
  if (!match || port > 65535) {
    throw new OutlastError(
      'invalid_argument',
      `--listen "${listen}": expected HOST:PORT, e.g. 127.0.0.1:8080`,
    );
  }
  return { host: match[1] ?? match[2]!, port };
}

export async function serveCommand(options: {
  dir: string;
  listen: string;
  prefix?: string;
}): Promise<number> {
  const { host, port } = parseListen(options.listen);
  const server = await startServer({ dir: resolve(options.dir), host, port, prefix: options.prefix });
  process.stdout.write(`serving ${resolve(options.dir)} at ${server.url} (Ctrl-C to stop)\n`);
  await new Promise<void>((done) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      done();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await server.close();
  return EXIT.ok;
}
