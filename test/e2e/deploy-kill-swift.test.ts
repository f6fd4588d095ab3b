/**
 * The kill test on the real clouds (issue 14 item 3): one config, two origins on two independent
 * Swift clusters, A through its S3 API and B through Swift's native API; 20 SIGKILLs of
 * `outlast deploy` at random moments while the site moves between versions (now and then back to
 * the one before), then a deploy that converges. A reader browses both origins' public URLs
 * (served anonymously by Swift itself, staticweb for the index) the whole time: it fetches a page,
 * then every asset the page refers to. A broken view is a page whose asset answers 404, or bytes
 * other than those the page names (its sha256, in the page): truncated or of another release.
 * There must be none (the first test). After each kill both origins must be truthful and their
 * kept releases restorable, and the last deploy must converge (test/helpers/kill.ts): the second
 * test, which reads what the first one saw. Half the kills come at a random time, half soon after
 * the deploy starts writing the site's files (so that start-up on a loaded machine cannot eat
 * them all).
 *
 * Assets that change get new names (content-hashed, as a bundler names them; the config serves
 * assets/** as immutable). An asset whose content changed under the same name would break the
 * views of pages fetched just before, on any store and whatever the order of uploads.
 *
 * The seed is printed; OUTLAST_TEST_SEED=N replays a run.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config/load.ts';
import { parseBeacon } from '../../src/release/manifest.ts';
import { BEACON_KEY } from '../../src/release/types.ts';
import { scanSite } from '../../src/site/scan.ts';
import { eventually } from '../helpers/eventually.ts';
import { checkConverged, checkTruthful, type OriginView, prng, runCli } from '../helpers/kill.ts';
import { sha256, writeSite } from '../helpers/site.ts';
import { type SwiftCluster, swiftClustersForTests, swiftLogin } from '../servers/swift.ts';

const KILLS = 20;
const PAGES = 30;
const ASSETS = 170;
const FONTS = 8;
const REFS_PER_PAGE = 6;
const EXTENSIONS = ['css', 'js', 'png', 'jpg'] as const;

const md5 = (bytes: Uint8Array | string) => createHash('md5').update(bytes).digest('hex');

/** One version of the site: each asset's revision (its content and name follow), each page's refs. */
interface Version {
  tag: number;
  revisions: number[];
  pageRefs: number[][];
}

/** The files of a version; every content made is added to `known` (md5 → sha256, for listings). */
function siteFiles(seed: number, version: Version, known: Map<string, string>): Record<string, Buffer> {
  const files: Record<string, Buffer> = {};
  const add = (key: string, bytes: Buffer) => {
    files[key] = bytes;
    known.set(md5(bytes), sha256(bytes));
  };
  const assetKey: string[] = [];
  for (let id = 0; id < ASSETS; id++) {
    const ext = EXTENSIONS[id % EXTENSIONS.length]!;
    const rev = version.revisions[id]!;
    const random = prng(seed * 7919 + id * 104729 + rev);
    const size = 200 + Math.floor(random() * 12_000);
    const bytes =
      ext === 'css' || ext === 'js'
        ? Buffer.from(`/* a${id} r${rev} */\n${`.a${id}-r${rev}{x:${random()}}\n`.repeat(size / 24)}`)
        : Buffer.from(Array.from({ length: size }, () => Math.floor(random() * 256)));
    const key = `assets/${ext}/a${id}.${sha256(bytes).slice(0, 10)}.${ext}`;
    assetKey.push(key);
    add(key, bytes);
  }
  const fonts: string[] = [];
  for (let i = 0; i < FONTS; i++) {
    const key = `assets/fonts/f${i}.woff2`; // never changes: may keep its name
    fonts.push(key);
    add(key, Buffer.from(`font ${i} `.repeat(300 + i * 50)));
  }
  const page = (key: string, prefix: string, refs: number[], n: number) => {
    const ref = (assetPath: string) => `"${prefix}${assetPath}" data-sha256="${sha256(files[assetPath]!)}"`;
    const tags = refs.map((id) => {
      const path = assetKey[id]!;
      if (path.endsWith('.css')) return `<link rel="stylesheet" href=${ref(path)}>`;
      if (path.endsWith('.js')) return `<script src=${ref(path)}></script>`;
      return `<img alt="" src=${ref(path)}>`;
    });
    tags.push(`<link rel="preload" as="font" href=${ref(fonts[n % FONTS]!)}>`);
    add(
      key,
      Buffer.from(
        `<!doctype html>\n<html><head><meta name="release" content="v${version.tag}">\n${tags.join('\n')}\n</head>` +
          `<body><h1>page ${n} of v${version.tag}</h1>\n${'<p>text</p>\n'.repeat(20 + (n % 30))}</body></html>\n`,
      ),
    );
  };
  page('index.html', '', version.pageRefs[0]!, 0);
  for (let n = 1; n <= PAGES; n++) page(`pages/p${n}.html`, '../', version.pageRefs[n]!, n);
  return files;
}

