/**
 * `embedded`: outlast is itself the authoritative DNS server of the zone (src/dns/embedded/). The
 * zone is the config's static records (SOA, NS, MX, TXT…) plus the managed sets that `apply`
 * writes; it lives in memory and is answered over UDP and TCP on every `listen` address.
 *
 * The server listens as soon as the provider is created (a port in use fails the creation with
 * `unavailable`), and `close()` stops it. Nothing is persisted: after a restart the managed name
 * has no records until the watcher's first apply, which is its first act.
 *
 * Every apply that changes something builds a new zone snapshot with a new SOA serial,
 * max(serial + 1, Unix time): time-based, so a restarted server still serves a serial above its
 * secondaries' (zone.ts, `nextSerial`), and sends NOTIFY to the secondaries, which then transfer
 * the zone by AXFR (or IXFR, answered as AXFR).
 *
 * `apply` is atomic and compare-and-set in-process, like the memory provider: a set that is
 * neither `before` nor `after` is a `conflict`; an apply that changes nothing bumps no serial.
 */
import { isIP } from 'node:net';
import { OutlastError } from '../../errors.ts';
import { componentLogger } from '../../util/log.ts';
import { checkedDnsProvider, checkSignal, matches, staleChange } from '../checked.ts';
import {
  parseZoneConfig,
  type StaticRecordConfig,
  type ZoneConfig,
  type ZoneDefinition,
} from '../embedded/records.ts';
import { respond } from '../embedded/responder.ts';
import { type Listeners, listen } from '../embedded/server.ts';
import { createNotifier, transferAcl } from '../embedded/transfer.ts';
import { buildZone, managedConflict, nextSerial, type Zone } from '../embedded/zone.ts';
import type { DnsProvider, ManagedType, RecordSet } from '../provider.ts';
import { MANAGED_TYPES } from '../provider.ts';
import type { TsigKey } from '../tsig.ts';
import { formatServer, parseServer, type ServerAddress } from '../wire.ts';
import { EMBEDDED_CAPABILITIES } from './embedded-options.ts';

export interface EmbeddedDnsOptions extends ZoneConfig {
  /** `HOST:PORT` or `[IPV6]:PORT` to serve on (UDP and TCP); port 0 picks a free one. */
  listen: readonly string[];
  records?: readonly StaticRecordConfig[];
  secondaries?: {
    /** `HOST:PORT` of each secondary to send NOTIFY to after every change. */
    notify?: readonly string[];
    /** Addresses or CIDR prefixes that may transfer the zone (default: the `notify` hosts). */
    allowTransfer?: readonly string[];
    /** When set, transfers must be signed with this key, and NOTIFYs are signed with it. */
    tsig?: TsigKey;
  };
  /** Open TCP connections at most (default 100). */
  maxTcpConnections?: number;
  /** A TCP connection idle this long is closed (default 10 s). */
  tcpIdleMs?: number;
}

/** The provider, with what tests and status pages want to know about the server. */
export interface EmbeddedDnsProvider extends DnsProvider {
  /** Where it listens (with the real port when 0 was asked). */
  addresses(): readonly ServerAddress[];
  /** The zone's SOA serial now. */
  serial(): number;
  close(): Promise<void>;
}

const PROVIDER_NAME = 'embedded';

