/**
 * The embedded server's listeners: UDP and TCP on each configured address, IPv4 and IPv6.
 *
 * UDP: one socket per address, one answer per datagram. TCP (RFC 7766): messages framed by a
 * two-byte length, several queries per connection answered in order, an idle timeout (10 s) after
 * which the server closes the connection (§6.2.3), a cap on open connections (extra ones are
 * closed at once), and back-pressure: a client that does not read its answers is not read from.
 *
 * Every handler is wrapped: whatever a peer sends, the process does not crash (the responder
 * itself turns its own failures into SERVFAIL; a socket error closes that connection only).
 */
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { createServer, isIP, type Server, type Socket } from 'node:net';
import type { Logger } from '../../util/log.ts';
import type { ServerAddress } from '../wire.ts';
import type { Transport } from './responder.ts';

export interface ListenOptions {
  /** Where to listen; port 0 picks a free port (the same for UDP and TCP). */
  listen: readonly ServerAddress[];
  /** The answers to one message (see responder.ts). */
  handle(message: Buffer, transport: Transport, address: string): Buffer[];
  log: Logger;
  /** Open TCP connections at most, over all addresses (default 100). */
  maxTcpConnections?: number;
  /** A TCP connection without a complete query for this long is closed (default 10 s). */
  tcpIdleMs?: number;
}

export interface Listeners {
  /** The addresses really bound (port 0 resolved). */
  readonly addresses: readonly ServerAddress[];
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

const DEFAULT_MAX_TCP = 100;
const DEFAULT_IDLE_MS = 10_000;
/** Attempts at finding a port free for both UDP and TCP when asked for port 0. */
const PORT_ATTEMPTS = 20;

/** Binds every address (UDP and TCP); on a failure, closes what was bound and throws. */
export async function listen(options: ListenOptions): Promise<Listeners> {
  const udpSockets: UdpSocket[] = [];
  const tcpServers: Server[] = [];
  const connections = new Set<Socket>();
  const addresses: ServerAddress[] = [];
  const close = async () => {
    for (const connection of connections) connection.destroy();
    await Promise.all([
      ...udpSockets.map((socket) => new Promise<void>((done) => socket.close(() => done()))),
      ...tcpServers.map((server) => new Promise<void>((done) => server.close(() => done()))),
    ]);
  };
  try {
    for (const address of options.listen) {
      for (let attempt = 0; ; attempt++) {
        const udp = await bindUdp(address, options);
        const port = udp.address().port;
        try {
          tcpServers.push(await bindTcp({ host: address.host, port }, options, connections));
          udpSockets.push(udp);
          addresses.push({ host: address.host, port });
          break;
        } catch (error) {
          udp.close();
          const retry = address.port === 0 && (error as NodeJS.ErrnoException).code === 'EADDRINUSE';
          if (!retry || attempt >= PORT_ATTEMPTS) throw error;
        }
      }
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { addresses, close };
}

function bindUdp(address: ServerAddress, options: ListenOptions): Promise<UdpSocket> {
  const v6 = isIP(address.host) === 6;
  const socket = createSocket({ type: v6 ? 'udp6' : 'udp4', ipv6Only: v6 });
  socket.on('message', (message, peer) => {
    try {
      for (const reply of options.handle(message, 'udp', peer.address)) {
        socket.send(reply, peer.port, peer.address);
      }
    } catch (error) {
      options.log.error({ err: error }, 'udp handler failed');
    }
  });
  return new Promise((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(address.port, address.host, () => {
      socket.off('error', reject);
      // After the bind, an error (a send to a vanished peer, ICMP) must not crash the process.
      socket.on('error', (error) => options.log.debug({ err: error.message }, 'udp socket error'));
      resolve(socket);
    });
  });
}

function bindTcp(address: ServerAddress, options: ListenOptions, connections: Set<Socket>): Promise<Server> {
  const server = createServer((socket) => serveConnection(socket, options, connections));
  server.maxConnections = options.maxTcpConnections ?? DEFAULT_MAX_TCP;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: address.host, port: address.port, ipv6Only: isIP(address.host) === 6 }, () => {
      server.off('error', reject);
      server.on('error', (error) => options.log.warn({ err: error.message }, 'tcp server error'));
      resolve(server);
    });
  });
}

function serveConnection(socket: Socket, options: ListenOptions, connections: Set<Socket>): void {
  connections.add(socket);
  const peer = socket.remoteAddress ?? '';
  let pending: Buffer = Buffer.alloc(0);
  socket.setNoDelay(true);
  socket.setTimeout(options.tcpIdleMs ?? DEFAULT_IDLE_MS, () => socket.destroy());
  socket.on('error', () => socket.destroy());
  socket.on('close', () => connections.delete(socket));
  socket.on('data', (chunk: Buffer) => {
    try {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= 2) {
        const length = pending.readUInt16BE(0);
        if (pending.length < 2 + length) break;
        const message = pending.subarray(2, 2 + length);
        pending = pending.subarray(2 + length);
        const replies = options.handle(message, 'tcp', peer);
        if (socket.destroyed) return;
        let flowing = true;
        for (const reply of replies) {
          const prefix = Buffer.alloc(2);
          prefix.writeUInt16BE(reply.length);
          flowing = socket.write(Buffer.concat([prefix, reply])) && flowing;
        }
        if (!flowing) {
          // Not read on until the client has taken its answers.
          socket.pause();
          socket.once('drain', () => socket.resume());
        }
      }
    } catch (error) {
      options.log.error({ err: error }, 'tcp handler failed');
      socket.destroy();
    }
  });
}
