/** The DNS hosts of `outlast init`: per provider type, the zone and what else it needs. */
import { type DnsAnswer, type DnsType, TSIG_ALGORITHMS } from '../../config/template.ts';
import { absoluteName } from '../../dns/embedded/records.ts';
import { checkChoice, checkDnsName, checkUrl, checkWord, checkZone, hostPort, zoneOf } from './checks.ts';
import { type Asker, envQuestion, key, list, type Spec } from './questions.ts';

export async function gatherDns(
  spec: Spec,
  asker: Asker,
  name: string | undefined,
): Promise<DnsAnswer | undefined> {
  const type = spec.type as DnsType;
  spec.topic = `DNS ${type}`;
  const zone = (keyName = 'zone', prompt = 'the zone') =>
    key(spec, keyName, asker, {
      prompt,
      ...(name === undefined ? {} : { default: zoneOf(name) }),
      // Without the name there is no default, and the missing --name is what to report.
      optional: name === undefined,
      check: checkZone(name),
    });
  const secretPrefix = (suffixes: string[], base: string) =>
    key(spec, 'env', asker, envQuestion(spec, suffixes, base));
  switch (type) {
    case 'route53': {
      const hostedZoneId = await key(spec, 'hosted-zone-id', asker, {
        prompt: "the hosted zone's id (empty: found by the zone's name)",
        optional: true,
        check: (text) =>
          /^(\/hostedzone\/)?[A-Z0-9]{1,32}$/.test(text)
            ? undefined
            : 'expected a hosted zone id such as Z0123456789ABC',
      });
      const zoneName = hostedZoneId ? undefined : await zone();
      const profile = await key(spec, 'profile', asker, {
        prompt: "an AWS profile (empty: the AWS SDK's standard chain)",
        optional: true,
        check: checkWord('a profile name'),
      });
      if (!hostedZoneId && !zoneName) return undefined;
      return {
        type,
        ...(hostedZoneId ? { hostedZoneId } : { zone: zoneName }),
        ...(profile ? { profile } : {}),
      };
    }
    case 'cloudflare': {
      // Asked on a terminal by name only: the id is for those who know they want it.
      const zoneId = spec.keys.has('zone-id')
        ? await key(spec, 'zone-id', asker, {
            prompt: 'the zone id',
            check: (text) =>
              /^[0-9a-f]{32}$/.test(text) ? undefined : 'expected a zone id of 32 hex digits',
          })
        : undefined;
      const zoneName = zoneId ? undefined : await zone();
      const env = await secretPrefix(['API_TOKEN'], 'CLOUDFLARE');
      if ((!zoneId && !zoneName) || !env) return undefined;
      return { type, ...(zoneId ? { zoneId } : { zone: zoneName }), env };
    }
    case 'dnsmadeeasy': {
      const domain = await zone('domain', 'the domain as managed in DNS Made Easy');
      const env = await secretPrefix(['API_KEY', 'SECRET_KEY'], 'DME');
      if (!domain || !env) return undefined;
      return { type, domain, env };
    }
    case 'powerdns': {
      const url = await key(spec, 'url', asker, {
        prompt: "the API's base URL",
        suggestion: 'http://127.0.0.1:8081',
        check: checkUrl,
      });
      const serverId = await key(spec, 'server-id', asker, {
        prompt: 'the server id',
        default: 'localhost',
        check: checkWord('a server id such as localhost'),
      });
      const zoneName = await zone();
      const env = await secretPrefix(['API_KEY'], 'PDNS');
      if (!url || !serverId || !zoneName || !env) return undefined;
      return { type, url, serverId, zone: zoneName, env };
    }
    case 'rfc2136': {
      const server = await key(spec, 'server', asker, {
        prompt: 'the primary server that takes the updates, HOST[:PORT]',
        example: '192.0.2.53:53',
        check: (text) => (hostPort(text, 53) ? undefined : 'expected HOST or HOST:PORT, e.g. 192.0.2.53:53'),
      });
      const zoneName = await zone();
      const tsig = await key(spec, 'tsig', asker, {
        prompt: 'the name of the TSIG key that signs the updates (none: unsigned)',
        default: 'outlast',
        check: (text) => (text === 'none' ? undefined : checkDnsName(text) && 'expected a key name, or none'),
      });
      const signed = tsig !== undefined && tsig !== 'none';
      const algorithm = signed
        ? ((await key(spec, 'algorithm', asker, {
            prompt: `the TSIG algorithm (${TSIG_ALGORITHMS.join(', ')})`,
            default: 'hmac-sha256',
            check: checkChoice(TSIG_ALGORITHMS),
          })) as (typeof TSIG_ALGORITHMS)[number] | undefined)
        : undefined;
      const env = signed ? await secretPrefix(['SECRET'], 'TSIG') : undefined;
      if (!server || !zoneName || tsig === undefined) return undefined;
      if (signed && (!algorithm || !env)) return undefined;
      return {
        type,
        server: hostPort(server, 53) ?? server,
        zone: zoneName,
        ...(signed && algorithm && env ? { tsig: { name: tsig, algorithm, env } } : {}),
      };
    }
    case 'embedded': {
      const zoneName = await zone();
      const listen = await list(spec, 'listen', asker, {
        prompt: 'the addresses it answers on, HOST:PORT, UDP and TCP',
        default: '0.0.0.0:53',
        check: (text) => (hostPort(text) ? undefined : 'expected HOST:PORT, e.g. 0.0.0.0:53 or [::]:53'),
      });
      const nameservers = await list(spec, 'ns', asker, {
        prompt: 'the host names of the nameservers that run it (its NS records)',
        example: `ns1.${zoneName ?? 'example.com'} ns2.${zoneName ?? 'example.com'}`,
        check: checkDnsName,
      });
      if (!zoneName || !listen || !nameservers) return undefined;
      return { type, zone: zoneName, listen, nameservers: nameservers.map((ns) => `${absoluteName(ns)}.`) };
    }
  }
}
