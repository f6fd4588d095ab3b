/**
 * Installs the Debian packages the benchmark runs, when missing: GNU time always, the peers
 * (awscli v2, rclone, python3-swiftclient) when they are measured. One `apt-get update`, then one
 * `apt-get install`; nothing happens when everything is there. The Swift server packages are
 * installed by test/servers/swift.ts (scripts/servers/swift.sh install).
 */
import { execFileSync, spawnSync } from 'node:child_process';

const ALWAYS = ['time'];
const PEERS = ['awscli', 'rclone', 'python3-swiftclient'];

function installed(pkg: string): boolean {
  // dpkg-query's own ${Status} field, not a template placeholder.
  const result = spawnSync('dpkg-query', ['-W', '-f=\u0024{Status}', pkg], { encoding: 'utf8' });
  return result.status === 0 && result.stdout.trim() === 'install ok installed';
}

export function ensurePackages(peers: boolean, log: (line: string) => void): void {
  const missing = [...ALWAYS, ...(peers ? PEERS : [])].filter((pkg) => !installed(pkg));
  if (missing.length === 0) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const apt = (args: string[]) => {
    const [command, ...rest] = [...sudo, 'env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args];
    execFileSync(command!, rest, { stdio: ['ignore', 'inherit', 'inherit'] });
  };
  log(`installing ${missing.join(' ')} (apt-get update, then apt-get install)`);
  const started = performance.now();
  apt(['update', '-qq']);
  apt(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
  log(`installed in ${((performance.now() - started) / 1000).toFixed(0)} s`);
}
