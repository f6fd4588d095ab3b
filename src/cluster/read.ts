/**
 * A one-off, read-only look at a watcher cluster in etcd, for `outlast status`: every live
 * watcher's view (`<prefix>watchers/*`), the election's leader, and the quorum's counts over those
 * views. It writes nothing, takes no lease and joins no election; the `etcd3` client is loaded only
 * here, and closed before it returns. Everything has one short deadline: a cluster without quorum
 * answers nothing, and a status command must not hang on it.
 */
import type { IOptions } from 'etcd3';
import { OutlastError } from '../errors.ts';
import { etcdSecurity, grpcReason as reason } from './connect.ts';
import type { ClusterConfig } from './options.ts';
import { type QuorumResult, quorumView, type WatcherView } from './quorum.ts';

/** How long the whole read may take. */
export const READ_DEADLINE_MS = 3000;

export interface ClusterReading {
  /** The key prefix read (the config's, or `/outlast/<dns.name>/`). */
  prefix: string;
  /** Who leads, as the election says; undefined: nobody. */
  leader: string | undefined;
  /** The live watchers' views, by id. */
  views: WatcherView[];
  /**
   * The quorum's counts over these views, with no previous verdict: an origin neither `quorum`
   * watchers see up nor `quorum` see down is `unknown` here, where the leader keeps its last one.
   */
  quorum: QuorumResult;
}

/** Where a cluster's keys live: the config's prefix, or `/outlast/<dns.name>/` as ClusterMember has it. */
export function clusterPrefix(config: ClusterConfig, dnsName: string): string {
  return config.etcd.prefix ?? `/outlast/${dnsName}/`;
}

/**
 * Reads the cluster of `config` (keys under `prefix`); `origins` are every origin's id. Throws an
 * OutlastError naming the endpoints when etcd does not answer in time (`timeout`), cannot be
 * reached (`unavailable`) or refuses the login (`permission_denied`).
 */
export async function readCluster(
  config: ClusterConfig,
  prefix: string,
  origins: readonly string[],
  deadlineMs = READ_DEADLINE_MS,
): Promise<ClusterReading> {
  const etcd3 = await import('etcd3');
  const { Etcd3 } = etcd3;
  const until = Date.now() + deadlineMs;
  let client: InstanceType<typeof Etcd3> | undefined;
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error('deadline')), deadlineMs);
  });
  try {
    client = new Etcd3(await clientOptions(config, until, deadlineMs));
    const ns = client.namespace(prefix);
    const [values, leader] = await Promise.race([
      Promise.all([ns.getAll().prefix('watchers/').strings(), ns.election('leader').leader()]),
      deadline,
    ]);
    const views = Object.values(values)
      .flatMap((text) => parseView(text))
      .sort((a, b) => a.id.localeCompare(b.id));
    return {
      prefix,
      leader,
      views,
      quorum: quorumView({ views, origins, quorum: config.quorum, previous: {} }),
    };
  } catch (error) {
    const late = Date.now() >= until || (error as Error).message === 'deadline';
    const refused =
      error instanceof etcd3.EtcdAuthenticationFailedError ||
      error instanceof etcd3.EtcdPermissionDeniedError ||
      error instanceof etcd3.EtcdInvalidAuthTokenError;
    const where = `etcd ${config.etcd.endpoints.join(', ')}`;
    throw new OutlastError(
      refused ? 'permission_denied' : late ? 'timeout' : 'unavailable',
      late
        ? `did not answer within ${deadlineMs / 1000} s`
        : `cannot read the cluster: ${reason(error as Error)}`,
      { source: where, cause: error },
    );
  } finally {
    clearTimeout(timer);
    client?.close();
  }
}

/** The client's options: the config's endpoints, TLS and login, every call ending by `until`. */
async function clientOptions(config: ClusterConfig, until: number, deadlineMs: number): Promise<IOptions> {
  return {
    hosts: config.etcd.endpoints,
    dialTimeout: deadlineMs,
    // One deadline for every call and every retry the client makes.
    defaultCallOptions: () => ({ deadline: new Date(until) }),
    ...(await etcdSecurity(config)),
  };
}

/** A view as a watcher published it; nothing for a value that is not one (another tool's key). */
function parseView(text: string): WatcherView[] {
  try {
    const value = JSON.parse(text) as Partial<WatcherView>;
    if (typeof value.id !== 'string' || typeof value.origins !== 'object' || value.origins === null)
      return [];
    return [{ at: '', ...value } as WatcherView];
  } catch {
    return [];
  }
}