function drawRefs(random: () => number): number[][] {
  return Array.from({ length: PAGES + 1 }, () =>
    Array.from({ length: REFS_PER_PAGE }, () => Math.floor(random() * ASSETS)),
  );
}

/** A container read through Swift's native API (A's bucket is a container of the S3 user's account). */
function swiftOriginView(
  account: { authUrl: string; user: string; key: string },
  container: string,
  known: Map<string, string>,
): OriginView {
  let login: Promise<{ token: string; storageUrl: string }> | undefined;
  const call = async (path: string) => {
    login ??= swiftLogin(account);
    const { token, storageUrl } = await login;
    return fetch(`${storageUrl}/${container}${path}`, { headers: { 'x-auth-token': token } });
  };
  return {
    async read(key) {
      const response = await call(`/${key.split('/').map(encodeURIComponent).join('/')}`);
      const bytes = Buffer.from(await response.arrayBuffer());
      if (response.status === 404) return undefined;
      assert.equal(response.status, 200, `GET ${key} from ${container}`);
      return bytes;
    },
    async contents() {
      const contents = new Map<string, string>();
      let marker = '';
      for (;;) {
        const response = await call(`?format=json&limit=10000&marker=${encodeURIComponent(marker)}`);
        assert.equal(response.status, 200, `listing of ${container}`);
        const page = (await response.json()) as { name: string; hash: string }[];
        if (page.length === 0) return contents;
        // Swift's ETag is the md5 of the bytes it holds; contents made here map it to their sha256.
        for (const { name, hash } of page) contents.set(name, known.get(hash) ?? `md5:${hash}`);
        marker = page.at(-1)!.name;
      }
    },
  };
}

interface Broken {
  origin: string;
  page: string;
  what: string;
}

/** GET `url`: status and bytes, or the transport error's message (Swift itself faltering). */
async function get(url: string | URL): Promise<{ status: number; bytes: Buffer } | { error: string }> {
  try {
    const response = await fetch(url);
    return { status: response.status, bytes: Buffer.from(await response.arrayBuffer()) };
  } catch (error) {
    return { error: `${url}: ${(error as Error).message}` };
  }
}

/**
 * Browses `bases` in turn until `stop()` is called: a page (the index through staticweb, or a
 * page by name), then all its assets at once, as a browser does. Counts views, keeps broken ones.
 */
function startReader(bases: { name: string; url: string }[], random: () => number) {
  let stopping = false;
  const views: Record<string, number> = {};
  const broken: Broken[] = [];
  const errors: string[] = [];
  const loop = (async () => {
    for (let turn = 0; !stopping; turn++) {
      const base = bases[turn % bases.length]!;
      const n = Math.floor(random() * (PAGES + 1));
      const pageUrl = n === 0 ? `${base.url}/` : `${base.url}/pages/p${n}.html`;
      const fail = (what: string) => broken.push({ origin: base.name, page: pageUrl, what });
      const response = await get(pageUrl);
      if ('error' in response) {
        errors.push(response.error);
        continue;
      }
      const page = response.bytes.toString('utf8');
      if (response.status !== 200) {
        fail(`page answered ${response.status}`);
        continue;
      }
      if (!page.startsWith('<!doctype html>') || !page.endsWith('</html>\n')) {
        fail(`page truncated (${page.length} bytes)`);
        continue;
      }
      const refs = [...page.matchAll(/(?:href|src)="([^"]+)" data-sha256="([0-9a-f]{64})"/g)];
      if (refs.length !== REFS_PER_PAGE + 1) fail(`page names ${refs.length} assets`);
      await Promise.all(
        refs.map(async ([, path, expected]) => {
          const asset = await get(new URL(path!, pageUrl));
          if ('error' in asset) errors.push(asset.error);
          else if (asset.status !== 200) fail(`${path} answered ${asset.status}`);
          else if (sha256(asset.bytes) !== expected)
            fail(`${path}: ${asset.bytes.length} bytes, not those of the page's release`);
        }),
      );
      views[base.name] = (views[base.name] ?? 0) + 1;
    }
  })();
  return {
    views,
    broken,
    errors,
    async stop() {
      stopping = true;
      await loop;
    },
  };
}

/**
 * Resolves `delayMs` after a deploy starts writing the site's files: once an origin holds more of
 * `wanted` (key → sha256) than it did at the call; or once `ended()`.
 */