/** Validates the zone, starts the server on every `listen` address and resolves when it answers. */
export async function createEmbeddedProvider(options: EmbeddedDnsOptions): Promise<EmbeddedDnsProvider> {
  const { zone: definition, problems } = parseZoneConfig(options);
  if (problems.length > 0) {
    const lines = problems.map((problem) => `${problem.path.join('.')}: ${problem.message}`);
    throw failure('invalid_config', `the zone is not valid:\n  ${lines.join('\n  ')}`);
  }
  const origin = definition.origin;
  const log = componentLogger('dns', { provider: PROVIDER_NAME, zone: origin });
  const listenAt = options.listen.map((text) => parseListen(text));
  const notifyTargets = (options.secondaries?.notify ?? []).map((text) => parseAddress(text));
  let mayTransfer: (address: string) => boolean;
  try {
    mayTransfer = transferAcl(
      options.secondaries?.allowTransfer ?? notifyTargets.map((target) => target.host),
    );
  } catch (error) {
    throw failure('invalid_config', `secondaries.allowTransfer: ${(error as Error).message}`);
  }
  const key = options.secondaries?.tsig;

  let managed = new Map<string, RecordSet>();
  let zone: Zone = buildZone(definition, [], nextSerial(0, Date.now() / 1000));
  let listeners: Listeners;
  try {
    listeners = await listen({
      listen: listenAt,
      handle: (message, transport, address) =>
        respond({ zone: () => zone, mayTransfer, ...(key ? { key } : {}), log }, message, transport, address),
      log,
      ...(options.maxTcpConnections === undefined ? {} : { maxTcpConnections: options.maxTcpConnections }),
      ...(options.tcpIdleMs === undefined ? {} : { tcpIdleMs: options.tcpIdleMs }),
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw failure(
      'unavailable',
      `cannot listen on ${options.listen.join(', ')}: ${code ?? String(error)}`,
      error,
      {
        hint:
          code === 'EADDRINUSE'
            ? 'another server (or another outlast watch) already serves that address'
            : code === 'EACCES'
              ? 'ports below 1024 need root or CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep $(which node))'
              : undefined,
      },
    );
  }
  const notifier = createNotifier(notifyTargets, key, log);
  log.info(
    { listen: listeners.addresses.map(formatServer), serial: zone.serial },
    'embedded dns server started',
  );
  let closed: Promise<void> | undefined;

  const provider = checkedDnsProvider({
    name: PROVIDER_NAME,
    capabilities: EMBEDDED_CAPABILITIES,

    describe() {
      return `embedded ${origin} @ ${listeners.addresses.map(formatServer).join(', ')}`;
    },

    zone: () => origin,

    async fetch(host) {
      return MANAGED_TYPES.flatMap((type) => {
        const set = managed.get(keyOf(host, type));
        return set ? [{ ...set, values: [...set.values] }] : [];
      });
    },

    async write(changes, _held, { signal }) {
      checkSignal(signal, PROVIDER_NAME);
      const next = new Map(managed);
      for (const change of changes) {
        const key = keyOf(change.name, change.type);
        const stale = staleChange(managed.get(key), change, PROVIDER_NAME);
        if (stale) throw stale;
        if (change.after) next.set(key, change.after);
        else next.delete(key);
      }
      const conflict = managedConflict(definition, [...next.values()]);
      if (conflict) throw failure('invalid_argument', conflict);
      if (sameContent(managed, next)) return;
      managed = next;
      zone = buildZone(definition, [...next.values()], nextSerial(zone.serial, Date.now() / 1000));
      log.info(
        { names: [...new Set(changes.map((change) => change.name))], serial: zone.serial },
        'zone changed',
      );
      notifier.notify(zone);
    },

    close() {
      closed ??= (async () => {
        notifier.close();
        await listeners.close();
      })();
      return closed;
    },
  });

  return {
    ...provider,
    addresses: () => listeners.addresses,
    serial: () => zone.serial,
    close: () => provider.close!(),
  };
}

/** For tests and the demo: the zone as the provider builds it from `options`. */
export function embeddedZoneDefinition(options: ZoneConfig): ZoneDefinition {
  const { zone, problems } = parseZoneConfig(options);
  if (problems.length > 0)
    throw failure('invalid_config', problems.map((problem) => problem.message).join('; '));
  return zone;
}

function failure(
  code: 'invalid_config' | 'invalid_argument' | 'conflict' | 'unavailable',
  message: string,
  cause?: unknown,
  extra: { hint?: string | undefined } = {},
): OutlastError {
  return new OutlastError(code, message, {
    source: PROVIDER_NAME,
    ...(cause === undefined ? {} : { cause }),
    ...(extra.hint === undefined ? {} : { hint: extra.hint }),
  });
}

/** Like parseServer, but port 0 (any free port) is allowed: tests listen there. */
function parseListen(text: string): ServerAddress {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text.trim());
  const host = match?.[1] ?? match?.[2] ?? '';
  const port = Number(match?.[3]);
  if (isIP(host) === 0 || !(port >= 0 && port <= 65535)) {
    throw failure('invalid_config', `listen: expected IP:PORT or [IPV6]:PORT, got ${JSON.stringify(text)}`);
  }
  return { host, port };
}

function parseAddress(text: string): ServerAddress {
  try {
    return parseServer(text);
  } catch (error) {
    throw failure('invalid_config', (error as Error).message);
  }
}

function keyOf(name: string, type: ManagedType): string {
  return `${name} ${type}`;
}

function sameContent(a: Map<string, RecordSet>, b: Map<string, RecordSet>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, set] of a) if (!matches(set, b.get(key))) return false;
  return true;
}
