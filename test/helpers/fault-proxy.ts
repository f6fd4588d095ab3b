/**
 * An HTTP proxy on 127.0.0.1 that injects faults between outlast and a service (a store's API, a
 * DNS host's API, an origin's public URL), on a seeded schedule: the n-th request that `eligible`
 * admits draws its fate from a PRNG seeded with `seed`, so a run is replayed from its seed (with
 * requests in flight at once, which request is n-th can still vary; the share and kinds of faults
 * do not). Every request and what was done to it is in `log`.
 *
 * Faults, and whether the service saw the request:
 * - `status`       answers 500, 503 or 429 (503 and 429 with `Retry-After`); not forwarded
 * - `reset-before` resets the connection before anything is forwarded; not forwarded
 * - `reset-during` forwards, then resets after half of the answer's body; applied
 * - `unanswered`   forwards, lets the service answer in full, resets without a byte; applied
 * - `stall`        holds the connection without an answer for `stallMs`, then resets; not forwarded
 * - `trickle`      forwards, sends the answer in small pieces over `trickleMs`; applied
 * - `truncate`     forwards, sends half the answer's body as if it were all of it (Content-Length
 *                  of the half): a well-formed HTTP answer whose content is cut; applied
 * - `delay`        waits `delayMs`, then forwards as usual; applied
 *
 * `outage()` turns every request into one fault (e.g. a DNS API down: `status` or `stall`) until
 * it is called again without one. Response headers naming the service's own origin (Swift's
 * `X-Storage-Url`) are rewritten to the proxy's, so a client keeps going through it.
 */
import {
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { prng } from './prng.ts';

export { prng };

export const FAULT_KINDS = [
  'status',
  'reset-before',
  'reset-during',
  'unanswered',
  'stall',
  'trickle',
  'truncate',
  'delay',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

/** Faults after which the service may have applied the request. */
export const APPLIED_FAULTS: ReadonlySet<FaultKind> = new Set([
  'reset-during',
  'unanswered',
  'trickle',
  'truncate',
  'delay',
]);

export interface FaultProxyOptions {
  target: { host: string; port: number };
  seed: number;
  /** The share of eligible requests that get a fault, 0..1 (default 0: a plain proxy). */
  rate?: number;
  /** The faults drawn from, uniformly (default: all of FAULT_KINDS). */
  kinds?: readonly FaultKind[];
  /** Which requests may get a fault (default: all); the others pass untouched. */
  eligible?: (request: { method: string; path: string }) => boolean;
  /** How long `stall` holds a connection before it resets it (default 1.5 s). */
  stallMs?: number;
  /** How long `trickle` spreads an answer over (default 1 s). */
  trickleMs?: number;
  /** The wait of `delay` (default 300 ms). */
  delayMs?: number;
}

export interface FaultRecord {
  /** 1-based, in arrival order. */
  n: number;
  method: string;
  path: string;
  fault: FaultKind | 'none';
  /** The status sent for `status` faults, else the service's (when it answered). */
  status?: number;
}

/** Not forwarded: hop-by-hop, and `expect` (this server has already said 100 Continue). */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'transfer-encoding',
  'upgrade',
  'proxy-connection',
  'expect',
]);

