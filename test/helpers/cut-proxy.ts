/**
 * A TCP proxy on 127.0.0.1 that the test can cut: while cut, every open connection is reset and
 * new ones are refused at once; mended, it forwards again. Each watcher of the cluster tests
 * reaches etcd, an origin or a DNS API through one of its own, so that one watcher alone can be cut
 * off. `localAddress` makes the upstream connection come from that address (a server's own log
 * then tells whose it was).
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export class CutProxy {
  port = 0;
  cut = false;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly target: { host: string; port: number; localAddress?: string }) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      if (this.cut) {
        client.destroy();
        return;
      }
      const upstream = connect({
        port: this.target.port,
        host: this.target.host,
        ...(this.target.localAddress ? { localAddress: this.target.localAddress } : {}),
      });
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => this.sockets.delete(socket));
        socket.on('error', () => undefined);
      }
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  setCut(cut: boolean): void {
    this.cut = cut;
    if (cut) for (const socket of this.sockets) socket.destroy();
  }

  async stop(): Promise<void> {
    this.setCut(true);
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
