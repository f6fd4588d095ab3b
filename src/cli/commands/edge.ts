/** `outlast edge`: the front, until SIGINT or SIGTERM. */
import { loadConfig } from '../../config/load.ts';
import { startEdge } from '../../edge/edge.ts';
import { OutlastError } from '../../errors.ts';
import { formatDuration } from '../../util/duration.ts';
import { componentLogger } from '../../util/log.ts';
import { EXIT } from '../exit.ts';
import type { GlobalOptions } from '../options.ts';
import { untilStopSignal } from '../signals.ts';

export async function edgeCommand(
  options: GlobalOptions & { listen?: string; admin?: string },
): Promise<number> {
  const { config, file } = await loadConfig(options.config);
  if (config.edge === undefined) {
    throw new OutlastError(
      'invalid_argument',
      `${file}: no edge section: add one, e.g.\n  edge:\n    listen: 0.0.0.0:8080`,
    );
  }
  const edge = {
    ...config.edge,
    ...(options.listen === undefined ? {} : { listen: options.listen }),
    ...(options.admin === undefined ? {} : { admin: options.admin }),
  };
  const running = await startEdge({ config: { ...config, edge }, logger: componentLogger('edge') });
  const status = running.status();
  const order = status.origins.map((origin) => origin.id).join(' → ');
  // To stderr: stdout is the access log's.
  const say = (line: string) => process.stderr.write(`${line}\n`);
  say(`outlast edge: serving ${config.site.hostname} at ${running.urls.join(' and ')}`);
  say(
    `origins ${order}; first byte ${formatDuration(edge.firstByteTimeout)}, a request gives up after ${formatDuration(edge.requestTimeout)}`,
  );
  say(
    status.release === undefined
      ? 'release: none known yet (no origin answered); requests get 503 until one does'
      : `release ${status.release.id} (${status.release.files} files), cache ${edge.cache.dir}`,
  );
  say(`status: ${running.adminUrl}/status   metrics: ${running.adminUrl}/metrics`);
  say(`${await untilStopSignal()}: stopping`);
  await running.close();
  return EXIT.ok;
}
