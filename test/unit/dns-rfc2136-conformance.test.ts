// The DNS provider conformance suite (test/conformance/dns.ts) for the rfc2136 provider, once per
// real server: Knot 3.2, BIND 9.18 and PowerDNS 4.7, each signed with TSIG key outlast-key
// (hmac-sha256). Every step is also checked with a plain DNS query at the server. The "other
// writer" of the compare-and-set tests is a second provider with the other key (outlast-key512),
// which reads the set and replaces it.
//
// Servers of this file's own (random ports, started on first use, stopped at the end): the
// shared ones are reset by other test files at any moment, which would wipe records mid-suite.
import { randomInt } from 'node:crypto';
import { after } from 'node:test';
import type { ManagedType, RecordSet } from '../../src/dns/provider.ts';
import { createRfc2136Provider } from '../../src/dns/providers/rfc2136.ts';
import { testDnsProvider } from '../conformance/dns.ts';
import { type DnsServer, type DnsServerKind, query, resetZone, startDnsServer } from '../servers/dns.ts';

const started = new Map<DnsServerKind, Promise<DnsServer>>();

/**
 * A server of this file's own, on a random port. Not startDnsServer's default ports: two test
 * processes probing the same ports at once can both start on one (dns.sh's port check races, and
 * BIND and Knot bind with SO_REUSEPORT), and then each query lands on either server.
 */
async function startPrivateServer(kind: DnsServerKind): Promise<DnsServer> {
  for (let attempt = 0; ; attempt++) {
    // Even (PowerDNS's API takes port + 1) and below Linux's ephemeral range.
    const port = 24000 + 2 * randomInt(0, 4000);
    try {
      return await startDnsServer(kind, { port });
    } catch (error) {
      if (attempt >= 10 || !/\(exit 3\)/.test(String(error))) throw error;
    }
  }
}

function serverFor(kind: DnsServerKind): Promise<DnsServer> {
  let server = started.get(kind);
  if (!server) {
    server = startPrivateServer(kind);
    started.set(kind, server);
  }
  return server;
}

after(async () => {
  const servers = await Promise.allSettled(started.values());
  await Promise.all(
    servers.map((result) => (result.status === 'fulfilled' ? result.value.stop() : undefined)),
  );
});

for (const kind of ['knot', 'bind', 'pdns'] as const) {
  const provider = async (keyIndex: number) => {
    const server = await serverFor(kind);
    return createRfc2136Provider({
      server: `${server.host}:${server.port}`,
      zone: server.zone,
      tsig: server.tsig[keyIndex],
    });
  };

  testDnsProvider({
    name: `rfc2136 on ${kind}`,
    zone: 'example.test',
    create: () => provider(0),
    async resolve(name: string, type: ManagedType) {
      const { answers } = await query(await serverFor(kind), name, type);
      return answers
        .filter((answer) => answer.name === name && answer.type === type)
        .map((answer) => answer.data);
    },
    async reset() {
      await resetZone(await serverFor(kind));
    },
    async changeBehindBack(set: RecordSet | undefined, name: string, type: ManagedType) {
      const other = await provider(1);
      const current = (await other.read(name)).find((found) => found.type === type);
      await other.apply([{ name, type, before: current, after: set }]);
    },
  });
}
