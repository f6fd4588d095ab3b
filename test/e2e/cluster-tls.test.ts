/**
 * The watcher cluster against an etcd that asks for TLS with client certificates and a login, as
 * the README recommends for etcd on a network you do not own: a one-member etcd (Debian's, started
 * here by PID, its data on tmpfs) with certificates made by openssl for the test, authentication
 * on, and a user `outlast` allowed read and write under the site's prefix only. The coordinator
 * (src/cluster/etcd.ts) is elected and saves through the fence with the config's `tls` and `auth`;
 * `outlast status`'s reader (read.ts) sees its view; a wrong password, a key outside the prefix
 * and a CA that did not sign the server's certificate are each refused with a clear error.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { type CoordinatorEvents, EtcdCoordinator } from '../../src/cluster/etcd.ts';
import { type ClusterConfig, clusterSchema } from '../../src/cluster/options.ts';
import { readCluster } from '../../src/cluster/read.ts';
import { eventually } from '../helpers/eventually.ts';
import { freePort } from '../helpers/ports.ts';
import { installEtcd } from '../servers/etcd.ts';

const silent = pino({ level: 'silent' });
const PREFIX = '/outlast/www.tls.test/';
const PASSWORD = 'tls-test-password-0123';

/** A CA, a server certificate for 127.0.0.1 and a client certificate, in `dir`. */
function makeCertificates(dir: string): void {
  const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  for (const ca of ['ca', 'other-ca']) {
    ssl(
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=outlast ${ca}`,
      '-keyout',
      `${ca}.key`,
      '-out',
      `${ca}.pem`,
    );
  }
  writeFileSync(
    join(dir, 'server.ext'),
    'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth,clientAuth\n',
  );
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  for (const [name, cn] of [
    ['server', '127.0.0.1'],
    ['client', 'outlast'],
  ] as const) {
    ssl(
      'req',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      `/CN=${cn}`,
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.csr`,
    );
    ssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
      '-out',
      `${name}.pem`,
    );
  }
}

describe('the cluster on an etcd with TLS and a login', { timeout: 120_000 }, () => {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : '/tmp', 'outlast-etcd-tls-'));
  let etcd: ChildProcess | undefined;
  let endpoint = '';
  const ctl = (...args: string[]) =>
    execFileSync(
      'etcdctl',
      [
        `--endpoints=${endpoint}`,
        `--cacert=${join(dir, 'ca.pem')}`,
        `--cert=${join(dir, 'client.pem')}`,
        `--key=${join(dir, 'client.key')}`,
        ...args,
      ],
      { env: { ...process.env, ETCDCTL_API: '3' }, stdio: 'pipe' },
    ).toString();
  const config = (change: { password?: string; ca?: string; prefix?: string } = {}): ClusterConfig =>
    clusterSchema.parse({
      id: 'tls-1',
      etcd: {
        endpoints: [endpoint],
        prefix: change.prefix ?? PREFIX,
        tls: {
          ca: join(dir, change.ca ?? 'ca.pem'),
          cert: join(dir, 'client.pem'),
          key: join(dir, 'client.key'),
        },
        auth: { user: 'outlast', password: change.password ?? PASSWORD },
      },
      leaseTtl: '2s',
    });

  before(async () => {
    await installEtcd();
    makeCertificates(dir);
    const [client, peer] = [await freePort('127.0.0.1'), await freePort('127.0.0.1')];
    endpoint = `https://127.0.0.1:${client}`;
    etcd = spawn(
      'etcd',
      [
        '--name=tls',
        `--data-dir=${join(dir, 'data')}`,
        `--listen-client-urls=${endpoint}`,
        `--advertise-client-urls=${endpoint}`,
        `--listen-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${peer}`,
        `--initial-cluster=tls=http://127.0.0.1:${peer}`,
        `--cert-file=${join(dir, 'server.pem')}`,
        `--key-file=${join(dir, 'server.key')}`,
        `--trusted-ca-file=${join(dir, 'ca.pem')}`,
        '--client-cert-auth',
        '--log-level=warn',
        '--logger=zap',
      ],
      { stdio: 'ignore' },
    );
    await eventually(
      'etcd answers over TLS',
      async () => {
        try {
          ctl('endpoint', 'health'); // exits non-zero until the member is healthy
          return true;
        } catch {
          return false;
        }
      },
      30_000,
    );
    ctl('user', 'add', 'root:root-password');
    ctl('user', 'add', `outlast:${PASSWORD}`);
    ctl('role', 'add', 'outlast');
    ctl('role', 'grant-permission', 'outlast', '--prefix=true', 'readwrite', PREFIX);
    ctl('user', 'grant-role', 'outlast', 'outlast');
    ctl('auth', 'enable');
  });

  after(async () => {
    if (etcd && etcd.exitCode === null) {
      const exited = new Promise((resolve) => etcd!.once('exit', resolve));
      etcd.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('a watcher is elected, saves through the fence and is seen by outlast status', async () => {
    const said: string[] = [];
    const events: CoordinatorEvents = {
      views: () => undefined,
      leader: () => undefined,
      elected: () => said.push('elected'),
      deposed: (reason) => said.push(`deposed: ${reason}`),
      etcd: (reachable, detail) => said.push(`etcd ${reachable}: ${detail}`),
      state: () => undefined,
      action: () => undefined,
    };
    const coordinator = new EtcdCoordinator(config(), PREFIX, events, silent);
    await coordinator.start({ id: 'tls-1', at: new Date().toISOString(), origins: { a: { state: 'up' } } });
    try {
      await eventually('elected', async () => said.includes('elected'), 30_000);
      await coordinator.saveFenced({ state: { by: 'tls-1' }, outbox: [] }, 'save the failover state');
      assert.deepEqual(await coordinator.loadState(), { by: 'tls-1' });
      const reading = await readCluster(config(), PREFIX, ['a']);
      assert.equal(reading.leader, 'tls-1');
      assert.deepEqual(
        reading.views.map((view) => [view.id, view.origins.a?.state]),
        [['tls-1', 'up']],
      );
    } finally {
      await coordinator.stop();
    }
    assert.deepEqual(
      said.filter((line) => line.startsWith('deposed')),
      ['deposed: stopping'],
    );
  });

  it('a wrong password, a key outside the prefix and an unknown CA are clear errors', async () => {
    await assert.rejects(readCluster(config({ password: 'not-it' }), PREFIX, ['a']), (error: Error) => {
      assert.match(error.message, /etcd https:\/\/127\.0\.0\.1:\d+/);
      assert.ok(!error.message.includes('not-it'), 'the password is not in the message');
      return (error as { code?: string }).code === 'permission_denied';
    });
    await assert.rejects(
      readCluster(config({ prefix: '/elsewhere/' }), '/elsewhere/', ['a']),
      (error: Error) => {
        return (
          (error as { code?: string }).code === 'permission_denied' &&
          /permission denied/i.test(error.message)
        );
      },
    );
    await assert.rejects(readCluster(config({ ca: 'other-ca.pem' }), PREFIX, ['a']), (error: Error) => {
      assert.match(error.message, /etcd https:\/\/127\.0\.0\.1:\d+/);
      return ['unavailable', 'timeout'].includes((error as { code?: string }).code ?? '');
    });
  });
});