async function afterWrites(
  origins: OriginView[],
  wanted: Map<string, string>,
  delayMs: number,
  ended: () => boolean,
): Promise<void> {
  const inPlace = async (origin: OriginView) => {
    const contents = await origin.contents();
    return [...wanted].filter(([key, sha]) => contents.get(key) === sha).length;
  };
  const before = await Promise.all(origins.map(inPlace));
  let writing = false;
  await eventually(
    'the deploy writes a file of the site, or ends',
    async () => {
      if (ended()) return true;
      const now = await Promise.all(origins.map(inPlace));
      writing = now.some((count, i) => count > before[i]!);
      return writing;
    },
    DEPLOY_DEADLINE_MS,
  );
  // The kill's own moment, drawn by the caller: not a wait for a condition.
  if (writing) await new Promise((resolve) => setTimeout(resolve, delayMs));
}

/** Longer than any deploy here takes on a loaded machine. */
const DEPLOY_DEADLINE_MS = 180_000;

let a: SwiftCluster;
let b: SwiftCluster;
const root = mkdtempSync(join(tmpdir(), 'outlast-kill-swift-'));
after(() => rmSync(root, { recursive: true, force: true }));
before(async () => {
  ({ a, b } = await swiftClustersForTests());
});

/** What the origins claimed falsely during the run (kept, not thrown, so the run goes on). */
let lies: string[] | undefined;

