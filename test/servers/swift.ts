// Real single-node OpenStack Swift clusters for tests, run by scripts/servers/swift.sh (Debian's
// Swift 2.30 with tempauth, s3api, staticweb, domain_remap; see shared notes/swift.md).
//
// `npm test` (scripts/test.mjs) starts two clusters once for the whole run and hands them to every
// test process as JSON in OUTLAST_TEST_SWIFT_A / OUTLAST_TEST_SWIFT_B; swiftClustersForTests()
// uses those, and only starts clusters of its own when they are absent (a test file run directly,
// or OUTLAST_TEST_NO_SERVERS=1). Clusters started here are stopped when the process exits, however
// the tests ended.
import { accessSync, constants, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { fromEnv, ServerScript, startOnFreePort } from './process.ts';

export const SWIFT_SH = fileURLToPath(new URL('../../scripts/servers/swift.sh', import.meta.url));

/** What swift.sh writes to DATADIR/cluster.json and what the env variables carry. */
const clusterInfoSchema = z.object({
  ip: z.string(),
  port: z.number().int(),
  /** tempauth v1.0: GET with X-Auth-User / X-Auth-Key. */
  authUrl: z.string(),
  /** The account of `user`, as tempauth returns it in X-Storage-Url. */
  storageUrl: z.string(),
  /** Path-style S3 endpoint (s3api); region us-east-1. */
  s3Endpoint: z.string(),
  s3Region: z.string(),
  /** test:tester, .admin of AUTH_test. */
  user: z.string(),
  key: z.string(),
  /** s3api's access key is tempauth's `account:user`, the secret its key. */
  s3AccessKeyId: z.string(),
  s3SecretAccessKey: z.string(),
  /** test2:tester2, .admin of a second account (AUTH_test2), for isolation checks. */
  user2: z.string(),
  key2: z.string(),
  storageUrl2: z.string(),
  /** domain_remap's storage_domain: Host `<container>.auth-test.<webDomain>` serves a container. */
  webDomain: z.string(),
  dataDir: z.string(),
});

export type SwiftClusterInfo = z.infer<typeof clusterInfoSchema>;

export interface SwiftCluster extends SwiftClusterInfo {
  /** Stops the cluster and deletes its data dir; a no-op for clusters owned by the test runner. */
  stop(): Promise<void>;
}

export const SWIFT_ENV_A = 'OUTLAST_TEST_SWIFT_A';
export const SWIFT_ENV_B = 'OUTLAST_TEST_SWIFT_B';

const swiftSh = new ServerScript(SWIFT_SH);

/** `swift.sh install`, once per process (a no-op taking ~0.1 s when the packages are there). */
export function installSwift(): Promise<void> {
  return swiftSh.install();
}

/**
 * Where data dirs go: /dev/shm is a tmpfs, whose user xattrs (kernel >= 6.6) have no ext4-like
 * 4 KiB limit, so objects with large metadata do not get a 507 (notes G5); swift.sh also copes
 * with other filesystems.
 */
function tempBase(): string {
  try {
    if (statSync('/dev/shm').isDirectory()) {
      accessSync('/dev/shm', constants.W_OK);
      return '/dev/shm';
    }
  } catch {
    // No usable /dev/shm: fall back to the OS temp dir.
  }
  return tmpdir();
}

/** Runs `swift.sh install` (once) then `swift.sh start` in a fresh temp dir. */
export async function startSwiftCluster(options: { ip: string; port: number }): Promise<SwiftCluster> {
  await installSwift();
  return swiftSh.start({
    baseDir: tempBase(),
    prefix: `outlast-swift-${options.ip}-`,
    args: (dataDir) => ['start', dataDir, options.ip, String(options.port)],
    factsFile: 'cluster.json',
    schema: clusterInfoSchema,
  });
}

/**
 * Starts a cluster on `ip` at the first free block of ports from `firstPort` on (steps of 10,
 * since a cluster uses PORT..PORT+4), so that test processes started in parallel, or another
 * `npm test` on the same machine, do not fail on a taken port.
 */
export function startSwiftClusterOnFreePort(ip: string, firstPort = 8080): Promise<SwiftCluster> {
  return startOnFreePort(firstPort, (port) => startSwiftCluster({ ip, port }));
}

let forTests: Promise<{ a: SwiftCluster; b: SwiftCluster }> | undefined;

/**
 * Two independent clusters (A on 127.0.0.2, B on 127.0.0.3 when started here): the runner's
 * when OUTLAST_TEST_SWIFT_A and _B are set, else two of this process's own, stopped at exit.
 * The same pair is returned to every caller in the process.
 */
export function swiftClustersForTests(): Promise<{ a: SwiftCluster; b: SwiftCluster }> {
  forTests ??= (async () => {
    const a = fromEnv(SWIFT_ENV_A, clusterInfoSchema, 'a Swift cluster');
    const b = fromEnv(SWIFT_ENV_B, clusterInfoSchema, 'a Swift cluster');
    if (a && b) return { a, b };
    const [startedA, startedB] = await Promise.allSettled([
      startSwiftClusterOnFreePort('127.0.0.2'),
      startSwiftClusterOnFreePort('127.0.0.3'),
    ]);
    if (startedA.status === 'fulfilled' && startedB.status === 'fulfilled') {
      return { a: startedA.value, b: startedB.value };
    }
    for (const result of [startedA, startedB]) {
      if (result.status === 'fulfilled') await result.value.stop();
    }
    const rejected = [startedA, startedB].find((r): r is PromiseRejectedResult => r.status === 'rejected');
    throw rejected?.reason;
  })();
  return forTests;
}

// --- the native API, for checks beside the code under test ---------------------------------

/** What a tempauth login answers: the token, and the account's URL to use it on. */
export interface SwiftLogin {
  token: string;
  storageUrl: string;
}

/**
 * Logs in through tempauth v1.0 (GET authUrl with X-Auth-User / X-Auth-Key) as `account.user`: a
 * cluster logs in as its own `user`. Rejects unless the answer is a 2xx with both a token and a
 * storage URL.
 */
export async function swiftLogin(account: {
  authUrl: string;
  user: string;
  key: string;
}): Promise<SwiftLogin> {
  const response = await fetch(account.authUrl, {
    headers: { 'x-auth-user': account.user, 'x-auth-key': account.key },
  });
  await response.arrayBuffer();
  const token = response.headers.get('x-auth-token');
  const storageUrl = response.headers.get('x-storage-url');
  if (!response.ok || !token || !storageUrl) {
    throw new Error(`tempauth at ${account.authUrl} answered ${response.status} without a token`);
  }
  return { token, storageUrl };
}

/**
 * The number of objects in `container` of the cluster's `user`, from the container's HEAD (the
 * test clusters update listings synchronously); 0 when the container does not exist.
 */
export async function containerObjectCount(cluster: SwiftClusterInfo, container: string): Promise<number> {
  const { token, storageUrl } = await swiftLogin(cluster);
  const response = await fetch(`${storageUrl}/${encodeURIComponent(container)}`, {
    method: 'HEAD',
    headers: { 'x-auth-token': token },
  });
  if (response.status === 404) return 0;
  const count = response.headers.get('x-container-object-count');
  if (!response.ok || count === null) {
    throw new Error(`HEAD of container ${container} at ${storageUrl}: ${response.status}`);
  }
  return Number(count);
}

/** Empties and deletes `container` of the cluster's `user` (a test's own, on a shared cluster);
 * nothing happens when it does not exist. */
export async function removeContainer(cluster: SwiftClusterInfo, container: string): Promise<void> {
  const { token, storageUrl } = await swiftLogin(cluster);
  const auth = { 'x-auth-token': token };
  const base = `${storageUrl}/${encodeURIComponent(container)}`;
  const listing = await fetch(`${base}?format=json`, { headers: auth });
  const rows = listing.status === 200 ? ((await listing.json()) as Array<{ name: string }>) : [];
  if (listing.status !== 200) await listing.arrayBuffer();
  for (const row of rows) {
    const key = row.name.split('/').map(encodeURIComponent).join('/');
    await (await fetch(`${base}/${key}`, { method: 'DELETE', headers: auth })).arrayBuffer();
  }
  await (await fetch(base, { method: 'DELETE', headers: auth })).arrayBuffer();
}
