/** `outlast serve`: a directory origin over HTTP, until Ctrl-C. */
import { resolve } from 'node:path';
import { startServer } from '../../serve/server.ts';
import { parseListen } from '../../util/listen.ts';
import { EXIT } from '../exit.ts';

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
