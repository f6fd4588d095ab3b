/**
 * The GCS stand-in's uploads (gcs.ts serves the rest): `uploadType=multipart` (one
 * multipart/related body, JSON metadata then the media) and `uploadType=resumable`, GCS's session
 * protocol: a POST opens a session and answers its URI in `Location`; PUTs to it carry
 * `Content-Range: bytes a-b/total|*` (a chunk other than the last a multiple of 256 KiB) or,
 * with a `*` for the range, ask how much the session holds (a status query), and are answered
 * 308 with `Range: bytes=0-n` until the last byte arrives, then 200 with the object. Until then nothing is visible; a PUT cut off
 * stores none of its bytes (its body never ends). Every upload is recorded (`records`), so a test
 * can tell which protocol a put used.
 */
import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { GcsBucket } from './gcs.ts';
import {
  badObjectName,
  gcsFailure,
  invalid,
  json,
  notFoundBucket,
  parseMultipart,
  type Reply,
} from './gcs-wire.ts';

const CHUNK_QUANTUM = 256 * 1024;

/** What the uploads need of the stand-in. */
export interface UploadHost {
  baseUrl(): string;
  violations: string[];
  buckets: ReadonlyMap<string, GcsBucket>;
  /** Stores the object once its bytes are whole, after GCS's checks (md5Hash, name, fields). */
  commit(bucket: GcsBucket, name: string, fields: Record<string, unknown>, bytes: Buffer): Reply;
  badFields(fields: Record<string, unknown>): string | undefined;
}

export interface UploadRecord {
  kind: 'multipart' | 'resumable';
  name: string;
  /** The Content-Range of every PUT of a resumable session, in order. */
  ranges: string[];
  /** The answer to each PUT (308 or 200/400). */
  statuses: number[];
  finished: boolean;
}

export interface Session {
  bucket: string;
  name: string;
  metadata: Record<string, unknown>;
  declaredSize: number | undefined;
  received: Buffer[];
  size: number;
  record: UploadRecord;
}

export class GcsUploads {
  readonly records: UploadRecord[] = [];
  readonly sessions = new Map<string, Session>();

  constructor(private readonly host: UploadHost) {}

  multipart(bucket: GcsBucket, query: Record<string, string>, req: IncomingMessage, body: Buffer): Reply {
    const parsed = parseMultipart(req.headers['content-type'], body);
    if (typeof parsed === 'string') return invalid(`Bad multipart body: ${parsed}`);
    const record: UploadRecord = { kind: 'multipart', name: '', ranges: [], statuses: [], finished: false };
    this.records.push(record);
    const name = query.name ?? (parsed.metadata.name as string | undefined);
    if (!name) return gcsFailure(400, 'required', 'Required');
    record.name = name;
    const fields = { ...parsed.metadata };
    if (fields.contentType === undefined) fields.contentType = parsed.mediaType;
    const reply = this.host.commit(bucket, name, fields, parsed.media);
    record.finished = reply.status === 200;
    record.statuses.push(reply.status);
    return reply;
  }

  openSession(bucket: GcsBucket, query: Record<string, string>, req: IncomingMessage, body: Buffer): Reply {
    const metadata = body.length ? json(body) : {};
    if (!metadata) return invalid('The metadata is not JSON.');
    const name = query.name ?? (metadata.name as string | undefined);
    if (!name) return gcsFailure(400, 'required', 'Required');
    const bad = badObjectName(name) ?? this.host.badFields(metadata);
    if (bad) return invalid(bad);
    const type = req.headers['x-upload-content-type'];
    if (typeof type === 'string' && metadata.contentType === undefined) metadata.contentType = type;
    const length = req.headers['x-upload-content-length'];
    const id = randomBytes(16).toString('base64url');
    const record: UploadRecord = { kind: 'resumable', name, ranges: [], statuses: [], finished: false };
    this.records.push(record);
    this.sessions.set(id, {
      bucket: bucket.name,
      name,
      metadata,
      declaredSize: typeof length === 'string' ? Number(length) : undefined,
      received: [],
      size: 0,
      record,
    });
    const location = `${this.host.baseUrl()}/upload/storage/v1/b/${encodeURIComponent(bucket.name)}/o?uploadType=resumable&name=${encodeURIComponent(name)}&upload_id=${id}`;
    return { status: 200, headers: { location }, body: undefined };
  }

  putChunk(id: string, req: IncomingMessage, body: Buffer): Reply {
    const session = this.sessions.get(id);
    if (!session) return gcsFailure(404, 'notFound', 'No such upload session.');
    const range = String(req.headers['content-range'] ?? '');
    session.record.ranges.push(range);
    const answer = (reply: Reply) => {
      session.record.statuses.push(reply.status);
      return reply;
    };
    const m = /^bytes (?:(\d+)-(\d+)|(\*))\/(\d+|\*)$/.exec(range);
    if (!m) return answer(invalid(`Bad Content-Range ${JSON.stringify(range)}`));
    const total = m[4] === '*' ? undefined : Number(m[4]);
    if (total !== undefined && session.declaredSize !== undefined && total !== session.declaredSize) {
      return answer(
        invalid(`The total ${total} is not the X-Upload-Content-Length ${session.declaredSize}.`),
      );
    }
    if (m[3] === undefined) {
      const start = Number(m[1]);
      const end = Number(m[2]);
      if (end - start + 1 !== body.length)
        return answer(invalid('The Content-Range does not match the body.'));
      if (start > session.size)
        return answer(invalid(`The chunk starts at ${start}; only ${session.size} bytes were received.`));
      const fresh = body.subarray(session.size - start);
      const last = total !== undefined && end + 1 === total;
      if (!last && body.length % CHUNK_QUANTUM !== 0) {
        this.host.violations.push(`a non-final chunk of ${body.length} bytes, not a multiple of 256 KiB`);
        return answer(invalid('Chunks other than the last must be multiples of 256 KiB.'));
      }
      session.received.push(fresh);
      session.size += fresh.length;
    } else if (body.length) {
      return answer(invalid('A status query has no body.'));
    }
    if (total !== undefined && session.size === total) {
      const bucket = this.host.buckets.get(session.bucket);
      if (!bucket) return answer(notFoundBucket());
      const reply = this.host.commit(bucket, session.name, session.metadata, Buffer.concat(session.received));
      this.sessions.delete(id);
      session.record.finished = reply.status === 200;
      return answer(reply);
    }
    if (total !== undefined && session.size > total) return answer(invalid('More bytes than the total.'));
    return answer({
      status: 308,
      headers: session.size ? { range: `bytes=0-${session.size - 1}` } : {},
      body: undefined,
    });
  }
}
