/**
 * Receivers for the notification tests: a webhook receiver on 127.0.0.1 (node:http) that answers
 * what the test says and verifies each request's signature the way the README tells receivers
 * to, and a logger that keeps every line (to check that no secret is logged).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { Logger } from '../../src/util/log.ts';
import { capture } from './canary.ts';

export interface ReceivedRequest {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The signature checked with the receiver's secret (undefined without one). */
  verified: boolean | undefined;
}

export interface WebhookReceiver {
  url: string;
  requests: ReceivedRequest[];
  /** What the next request is answered (a status, or a status and headers); default 200. */
  answer: (index: number) => number | { status: number; headers?: Record<string, string> };
  close(): Promise<void>;
}

/** The README's verification, as a receiver would write it. */
export function verifySignature(secret: string, headers: IncomingHttpHeaders, body: string): boolean {
  const timestamp = headers['x-outlast-timestamp'];
  const given = headers['x-outlast-signature'];
  if (typeof timestamp !== 'string' || typeof given !== 'string') return false;
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
  return given.length === expected.length && timingSafeEqual(Buffer.from(given), Buffer.from(expected));
}

export async function startWebhookReceiver(secret?: string): Promise<WebhookReceiver> {
  const receiver: WebhookReceiver = {
    url: '',
    requests: [],
    answer: () => 200,
    close: async () => undefined,
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const index = receiver.requests.length;
      receiver.requests.push({
        path: req.url ?? '/',
        headers: req.headers,
        body,
        verified: secret === undefined ? undefined : verifySignature(secret, req.headers, body),
      });
      const answer = receiver.answer(index);
      const { status, headers } = typeof answer === 'number' ? { status: answer, headers: {} } : answer;
      res.writeHead(status, { 'content-type': 'text/plain', ...headers });
      res.end(status < 300 ? 'ok' : `no (${status})`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  receiver.url = `http://127.0.0.1:${port}`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return receiver;
}

/** Every recording logger's lines, handed to the secret canary's scan when the process exits. */
const recorded: string[][] = [];
process.once('exit', () => {
  for (const lines of recorded) if (lines.length > 0) capture('recording-logger', lines.join('\n'));
});

/** A logger that keeps every line it is given, at every level, as text. */
export function recordingLogger(lines: string[] = []): Logger & { lines: string[] } {
  recorded.push(lines);
  const log =
    (level: string) =>
    (...args: unknown[]) => {
      lines.push(
        `${level} ${args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ')}`,
      );
    };
  const logger = {
    lines,
    level: 'trace',
    trace: log('trace'),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    fatal: log('fatal'),
    isLevelEnabled: () => true,
    child: (bindings: Record<string, unknown>) => {
      lines.push(`child ${JSON.stringify(bindings)}`);
      return logger;
    },
  };
  return logger;
}
