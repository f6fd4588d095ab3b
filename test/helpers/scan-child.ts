/**
 * Scans a site in a process of its own and prints the outcome as one JSON line, so that a test can
 * run the scan as another user (as root every file is readable): `{ releaseId, files }` or
 * `{ error, code }`.
 *
 *   node --import tsx test/helpers/scan-child.ts SITE_DIR [CACHE_DIR]
 */
import { isOutlastError } from '../../src/errors.ts';
import { scanSite } from '../../src/site/scan.ts';

const [dir, cacheDir] = process.argv.slice(2);
const site = {
  dir: dir!,
  hostname: 'www.example.com',
  exclude: [],
  indexDocument: 'index.html',
  keepReleases: 3,
  headers: [],
};
try {
  const scan = await scanSite(site, cacheDir === undefined ? {} : { cacheDir });
  process.stdout.write(`${JSON.stringify({ releaseId: scan.releaseId, files: scan.files.length })}\n`);
} catch (error) {
  process.stdout.write(
    `${JSON.stringify({ error: String((error as Error).message), code: isOutlastError(error) ? error.code : undefined })}\n`,
  );
}
