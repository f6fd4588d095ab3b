/**
 * A recording HTTP forwarder in front of PowerDNS's API, the last hop before PowerDNS: what it
 * records is exactly what PowerDNS received (the fault proxy sits in front of it, so requests the
 * proxy answers itself never get here). PATCH bodies are kept, so each write can be replayed
 * against the zone's record sets to tell whether it changed the answer.
 */
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface TappedRequest {
  /** Date.now() when the request arrived and when PowerDNS's answer ended. */
  at: number;
  doneAt?: number;
  method: string;
  path: string;
  status: number;
  /** The request body, for PATCH (the rrsets written). */
  body?: string;
}

export interface Tap {
  host: string;
  port: number;
  readonly requests: TappedRequest[];
  close(): Promise<void>;
}

export async function startTap(target: { host: string; port: number }): Promise<Tap> {
  const requests: TappedRequest[] = [];
  const server: Server = createServer((incoming, outgoing) => {
    const record: TappedRequest = {
      at: Date.now(),
      method: incoming.method ?? '?',
      path: incoming.url ?? '',
      status: 0,
    };
    requests.push(record);
    const chunks: Buffer[] = [];
    incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
    incoming.on('end', () => {
      const body = Buffer.concat(chunks);
      if (record.method === 'PATCH') record.body = body.toString('utf8');
      const upstream = httpRequest(
        {
          host: target.host,
          port: target.port,
          method: incoming.method,
          path: incoming.url,
          headers: { ...incoming.headers, host: `${target.host}:${target.port}` },
        },
        (answer: IncomingMessage) => {
          record.status = answer.statusCode ?? 0;
          outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(outgoing);
          answer.on('end', () => {
            record.doneAt = Date.now();
          });
        },
      );
      upstream.on('error', (error) => {
        record.status = 502;
        record.doneAt = Date.now();
        if (!outgoing.headersSent) outgoing.writeHead(502, { 'content-type': 'text/plain' });
        outgoing.end(`tap: ${error.message}`);
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    host: '127.0.0.1',
    port,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