test('20 SIGKILLs on two Swift clusters (S3 API and native) at once: no broken page view', async () => {
  const seed = Number(process.env.OUTLAST_TEST_SEED ?? Date.now() % 100000);
  console.log(`seed ${seed} (OUTLAST_TEST_SEED=${seed} replays it)`);
  const startedAt = performance.now();
  const random = prng(seed);
  const known = new Map<string, string>();
  const siteDir = join(root, 'site');
  const bucket = `kill-${randomBytes(4).toString('hex')}`;
  const container = `kill-${randomBytes(4).toString('hex')}`;
  const env = { TEST_S3_KEY_ID: a.s3AccessKeyId, TEST_S3_SECRET: a.s3SecretAccessKey, TEST_SWIFT_KEY: b.key };
  const doc = {
    site: {
      dir: siteDir,
      hostname: 'www.example.test',
      keepReleases: 2,
      headers: [
        { match: 'assets/**', cacheControl: 'public, max-age=31536000, immutable' },
        { match: '**/*.html', cacheControl: 'public, max-age=60' },
      ],
    },
    origins: [
      {
        id: 'cloud-a',
        storage: {
          type: 's3',
          bucket,
          endpoint: a.s3Endpoint,
          region: a.s3Region,
          forcePathStyle: true,
          credentials: { accessKeyId: '${TEST_S3_KEY_ID}', secretAccessKey: '${TEST_S3_SECRET}' },
        },
      },
      {
        id: 'cloud-b',
        storage: {
          type: 'swift',
          container,
          auth: { type: 'tempauth', url: b.authUrl, user: b.user, key: '${TEST_SWIFT_KEY}' },
        },
      },
    ],
  };
  const configFile = join(root, 'outlast.yaml');
  writeFileSync(configFile, stringify(doc));
  const { config } = parseConfig(stringify(doc), configFile, { env });

  let version: Version = {
    tag: 0,
    revisions: Array.from({ length: ASSETS }, () => 0),
    pageRefs: drawRefs(random),
  };
  const history: Version[] = [version];
  let wanted = new Map<string, string>();
  const writeVersion = (v: Version) => {
    rmSync(siteDir, { recursive: true, force: true });
    mkdirSync(siteDir);
    const files = siteFiles(seed, v, known);
    writeSite(siteDir, files);
    wanted = new Map(Object.entries(files).map(([key, bytes]) => [key, sha256(bytes)]));
  };
  writeVersion(version);

  await runCli(['setup', '--config', configFile, '--create'], undefined, env);
  // staticweb's index on A's bucket: container metadata, which the S3 API cannot set.
  const { token, storageUrl } = await swiftLogin(a);
  const post = await fetch(`${storageUrl}/${bucket}`, {
    method: 'POST',
    headers: { 'x-auth-token': token, 'x-container-meta-web-index': 'index.html' },
  });
  assert.ok(post.ok, `POST web-index: ${post.status}`);
  const args = ['deploy', '--config', configFile, '--no-progress', '--force'];
  const firstAt = performance.now();
  await runCli(args, undefined, env);
  // The first deploy writes every file, a new version about half of them; measured again below
  // whenever a deploy finishes before its kill.
  let fullMs = (performance.now() - firstAt) / 2;

  const views: Record<string, OriginView> = {
    'cloud-a (S3 API)': swiftOriginView(a, bucket, known),
    'cloud-b (Swift API)': swiftOriginView(b, container, known),
  };
  const reader = startReader(
    [
      { name: 'cloud-a', url: `${a.storageUrl}/${bucket}` },
      { name: 'cloud-b', url: `${b.storageUrl}/${container}` },
    ],
    prng(seed + 1),
  );
  const claims: string[] = [];
  lies = claims;
  const lie = (error: Error) => {
    claims.push(error.message.split('\n')[0]!);
  };
  let kills = 0;
  let midDeploy = 0;
  let completed = 0;
  let backToPrevious = 0;
  try {
    while (kills < KILLS) {
      // A new version (a third of the assets change, hence their names, and every page), or
      // now and then the one before again.
      const previous = history.at(-2);
      if (previous && random() < 0.25) {
        version = { ...previous, tag: previous.tag };
        backToPrevious++;
      } else {
        version = {
          tag: history.length,
          revisions: version.revisions.map((rev) => (random() < 0.33 ? history.length : rev)),
          pageRefs: drawRefs(random),
        };
      }
      history.push(version);
      writeVersion(version);
      const attempts = 1 + Math.floor(random() * 3);
      for (let attempt = 0; attempt < attempts && kills < KILLS; attempt++) {
        // Every other kill at any moment, from before the first request to past the end of the
        // last full deploy; the others while the site's files are written (on a loaded machine,
        // start-up can take most of a timed kill's window).
        const timed = random() < 0.5;
        const delay = timed ? 200 + Math.floor(random() * fullMs * 1.2) : Math.floor(random() * 400);
        const when = timed ? `after ${delay} ms` : `${delay} ms into its writes`;
        const begun = performance.now();
        const { signal } = await runCli(
          args,
          timed ? delay : (ended) => afterWrites(Object.values(views), wanted, delay, ended),
          env,
        );
        const label = `seed ${seed} kill ${kills + 1} (v${version.tag}, ${when})`;
        if (signal !== 'SIGKILL') {
          console.log(
            `v${version.tag}: the deploy finished in ${Math.round(performance.now() - begun)} ms, before its kill (${when})`,
          );
          completed++;
          fullMs = performance.now() - begun;
          continue;
        }
        kills++;
        const states: string[] = [];
        for (const [name, origin] of Object.entries(views)) {
          await checkTruthful(origin, `${label} ${name}`).catch(lie);
          const bytes = await origin.read(BEACON_KEY);
          const beacon = bytes && parseBeacon(bytes, label);
          if (beacon && beacon.deploying) midDeploy++;
          states.push(
            `${name.split(' ')[0]} ${!beacon ? 'no beacon' : beacon.deploying ? 'deploying' : beacon.pendingCleanup.length > 0 ? 'cleaning up' : 'committed'}`,
          );
        }
        console.log(`${label}: ${states.join(', ')}`);
      }
    }
    const last = performance.now();
    await runCli(args, undefined, env);
    fullMs = Math.max(fullMs, performance.now() - last);
  } finally {
    await reader.stop();
  }
  const expected = (await scanSite(config.site)).releaseId;
  for (const [name, origin] of Object.entries(views))
    await checkConverged(origin, `seed ${seed} converged ${name}`, expected, siteDir).catch(lie);

  const total = Object.values(reader.views).reduce((sum, n) => sum + n, 0);
  const perOrigin = Object.entries(reader.views).map(([name, n]) => `${name} ${n}`);
  console.log(
    `seed ${seed}: ${kills} SIGKILLs (${midDeploy} origin-moments with a deploy marked in progress), ` +
      `${completed} attempts that finished before their kill, ${history.length} versions ` +
      `(${backToPrevious} back to the one before); ${total} page views (${perOrigin.join(', ')}), ` +
      `${reader.broken.length} broken ${JSON.stringify(reader.broken.slice(0, 3))}; ` +
      `${reader.errors.length} requests Swift failed ${JSON.stringify(reader.errors.slice(0, 3))}; ` +
      `${claims.length} false claims by origins ${JSON.stringify(claims.slice(0, 3))}; ` +
      `${Math.round((performance.now() - startedAt) / 1000)} s`,
  );
  assert.equal(kills, KILLS);
  assert.ok(midDeploy > 0, 'some kills landed while a deploy was writing');
  for (const name of ['cloud-a', 'cloud-b']) assert.ok((reader.views[name] ?? 0) > 0, `views of ${name}`);
  assert.deepEqual(reader.broken.slice(0, 10), [], `seed ${seed}: ${reader.broken.length} broken page views`);
});

test('after every kill both origins were truthful with kept releases restorable, and the last deploy converged', () => {
  assert.ok(lies, 'the kill run ran');
  assert.deepEqual(lies, [], `${lies.length} false claims`);
});
