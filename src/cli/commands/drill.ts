/**
 * `outlast demo --drill`: the outage, run by the demo itself and measured the way a user would
 * see it, with real DNS queries to the demo's server: stop the primary origin, time until the
 * name answers the secondary; start the primary again, time until the name comes back.
 */
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { OutlastError } from '../../errors.ts';

export interface DrillTarget {
  host: string;
  port: number;
  name: string;
}

export interface DrillReport {
  failoverMs: number;
  failbackMs: number;
  queries: number;
  unanswered: number;
}

/** One A query over UDP; the addresses answered (empty on NXDOMAIN/NODATA), or undefined on no answer. */
export function askA(target: DrillTarget, timeoutMs = 500): Promise<string[] | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket(target.host.includes(':') ? 'udp6' : 'udp4');
    const id = Math.floor(Math.random() * 65535);
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const finish = (value: string[] | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(value);
    };
    socket.on('error', () => finish(undefined));
    socket.on('message', (message) => {
      try {
        const packet = dnsPacket.decode(message);
        if (packet.id !== id) return;
        finish(
          (packet.answers ?? [])
            .filter((answer) => answer.type === 'A')
            .map((answer) => String((answer as { data?: unknown }).data)),
        );
      } catch {
        finish(undefined);
      }
    });
    const query = dnsPacket.encode({ type: 'query', id, questions: [{ type: 'A', name: target.name }] });
    socket.send(query, target.port, target.host);
  });
}

/** Polls every 10 ms until the name answers exactly `address`; the milliseconds it took. */
export async function waitForAnswer(
  target: DrillTarget,
  address: string,
  counters: { queries: number; unanswered: number },
  timeoutMs = 60_000,
): Promise<number> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    counters.queries++;
    const answer = await askA(target);
    if (answer === undefined) counters.unanswered++;
    else if (answer.length === 1 && answer[0] === address) return performance.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new OutlastError('timeout', `${target.name} did not answer ${address} within ${timeoutMs / 1000} s`);
}

export async function runDrill(
  target: DrillTarget,
  origins: { primary: string; secondary: string; primaryAddress: string; secondaryAddress: string },
  controls: { stop(id: string): Promise<void>; start(id: string): Promise<void> },
): Promise<DrillReport> {
  const counters = { queries: 0, unanswered: 0 };
  await waitForAnswer(target, origins.primaryAddress, counters);
  await controls.stop(origins.primary);
  const failoverMs = await waitForAnswer(target, origins.secondaryAddress, counters);
  await controls.start(origins.primary);
  const failbackMs = await waitForAnswer(target, origins.primaryAddress, counters);
  return { failoverMs, failbackMs, ...counters };
}
