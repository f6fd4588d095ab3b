/**
 * `outlast check`: the preflight before trusting outlast with production. Config valid (loading
 * it checks), storage credentials work, each origin reachable over its public URL and serving the
 * beacon, HTTPS certificates that cover `site.hostname`, each DNS provider reachable and
 * authoritative for `dns.name`, the S3 website rule (bucket name = host name), and a Rackspace
 * container's CDN (enabled, the url on its CDN host). Writes nothing.
 */
import { checkServerIdentity, connect, type PeerCertificate } from 'node:tls';
import { loadConfig } from '../../config/load.ts';
import type { Config, DnsProviderConfig, OriginConfig } from '../../config/schema.ts';
import { readStatus } from '../../deploy/engine.ts';
import { readBeacon } from '../../deploy/remote.ts';
import { createDnsProvider } from '../../dns/index.ts';
import { isNative } from '../../dns/native/index.ts';
import { messageOf } from '../../errors.ts';
import { probeOrigin } from '../../health/probe.ts';
import { checkCloudFilesCdn } from '../../storage/drivers/swift-cdn.ts';
import { createStore } from '../../storage/index.ts';
import { checkS3Compatible } from '../../storage/s3-compatible-check.ts';
import { EXIT } from '../exit.ts';
import type { GlobalOptions } from '../options.ts';

type Level = 'ok' | 'warn' | 'fail';
interface Finding {
  level: Level;
  subject: string;
  message: string;
}

const MARK: Record<Level, string> = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' };

