/**
 * What every etcd client of the cluster shares (the member's in etcd.ts, `outlast status`'s in
 * read.ts): the config's TLS files and login as the `etcd3` client's options, and gRPC's error
 * messages made readable. Imports no client code.
 */
import { readFile } from 'node:fs/promises';
import type { IOptions } from 'etcd3';
import type { ClusterConfig } from './options.ts';

/** The config's login and TLS files (read now) as the client's `auth` and `credentials`. */
export async function etcdSecurity(config: ClusterConfig): Promise<Pick<IOptions, 'auth' | 'credentials'>> {
  const { tls, auth } = config.etcd;
  return {
    ...(auth ? { auth: { username: auth.user, password: auth.password } } : {}),
    ...(tls?.ca
      ? {
          credentials: {
            rootCertificate: await readFile(tls.ca),
            ...(tls.key ? { privateKey: await readFile(tls.key) } : {}),
            ...(tls.cert ? { certChain: await readFile(tls.cert) } : {}),
          },
        }
      : {}),
  };
}

/** The cause in a gRPC error's message, without the status code and the resolver's note. */
export function grpcReason(error: Error): string {
  const last = /Last error: (?:Error: )?(.+?)(?:\. Resolution note:.*)?$/s.exec(error.message)?.[1];
  return (last ?? error.message.replace(/^\d+ [A-Z_]+: /, '')).trim();
}
