/**
 * SIGKILL at any moment, then deploy again: the origin converges, and at every moment we stop it
 * the beacon is truthful:
 * - with no deploy marked in progress, every file of the live release is in place, byte for byte;
 * - with a deploy marked in progress (`deploying`), every key of the live release holds the live
 *   content or the incoming one, never a third thing and never nothing;
 * - every kept release can be restored: each of its files is in place or kept as a blob.
 */
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { scanSite } from '../../src/site/scan.ts';
import { checkConverged, checkTruthful, fsOriginView, prng, runCli, siteKeys } from '../helpers/kill.ts';
import { removeSiteFile, setupFsDeploy, writeSite } from '../helpers/site.ts';

const FILES = 240;

test('SIGKILL at random moments never leaves an origin lying, and the next deploy converges', async () => {
  const seed = Number(process.env.OUTLAST_TEST_SEED ?? Date.now() % 100000);
  const random = prng(seed);
  const files: Record<string, string> = {};
  for (let i = 0; i < FILES; i++)
    files[`${i % 7 === 0 ? 'pages' : 'assets'}/f${i}.${i % 7 === 0 ? 'html' : 'css'}`] = `${i} v0 `.repeat(
      200 + (i % 50) * 40,
    );
  const setup = setupFsDeploy({ files, origins: 2, keepReleases: 2, deploy: { concurrency: 4 } });
  after(() => setup.cleanup());
  const args = ['deploy', '--config', setup.configFile, '--no-progress', '--force'];
  let kills = 0;

  for (let round = 1; round <= 8; round++) {
    // A new version: a third of the files change, a few go, a few come.
    for (let i = 0; i < FILES; i++) {
      if (random() < 0.33) writeSite(setup.siteDir, { [`assets/f${i}.css`]: `${i} v${round} `.repeat(300) });
    }
    const existing = siteKeys(setup.siteDir).filter((key) => key.startsWith('assets/'));
    for (let n = 0; n < 5; n++) {
      const victim = existing[Math.floor(random() * existing.length)];
      if (victim && existing.length > 10) {
        try {
          removeSiteFile(setup.siteDir, victim);
        } catch {
          // already removed this round
        }
      }
    }
    writeSite(setup.siteDir, { [`assets/new-${round}.css`]: `new ${round}` });

    // One to three interrupted attempts, each checked, then a full one.
    const attempts = 1 + Math.floor(random() * 3);
    for (let attempt = 0; attempt < attempts; attempt++) {
      const delay = 150 + Math.floor(random() * 900);
      const { signal } = await runCli(args, delay);
      if (signal === 'SIGKILL') kills++;
      for (const [i, dir] of setup.origins.entries())
        await checkTruthful(fsOriginView(dir), `seed ${seed} round ${round} kill ${attempt} origin ${i}`);
    }
    await runCli(args);
    const expected = (await scanSite(setup.config.site)).releaseId;
    for (const [i, dir] of setup.origins.entries()) {
      await checkConverged(
        fsOriginView(dir),
        `seed ${seed} round ${round} converged origin ${i}`,
        expected,
        setup.siteDir,
      );
    }
  }
  assert.ok(kills > 0, 'at least one deploy was killed mid-way');
});
