/** `outlast watch`: the daemon, until SIGINT or SIGTERM. */
import { loadConfig } from '../../config/load.ts';
import { startStatusServer } from '../../daemon/http.ts';
import { Watcher } from '../../daemon/watcher.ts';
import type { RunningEdge } from '../../edge/edge.ts';
import { OutlastError } from '../../errors.ts';
import { formatDuration } from '../../util/duration.ts';
import { parseListen } from '../../util/listen.ts';
import { componentLogger } from '../../util/log.ts';
import { EXIT } from '../exit.ts';
import type { GlobalOptions } from '../options.ts';
import { untilStopSignal } from '../signals.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);

export async function watchCommand(
  options: GlobalOptions & { listen?: string; edge?: boolean },
): Promise<number> {
  const { config, file } = await loadConfig(options.config);
  if (options.edge && config.edge === undefined) {
    throw new OutlastError('invalid_argument', `${file}: --edge needs an edge section (README: "The edge")`);
  }
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
  let edge: RunningEdge | undefined;
  const detach: (() => void)[] = [];
  if (options.edge) {
    try {
      // stdout is the watcher's timeline: the access log goes with the logs, to stderr.
      // Loaded only with --edge: a plain watcher does not pay for the edge's modules at start.
      const { startEdge } = await import('../../edge/edge.ts');
      edge = await startEdge({
        config,
        healthView: watcher.healthView(),
        logger: componentLogger('edge'),
        accessLogWrite: (text) => process.stderr.write(text),
      });
    } catch (error) {
      await server.close();
      await watcher.stop();
      throw error;
    }
    detach.push(watcher.attachEdge(edge));
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
  if (edge !== undefined) {
    out(
      `edge: serving ${config.site.hostname} at ${edge.urls.join(' and ')}, using this watcher's health checks`,
    );
  }
  out(`\n${await untilStopSignal()}: stopping`);
  unsubscribe();
  for (const undo of detach) undo();
  await edge?.close();
  await server.close();
  await watcher.stop();
  return EXIT.ok;
}
