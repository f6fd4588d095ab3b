/**
 * A counting TCP proxy: one per watcher and etcd member, so each watcher's etcd traffic is its own.
 * It counts connections and bytes each way, and, since the etcd client (grpc-js) speaks cleartext
 * HTTP/2 with prior knowledge to http:// endpoints, it also reads the HTTP/2 frame headers as they
 * pass: streams the client opens (each a gRPC call: a unary request, or the start of a watch or
 * keepalive stream), gRPC messages each way (the 5-byte length prefixes inside DATA frames; a
 * keepalive on a stream is one message), and PINGs. It never alters or delays what it forwards.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

export interface TrafficCounts {
  connections: number;
  /** Connections open at the time of the snapshot. */
  open: number;
  bytesUp: number;
  bytesDown: number;
  /** Streams the client opened (gRPC calls). */
  streams: number;
  /** gRPC messages client → server and server → client. */
  messagesUp: number;
  messagesDown: number;
  /** PING frames client → server (HTTP/2 keepalive). */
  pingsUp: number;
  /** Frames that did not look like HTTP/2 (then the counts of that connection stop): expected 0. */
  unparsed: number;
}

export const zeroCounts = (): TrafficCounts => ({
  connections: 0,
  open: 0,
  bytesUp: 0,
  bytesDown: 0,
  streams: 0,
  messagesUp: 0,
  messagesDown: 0,
  pingsUp: 0,
  unparsed: 0,
});

export function addCounts(a: TrafficCounts, b: TrafficCounts): TrafficCounts {
  return {
    connections: a.connections + b.connections,
    open: a.open + b.open,
    bytesUp: a.bytesUp + b.bytesUp,
    bytesDown: a.bytesDown + b.bytesDown,
    streams: a.streams + b.streams,
    messagesUp: a.messagesUp + b.messagesUp,
    messagesDown: a.messagesDown + b.messagesDown,
    pingsUp: a.pingsUp + b.pingsUp,
    unparsed: a.unparsed + b.unparsed,
  };
}

