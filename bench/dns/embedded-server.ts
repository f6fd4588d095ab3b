/**
 * The embedded authoritative server alone in its own Node process, so the bench can read its CPU
 * time from /proc/PID/stat: `node --import tsx bench/dns/embedded-server.ts PORT`.
 *
 * Creates the embedded provider on 127.0.0.1:PORT with the bench zone, applies the managed `www`
 * A and `site` CNAME, prints one JSON line `{"ready":true,"port":…,"serial":…,"pid":…}` and
 * serves until SIGTERM/SIGINT or until its stdin closes (the bench died), then closes and exits.
 */
import { createEmbeddedProvider } from '../../src/dns/providers/embedded.ts';
import { embeddedOptions, managedChanges } from './zone.ts';

const port = Number(process.argv[2] ?? '0');
const provider = await createEmbeddedProvider(embeddedOptions(`127.0.0.1:${port}`));
await provider.apply(managedChanges());

let closing = false;
async function shutdown(): Promise<void> {
  if (closing) return;
  closing = true;
  await provider.close();
  process.exit(0);
}
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
process.stdin.on('end', () => void shutdown());
process.stdin.on('close', () => void shutdown());
process.stdin.resume();

const address = provider.addresses()[0]!;
process.stdout.write(
  `${JSON.stringify({ ready: true, port: address.port, serial: provider.serial(), pid: process.pid })}\n`,
);