export async function checkCommand(options: GlobalOptions & { json?: boolean }): Promise<number> {
  const { config, file } = await loadConfig(options.config);
  const findings: Finding[] = [{ level: 'ok', subject: 'config', message: `${file} is valid` }];
  const releases = new Map<string, string | undefined>();

  await Promise.all(
    config.origins.map(async (origin) => {
      findings.push(...(await checkStorage(origin, releases)));
    }),
  );
  // The release most origins serve is the one a probe should see.
  const expected = mostCommon([...releases.values()].filter((id): id is string => id !== undefined));
  await Promise.all(
    config.origins.map(async (origin, index) => {
      findings.push(...(await checkOriginUrl(config, origin, expected)));
      findings.push(...checkS3Website(config, origin));
      // Rackspace: the container CDN-enabled, and the url on its CDN host.
      findings.push(...(await checkCloudFilesCdn(origin, index, config.deploy.purge ?? false)));
      findings.push(...checkS3Compatible(origin));
    }),
  );
  findings.push(...(await checkDns(config)));

  const order: Record<Level, number> = { fail: 0, warn: 1, ok: 2 };
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ findings }, null, 2)}\n`);
  } else {
    for (const finding of findings.sort(
      (a, b) => a.subject.localeCompare(b.subject) || order[a.level] - order[b.level],
    )) {
      process.stdout.write(`${MARK[finding.level]}  ${finding.subject}: ${finding.message}\n`);
    }
    const failed = findings.filter((finding) => finding.level === 'fail').length;
    const warned = findings.filter((finding) => finding.level === 'warn').length;
    process.stdout.write(
      `\n${failed === 0 ? 'ready' : 'NOT ready'}: ${failed} failed, ${warned} warning(s), ${findings.length - failed - warned} ok\n`,
    );
  }
  return findings.some((finding) => finding.level === 'fail') ? EXIT.failed : EXIT.ok;
}

async function checkStorage(
  origin: OriginConfig,
  releases: Map<string, string | undefined>,
): Promise<Finding[]> {
  const subject = `origin ${origin.id} storage`;
  const store = await createStore(origin, { attempts: 2 });
  try {
    const beacon = await readBeacon(store);
    releases.set(origin.id, beacon?.release);
    return [
      beacon
        ? {
            level: 'ok',
            subject,
            message: `credentials work; serves release ${beacon.release} since ${beacon.deployedAt}`,
          }
        : {
            level: 'warn',
            subject,
            message: 'credentials work; nothing deployed yet (run `outlast deploy`)',
          },
    ];
  } catch (error) {
    return [{ level: 'fail', subject, message: messageOf(error) }];
  } finally {
    await store.close().catch(() => undefined);
  }
}

async function checkOriginUrl(
  config: Config,
  origin: OriginConfig,
  expected: string | undefined,
): Promise<Finding[]> {
  const subject = `origin ${origin.id} url`;
  if (!origin.url) {
    return config.dns
      ? [{ level: 'fail', subject, message: 'no url: health checks cannot probe this origin' }]
      : [{ level: 'warn', subject, message: 'no url: it cannot take part in failover' }];
  }
  const findings: Finding[] = [];
  const result = await probeOrigin(
    { originId: origin.id, url: origin.url, ...(origin.hostHeader ? { hostHeader: origin.hostHeader } : {}) },
    {
      path: config.health.path,
      timeoutMs: config.health.timeout,
      expectStatus: config.health.expectStatus,
      ...(expected ? { expectedRelease: expected } : {}),
    },
  );
  findings.push(
    result.ok
      ? {
          level: 'ok',
          subject,
          message: `${origin.url} serves the beacon (release ${result.release}) in ${result.latencyMs} ms`,
        }
      : { level: 'fail', subject, message: `${origin.url}${config.health.path}: ${result.error}` },
  );
  if (new URL(origin.url).protocol === 'https:') findings.push(await checkCertificate(config, origin));
  return findings;
}

/** Once DNS points at the origin, browsers ask it for site.hostname: its certificate must cover that. */
async function checkCertificate(config: Config, origin: OriginConfig): Promise<Finding> {
  const subject = `origin ${origin.id} certificate`;
  const url = new URL(origin.url!);
  const hostname = config.site.hostname;
  try {
    const cert = await new Promise<PeerCertificate>((resolve, reject) => {
      const socket = connect(
        {
          host: url.hostname,
          port: Number(url.port || 443),
          servername: hostname,
          rejectUnauthorized: false,
        },
        () => {
          const peer = socket.getPeerCertificate();
          socket.end();
          resolve(peer);
        },
      );
      socket.setTimeout(config.health.timeout, () => socket.destroy(new Error('timed out')));
      socket.once('error', reject);
    });
    const mismatch = checkServerIdentity(hostname, cert);
    const daysLeft = Math.floor((Date.parse(cert.valid_to) - Date.now()) / 86_400_000);
    if (mismatch)
      return { level: 'fail', subject, message: `does not cover ${hostname}: ${mismatch.message}` };
    if (daysLeft < 14)
      return { level: 'warn', subject, message: `covers ${hostname} but expires in ${daysLeft} days` };
    return { level: 'ok', subject, message: `covers ${hostname}, valid for ${daysLeft} more days` };
  } catch (error) {
    return {
      level: 'fail',
      subject,
      message: `cannot read the certificate for ${hostname}: ${messageOf(error)}`,
    };
  }
}

/** S3 website hosting serves a bucket under a host name only when the bucket is named like it. */
function checkS3Website(config: Config, origin: OriginConfig): Finding[] {
  if (origin.storage.type !== 's3') return [];
  const website = origin.url ? /\.s3-website[.-]/.test(new URL(origin.url).hostname) : false;
  if (!website && origin.dns && 'a' in origin.dns) return [];
  if (origin.storage.bucket === config.site.hostname) {
    return [
      {
        level: 'ok',
        subject: `origin ${origin.id} bucket`,
        message: `named ${config.site.hostname}, as website hosting needs`,
      },
    ];
  }
  return [
    {
      level: 'warn',
      subject: `origin ${origin.id} bucket`,
      message:
        `bucket "${origin.storage.bucket}" is not named "${config.site.hostname}": S3 website hosting answers ` +
        'a CNAME to it only when the bucket has the host name as its name (unless a CDN sits in front)',
    },
  ];
}

async function checkDns(config: Config): Promise<Finding[]> {
  if (!config.dns)
    return [
      { level: 'warn', subject: 'dns', message: 'no dns section: outlast deploys but cannot fail over' },
    ];
  const dns = config.dns;
  return Promise.all(
    dns.providers.map(async (providerConfig, index) => {
      const subject = `dns provider ${index + 1} (${providerConfig.type})`;
      if (providerConfig.type === 'embedded') {
        // It is served by `outlast watch` itself: binding its ports here would collide with it.
        return {
          level: 'ok' as const,
          subject,
          message: `outlast's own server for ${providerConfig.zone}, on ${providerConfig.listen.join(', ')} while \`outlast watch\` runs`,
        };
      }
      if (isNative(providerConfig)) return nativeDrift(config, providerConfig, subject);
      try {
        const provider = await createDnsProvider(providerConfig);
        try {
          const sets = await provider.read(dns.name);
          const shown =
            sets.map((set) => `${set.type} ${set.values.join(' ')}`).join(', ') || 'no records yet';
          return {
            level: 'ok' as const,
            subject,
            message: `${provider.describe()} answers for ${dns.name}: ${shown}`,
          };
        } finally {
          await provider.close?.();
        }
      } catch (error) {
        return { level: 'fail' as const, subject, message: messageOf(error) };
      }
    }),
  );
}

/** A native host against the config and the live release: in sync, drifted, or not ours. */
async function nativeDrift(
  config: Config,
  providerConfig: DnsProviderConfig,
  subject: string,
): Promise<Finding> {
  const { createNativeFailover } = await import('../../dns/native/index.ts');
  const { currentRelease, nativeSpec } = await import('../../dns/native/spec.ts');
  try {
    const release = currentRelease((await readStatus(config)).map((status) => status.beacon));
    const native = await createNativeFailover(providerConfig);
    try {
      const plan = await native.plan(nativeSpec(config, release));
      if (plan.foreign.length > 0) {
        return {
          level: 'fail',
          subject,
          message: `${plan.provider}: not outlast's: ${plan.foreign.join('; ')}`,
        };
      }
      if (plan.changes.length > 0) {
        const what = plan.changes.map((change) => `${change.action} ${change.what}`).join(', ');
        return {
          level: 'warn',
          subject,
          message: `${plan.provider} differs from the config (${what}): run outlast dns apply`,
        };
      }
      return { level: 'ok', subject, message: `${plan.provider}: native failover in sync with the config` };
    } finally {
      await native.close();
    }
  } catch (error) {
    return { level: 'fail', subject, message: messageOf(error) };
  }
}

function mostCommon(values: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1])[0]?.[0];
}
