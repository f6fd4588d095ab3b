/** `outlast watch`: the daemon, until SIGINT or SIGTERM. */
import { loadConfig } from '../../config/load.ts';
import { startStatusServer } from '../../daemon/http.ts';
import { Watcher } from '../../daemon/watcher.ts';
import { formatDuration } from '../../util/duration.ts';
import { componentLogger } from '../../util/log.ts';
import { EXIT } from '../exit.ts';
import type { GlobalOptions } from '../options.ts';
import { parseListen } from './serve.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);

export async function watchCommand(options: GlobalOptions & { listen?: string }): Promise<number> {
  const { config } = await loadConfig(options.config);
  const { host, port } = parseListen(options.listen ?? config.watch.listen);
  const logger = componentLogger('watch');
  const watcher = new Watcher({ config, logger });
  const unsubscribe = watcher.subscribe((event) =>
    out(`${event.at}  ${event.kind.padEnd(10)} ${event.message}`),
  );
  await watcher.start();
  const token = await watcher.store.token();
  let server: Awaited<ReturnType<typeof startStatusServer>>;
  try {
    server = await startStatusServer(watcher, { host, port, token, logger });
  } catch (error) {
    await watcher.stop();
    throw error;
  }
  const status = watcher.status();
  out(
    `outlast watch: ${status.name} (${status.policy}, failback ${status.failback}); probing every ` +
      `${formatDuration(config.health.interval)}, down after ${config.health.fall} failures`,
  );
  out(`status: ${server.url}/status   metrics: ${server.url}/metrics   state: ${config.watch.stateDir}`);
  out(
    `expected user-visible failover time: about ${status.expectedFailoverSeconds} s (checks + TTL + browsers' 60 s DNS cache)`,
  );
  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      out(`\n${signal}: stopping`);
      process.off('SIGINT', onInt);
      process.off('SIGTERM', onTerm);
      resolve();
    };
    const onInt = () => stop('SIGINT');
    const onTerm = () => stop('SIGTERM');
    process.on('SIGINT', onInt);
    process.on('SIGTERM', onTerm);
  });
  unsubscribe();
  await server.close();
  await watcher.stop();
  return EXIT.ok;
}
