/**
 * Ports for servers that a test starts in another process (which cannot be handed a listening
 * socket). A port found free can be taken by someone else before the child binds it, so a start
 * on such ports goes through `startOnFreePorts`, which starts again on new ports when the child
 * said its address was in use. That retries a start, never a test.
 */
import { createServer } from 'node:net';

/** A TCP port that was free on `host` a moment ago. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Whether `text` (what a child printed, or an error) says an address was in use. */
export function saysPortTaken(text: string): boolean {
  return /EADDRINUSE|address already in use/i.test(text);
}

/**
 * Picks ports for `hosts` (one per entry, each free on its host when picked) and calls `start`
 * with them; when `taken(result)` says a port was in use, picks new ones and starts again, at most
 * `attempts` times in all.
 */
export async function startOnFreePorts<T>(
  hosts: string[],
  start: (ports: number[]) => Promise<T>,
  taken: (result: T) => boolean,
  attempts = 5,
): Promise<T> {
  let result: T | undefined;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const ports: number[] = [];
    for (const host of hosts) ports.push(await freePort(host));
    result = await start(ports);
    if (!taken(result)) return result;
  }
  return result as T;
}

/** The hosts of `outlast demo`'s ports, in `demoArgs`' order: DNS, status, the origins, the edge. */
export const DEMO_HOSTS = ['127.0.0.1', '127.0.0.1', '127.0.0.2', '127.0.0.1'];

/** `outlast demo`'s arguments for its state folder and the ports picked for `DEMO_HOSTS`. */
export function demoArgs(dir: string, [dnsPort, statusPort, originPort, edgePort]: number[]): string[] {
  return [
    'demo',
    '--dir',
    dir,
    '--dns',
    `127.0.0.1:${dnsPort}`,
    '--status',
    `127.0.0.1:${statusPort}`,
    '--port',
    String(originPort),
    ...(edgePort === undefined ? [] : ['--edge', `127.0.0.1:${edgePort}`]),
  ];
}