/** `after − before` (open: the later value). */
export function diffCounts(after: TrafficCounts, before: TrafficCounts): TrafficCounts {
  return {
    connections: after.connections - before.connections,
    open: after.open,
    bytesUp: after.bytesUp - before.bytesUp,
    bytesDown: after.bytesDown - before.bytesDown,
    streams: after.streams - before.streams,
    messagesUp: after.messagesUp - before.messagesUp,
    messagesDown: after.messagesDown - before.messagesDown,
    pingsUp: after.pingsUp - before.pingsUp,
    unparsed: after.unparsed - before.unparsed,
  };
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const FRAME_DATA = 0;
const FRAME_HEADERS = 1;
const FRAME_PING = 6;
const FLAG_PADDED = 0x8;

/** Per stream: where its gRPC length-prefixed messages stand. */
interface GrpcStream {
  /** Bytes of a 5-byte message header seen so far. */
  header: number[];
  /** Bytes of the current message body still to come. */
  skip: number;
}

/**
 * Reads one direction of an HTTP/2 connection incrementally: frame headers (9 bytes: length 24
 * bits, type, flags, stream id), the DATA payloads' gRPC message prefixes (1 byte compressed flag
 * + 4 bytes length), new stream ids of HEADERS frames, PINGs.
 */
export class H2Reader {
  private pending = Buffer.alloc(0);
  private prefaceLeft: number;
  private broken = false;
  private readonly seenStreams = new Set<number>();
  private readonly grpc = new Map<number, GrpcStream>();
  /** The frame whose payload is being read: type, flags, stream, bytes left, padding state. */
  private frame: { type: number; flags: number; stream: number; left: number; pad: number } | undefined;

  constructor(
    clientSide: boolean,
    private readonly onFrame: (event: 'stream' | 'message' | 'ping' | 'unparsed') => void,
  ) {
    this.prefaceLeft = clientSide ? PREFACE.length : 0;
  }

  push(chunk: Buffer): void {
    if (this.broken) return;
    let data = chunk;
    if (this.prefaceLeft > 0) {
      const take = Math.min(this.prefaceLeft, data.length);
      const offset = PREFACE.length - this.prefaceLeft;
      if (!data.subarray(0, take).equals(PREFACE.subarray(offset, offset + take))) {
        this.fail();
        return;
      }
      this.prefaceLeft -= take;
      data = data.subarray(take);
    }
    while (data.length > 0) {
      if (this.frame === undefined) {
        const need = 9 - this.pending.length;
        if (data.length < need) {
          this.pending = Buffer.concat([this.pending, data]);
          return;
        }
        const header = Buffer.concat([this.pending, data.subarray(0, need)]);
        this.pending = Buffer.alloc(0);
        data = data.subarray(need);
        const length = header.readUIntBE(0, 3);
        const type = header[3]!;
        const flags = header[4]!;
        const stream = header.readUInt32BE(5) & 0x7fffffff;
        if (length > 16 * 1024 * 1024 || type > 0x20) {
          this.fail();
          return;
        }
        this.frame = { type, flags, stream, left: length, pad: -1 };
        if (type === FRAME_HEADERS && stream > 0 && !this.seenStreams.has(stream)) {
          this.seenStreams.add(stream);
          this.onFrame('stream');
        }
        if (type === FRAME_PING && (flags & 0x1) === 0) this.onFrame('ping');
        if (type === FRAME_DATA && (flags & FLAG_PADDED) === 0) this.frame.pad = 0;
      }
      const frame = this.frame;
      if (frame.left === 0) {
        this.frame = undefined;
        continue;
      }
      const take = Math.min(frame.left, data.length);
      if (frame.type === FRAME_DATA) this.data(frame, data.subarray(0, take));
      frame.left -= take;
      data = data.subarray(take);
      if (frame.left === 0) this.frame = undefined;
    }
  }

  /** A piece of a DATA frame's payload: skips padding, counts gRPC message prefixes. */
  private data(frame: { stream: number; left: number; pad: number }, piece: Buffer): void {
    let bytes = piece;
    if (frame.pad === -1) {
      // The first payload byte of a padded frame is the pad length.
      frame.pad = bytes[0]!;
      bytes = bytes.subarray(1);
    }
    // The frame's last `pad` bytes are padding; `frame.left` still counts this piece.
    const afterPiece = frame.left - piece.length;
    const padInPiece = Math.min(bytes.length, Math.max(0, frame.pad - afterPiece));
    bytes = bytes.subarray(0, bytes.length - padInPiece);
    let state = this.grpc.get(frame.stream);
    if (!state) {
      state = { header: [], skip: 0 };
      this.grpc.set(frame.stream, state);
    }
    let at = 0;
    while (at < bytes.length) {
      if (state.skip > 0) {
        const take = Math.min(state.skip, bytes.length - at);
        state.skip -= take;
        at += take;
        continue;
      }
      state.header.push(bytes[at]!);
      at++;
      if (state.header.length === 5) {
        const length = Buffer.from(state.header).readUInt32BE(1);
        state.header = [];
        state.skip = length;
        this.onFrame('message');
      }
    }
  }

  private fail(): void {
    this.broken = true;
    this.onFrame('unparsed');
  }
}

/** A TCP proxy on 127.0.0.1 (ephemeral port) to `target`, counting what passes. */
export class CountingProxy {
  port = 0;
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();
  private readonly counts = zeroCounts();

  constructor(private readonly target: { host: string; port: number }) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const counts = this.counts;
      counts.connections++;
      counts.open++;
      const upstream = connect({ host: this.target.host, port: this.target.port });
      const up = new H2Reader(true, (event) => {
        if (event === 'stream') counts.streams++;
        else if (event === 'message') counts.messagesUp++;
        else if (event === 'ping') counts.pingsUp++;
        else counts.unparsed++;
      });
      const down = new H2Reader(false, (event) => {
        if (event === 'message') counts.messagesDown++;
        else if (event === 'unparsed') counts.unparsed++;
      });
      client.on('data', (chunk: Buffer) => {
        counts.bytesUp += chunk.length;
        up.push(chunk);
      });
      upstream.on('data', (chunk: Buffer) => {
        counts.bytesDown += chunk.length;
        down.push(chunk);
      });
      client.pipe(upstream);
      upstream.pipe(client);
      let closed = false;
      const close = () => {
        if (closed) return;
        closed = true;
        counts.open--;
        client.destroy();
        upstream.destroy();
      };
      for (const socket of [client, upstream]) {
        this.sockets.add(socket);
        socket.on('close', () => {
          this.sockets.delete(socket);
          close();
        });
        socket.on('error', () => undefined);
      }
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as { port: number }).port;
  }

  snapshot(): TrafficCounts {
    return { ...this.counts };
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server?.close(resolve));
  }
}
