/**
 * `outlast demo` (what `npm start` runs): deploys examples/site to two local directory origins,
 * then prints their status and how to look at them. Needs no config file and no cloud account.
 */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { parseConfig } from '../../config/load.ts';
import { readStatus, runDeploy } from '../../deploy/engine.ts';
import { EXIT } from '../exit.ts';
import { formatBytes, formatCount, shortRelease } from '../format.ts';
import type { GlobalOptions } from '../main.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);
const EXAMPLE_SITE = fileURLToPath(new URL('../../../examples/site', import.meta.url));

/** The demo's config, as a user would write it (printed with --verbose). */
export function demoConfigText(dir: string): string {
  const base = resolve(dir);
  return stringify({
    site: {
      dir: EXAMPLE_SITE,
      hostname: 'www.demo.test',
      indexDocument: 'index.html',
      errorDocument: '404.html',
      keepReleases: 3,
      headers: [
        { match: 'assets/**', cacheControl: 'public, max-age=31536000, immutable' },
        { match: '**/*.html', cacheControl: 'public, max-age=60' },
      ],
    },
    origins: [
      {
        id: 'local-a',
        storage: { type: 'fs', path: resolve(base, 'origins/a') },
        url: 'http://127.0.0.2:8081',
      },
      {
        id: 'local-b',
        storage: { type: 'fs', path: resolve(base, 'origins/b') },
        url: 'http://127.0.0.3:8081',
      },
    ],
  });
}

export async function demoCommand(options: GlobalOptions & { dir: string }): Promise<number> {
  const text = demoConfigText(options.dir);
  if (options.verbose) out(`# the demo's config\n${text}`);
  const { config } = parseConfig(text, '<demo config>');
  out(`outlast demo: publishing ${EXAMPLE_SITE} to two local origins\n`);
  const outcome = await runDeploy({ config });
  out(
    `release ${outcome.releaseId}: ${formatCount(outcome.scan.files.length, 'file')}, ${formatBytes(outcome.scan.totalBytes)}`,
  );
  for (const origin of outcome.origins) {
    if (origin.error) out(`  ${origin.originId}  FAILED: ${origin.error.message}`);
    else if (origin.plan?.noop)
      out(`  ${origin.originId}  already on ${shortRelease(origin.release)}, nothing to do`);
    else
      out(
        `  ${origin.originId}  uploaded ${origin.result?.uploaded ?? 0}, deleted ${origin.result?.deleted ?? 0}`,
      );
  }
  out('\nstatus (read back from each origin’s beacon):');
  for (const status of await readStatus(config)) {
    const where = config.origins.find((origin) => origin.id === status.originId)!;
    const path = where.storage.type === 'fs' ? where.storage.path : '';
    out(
      `  ${status.originId}  ${status.beacon ? `release ${status.beacon.release}, ${status.beacon.files} files` : status.error ? `error: ${status.error.message}` : 'not deployed'}  (${path})`,
    );
  }
  const a = config.origins[0]!;
  out('\nLook at an origin the way a browser would:');
  out(`  npx outlast serve --dir ${a.storage.type === 'fs' ? a.storage.path : ''} --listen 127.0.0.2:8081`);
  out('  curl -i http://127.0.0.2:8081/');
  out('Edit a file in examples/site and run `npm start` again: only that file is uploaded.');
  return outcome.origins.some((origin) => origin.error) ? EXIT.failed : EXIT.ok;
}