export class FaultProxy {
  port = 0;
  readonly log: FaultRecord[] = [];
  private rate: number;
  private outageKind: FaultKind | undefined;
  private readonly random: () => number;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: FaultProxyOptions) {
    this.rate = options.rate ?? 0;
    this.random = prng(options.seed);
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** The share of eligible requests that get a fault from now on. */
  setRate(rate: number): void {
    this.rate = rate;
  }

  /** Every request gets `kind` from now on (`undefined`: back to the schedule). */
  outage(kind: FaultKind | undefined): void {
    this.outageKind = kind;
  }

  /** How many requests got each fault (and `none`). */
  counts(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const record of this.log) counts[record.fault] = (counts[record.fault] ?? 0) + 1;
    return counts;
  }

  /** The records of requests that got a fault. */
  faults(): FaultRecord[] {
    return this.log.filter((record) => record.fault !== 'none');
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
  }

  async stop(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }

  private later(ms: number, run: () => void): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      run();
    }, ms);
    this.timers.add(timer);
  }

  /** The fate of one request: the outage's fault, or one drawn from the schedule. */
  private draw(method: string, path: string): FaultKind | 'none' {
    if (this.outageKind) return this.outageKind;
    if (this.options.eligible && !this.options.eligible({ method, path })) return 'none';
    // Two draws per eligible request whatever the rate, so a seed's sequence of kinds is the
    // same at every rate.
    const hit = this.random() < this.rate;
    const kinds = this.options.kinds ?? FAULT_KINDS;
    const kind = kinds[Math.floor(this.random() * kinds.length)] ?? 'status';
    return hit ? kind : 'none';
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const method = req.method ?? 'GET';
    const path = req.url ?? '/';
    const fault = this.draw(method, path);
    const record: FaultRecord = { n: this.log.length + 1, method, path, fault };
    this.log.push(record);
    const socket = req.socket;
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    switch (fault) {
      case 'status': {
        const status = [500, 503, 429][Math.floor(this.random() * 3)] ?? 503;
        record.status = status;
        req.resume();
        req.on('end', () => {
          const headers: OutgoingHttpHeaders = { 'content-type': 'text/plain' };
          if (status !== 500) headers['retry-after'] = '1';
          res.writeHead(status, headers).end(`fault-proxy: injected ${status}\n`);
        });
        return;
      }
      case 'reset-before':
        socket.destroy();
        return;
      case 'stall':
        req.resume();
        this.later(this.options.stallMs ?? 1_500, () => socket.destroy());
        return;
      case 'delay':
        this.later(this.options.delayMs ?? 300, () => this.forward(req, res, record));
        return;
      default:
        this.forward(req, res, record);
    }
  }

  private rewrite(value: string | string[]): string | string[] {
    const own = `http://${this.options.target.host}:${this.options.target.port}`;
    const swap = (text: string) => text.split(own).join(this.url);
    return Array.isArray(value) ? value.map(swap) : swap(value);
  }

  private forward(req: IncomingMessage, res: ServerResponse, record: FaultRecord): void {
    const socket = req.socket;
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
    }
    const upstream = httpRequest(
      {
        host: this.options.target.host,
        port: this.options.target.port,
        method: req.method,
        path: req.url,
        headers,
      },
      (answer) => this.answer(answer, res, socket, record),
    );
    upstream.on('error', () => socket.destroy());
    req.pipe(upstream);
  }

  private answer(answer: IncomingMessage, res: ServerResponse, socket: Socket, record: FaultRecord): void {
    record.status = answer.statusCode;
    answer.on('error', () => socket.destroy());
    const headers: OutgoingHttpHeaders = {};
    for (const [name, value] of Object.entries(answer.headers)) {
      if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = this.rewrite(value);
    }
    const chunks: Buffer[] = [];
    answer.on('data', (chunk: Buffer) => chunks.push(chunk));
    answer.on('end', () => {
      const body = Buffer.concat(chunks);
      const status = answer.statusCode ?? 502;
      // The whole body is known now: it goes with its own length (an empty one, a HEAD's, keeps
      // the service's).
      const sized = body.length > 0 ? { ...headers, 'content-length': String(body.length) } : headers;
      const half = body.subarray(0, Math.floor(body.length / 2));
      switch (record.fault) {
        case 'unanswered':
          socket.destroy();
          return;
        case 'reset-during':
          res.writeHead(status, sized);
          res.flushHeaders();
          res.write(half, () => socket.destroy());
          return;
        case 'truncate':
          res.writeHead(
            status,
            body.length > 0 ? { ...headers, 'content-length': String(half.length) } : headers,
          );
          res.end(half);
          return;
        case 'trickle':
          this.trickle(res, status, sized, body);
          return;
        default:
          res.writeHead(status, sized).end(body);
      }
    });
  }

  private trickle(res: ServerResponse, status: number, headers: OutgoingHttpHeaders, body: Buffer): void {
    const pieces = 10;
    const size = Math.max(1, Math.ceil(body.length / pieces));
    res.writeHead(status, headers);
    const step = this.options.trickleMs ?? 1_000;
    const send = (offset: number) => {
      if (offset >= body.length) {
        res.end();
        return;
      }
      res.write(body.subarray(offset, offset + size));
      this.later(step / pieces, () => send(offset + size));
    };
    send(0);
  }
}
