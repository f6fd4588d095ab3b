/**
 * A real etcd cluster for the tests of the watcher cluster (scripts/servers/etcd.sh: Debian's
 * etcd-server 3.4, installed when missing). `startEtcdCluster()` starts N members (default 3) on
 * 127.0.0.1 in a fresh data dir on tmpfs when there is one, on the first free ports from 24000
 * (+10, +20, … when taken); `kill(i)` SIGKILLs member i (1-based) by its PID and waits for it to
 * be gone, `restart(i)` starts it again on its data, and `stop()` stops them all and deletes the
 * data dir (also at exit, through process.ts's hooks).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { eventually } from '../helpers/eventually.ts';
import { processAlive, ServerScript, type Stoppable, startOnFreePort } from './process.ts';

export const ETCD_SH = fileURLToPath(new URL('../../scripts/servers/etcd.sh', import.meta.url));
const etcdSh = new ServerScript(ETCD_SH);
const FIRST_PORT = 24000;

const factsSchema = z.object({
  host: z.string(),
  port: z.number().int(),
  endpoints: z.array(z.string()),
  members: z.array(
    z.object({ name: z.string(), clientUrl: z.string(), peerUrl: z.string(), pid: z.number() }),
  ),
  dataDir: z.string(),
});

export type EtcdFacts = z.infer<typeof factsSchema>;

export interface EtcdCluster extends EtcdFacts {
  /** SIGKILLs member `i` (1-based) and waits until its process is gone. */
  kill(i: number): Promise<void>;
  /** Starts member `i` again on its data (after `kill`). */
  restart(i: number): Promise<void>;
  /** Whether member `i` runs now. */
  running(i: number): boolean;
  stop(): Promise<void>;
}

/** Installs etcd (and the tools the cluster tests use) when missing, once per process. */
export function installEtcd(): Promise<void> {
  return etcdSh.install();
}

export async function startEtcdCluster(options: { members?: number } = {}): Promise<EtcdCluster> {
  await installEtcd();
  const members = options.members ?? 3;
  const baseDir = existsSync('/dev/shm') ? '/dev/shm' : tmpdir();
  const started: Stoppable<EtcdFacts> = await startOnFreePort(FIRST_PORT, (port) =>
    etcdSh.start({
      baseDir,
      prefix: 'outlast-etcd-',
      args: (dataDir) => ['start', dataDir, '127.0.0.1', String(port), String(members)],
      factsFile: 'server.json',
      schema: factsSchema,
    }),
  );
  const pids = started.members.map((member) => member.pid);
  const cluster: EtcdCluster = {
    ...started,
    running: (i) => processAlive(pids[i - 1]!),
    async kill(i) {
      const pid = pids[i - 1]!;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
      await eventually(`etcd member m${i} (pid ${pid}) is gone`, async () => !(await isLive(pid)), 10_000);
    },
    async restart(i) {
      const out = await etcdSh.run(['start-member', started.dataDir, String(i)]);
      const pid = Number(/ETCD_MEMBER_PID=(\d+)/.exec(out)?.[1]);
      if (!Number.isInteger(pid)) throw new Error(`etcd.sh start-member said: ${out}`);
      pids[i - 1] = pid;
    },
    stop: () => started.stop(),
  };
  return cluster;
}

/** True while PID runs and is not a zombie. */
async function isLive(pid: number): Promise<boolean> {
  try {
    const stat = await readFile(join('/proc', String(pid), 'stat'), 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return false;
  }
}
