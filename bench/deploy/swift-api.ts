/**
 * What the benchmark needs from a Swift cluster besides the clients under test: a tempauth token
 * and a container's object count (test/servers/swift.ts's), fresh containers (which s3api also
 * shows as buckets), the PIDs of its servers (for their CPU time) and the count of client requests
 * its proxy logged, which gives every target (peers included) a request count measured the same
 * way, on the server.
 */
import { readFileSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { type SwiftCluster, type SwiftLogin, swiftLogin } from '../../test/servers/swift.ts';

export { containerObjectCount } from '../../test/servers/swift.ts';

/** A tempauth login with the given credentials (bare-put.ts has them from its command line). */
export function tempauthToken(authUrl: string, user: string, key: string): Promise<SwiftLogin> {
  return swiftLogin({ authUrl, user, key });
}

/** PUT a container (idempotent: 201 new, 202 existing). */
export async function createContainer(cluster: SwiftCluster, name: string): Promise<void> {
  const { token, storageUrl } = await swiftLogin(cluster);
  const response = await fetch(`${storageUrl}/${encodeURIComponent(name)}`, {
    method: 'PUT',
    headers: { 'x-auth-token': token },
  });
  if (response.status !== 201 && response.status !== 202) {
    throw new Error(`PUT container ${name} on ${cluster.s3Endpoint}: ${response.status}`);
  }
}

/** The cluster's server PIDs (memcached included), from swift.sh's DATADIR/run/pids. */
export function serverPids(cluster: SwiftCluster): number[] {
  try {
    return readFileSync(join(cluster.dataDir, 'run', 'pids'), 'utf8')
      .split('\n')
      .map((line) => Number(line.split(' ')[0]))
      .filter((pid) => Number.isInteger(pid) && pid > 0);
  } catch {
    return [];
  }
}

/**
 * Counts the client requests the proxy logs from a mark on. proxy-logging writes one line per
 * request; a client's has the client address first, a middleware's subrequest has `- -`:
 *   proxy-server: 127.0.0.1 127.0.0.1 23/Nov/2026/20/21/29 PUT /probe/hi.txt HTTP/1.0 200 …
 */
export class ProxyLog {
  private readonly file: string;

  constructor(cluster: SwiftCluster) {
    this.file = join(cluster.dataDir, 'log', 'proxy.log');
  }

  async mark(): Promise<number> {
    return (await stat(this.file)).size;
  }

  /** Client requests by method since `mark` (tempauth GETs included). */
  async countSince(mark: number): Promise<{ total: number; byMethod: Record<string, number> }> {
    // The proxy writes a request's line just after its response: give the last ones a moment.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const handle = await open(this.file, 'r');
    try {
      const { size } = await handle.stat();
      const buffer = Buffer.alloc(Math.max(0, size - mark));
      await handle.read(buffer, 0, buffer.length, mark);
      const byMethod: Record<string, number> = {};
      let total = 0;
      for (const line of buffer.toString('utf8').split('\n')) {
        const match = /^proxy-server: (\S+) \S+ \d+\/\w+\/\d+\/\S+ ([A-Z]+) \S+ HTTP\//.exec(line);
        if (!match || match[1] === '-') continue;
        const method = match[2]!;
        byMethod[method] = (byMethod[method] ?? 0) + 1;
        total++;
      }
      return { total, byMethod };
    } finally {
      await handle.close();
    }
  }
}
