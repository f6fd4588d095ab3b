/**
 * The watcher's state folder: `state.json` (the failover machine's state and each provider's
 * last write), replaced atomically (write a temp file, fsync, rename), and `events.jsonl`, an
 * append-only log of timeline events kept across restarts, rotated when it passes
 * `eventsMaxBytes` (to `events.jsonl.1`, `.2`, …, the oldest beyond `eventFilesKept` dropped), so
 * a site that flaps all day cannot fill the disk. Also the action token (`token`,
 * mode 0600) that the CLI and the dashboard send to change anything.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { appendFile, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { OutlastError } from '../errors.ts';
import type { MachineState, TimelineEvent } from '../failover/machine.ts';

export interface ProviderStatus {
  provider: string;
  /** The record sets it answered at the last read, as `TYPE ttl value…` lines. */
  records: string[];
  lastReadAt?: string;
  lastWriteAt?: string;
  /** The last write's outcome. */
  lastWriteOk?: boolean;
  lastError?: string;
  /** A write is waiting for its next retry. */
  pending: boolean;
  attempts: number;
  nextRetryAt?: string;
}

export interface PersistedState {
  version: 1;
  savedAt: string;
  machine: MachineState;
  providers: ProviderStatus[];
}

/** What `repairEvents` cut off the end of the event log. */
export interface TornLine {
  bytes: number;
  /** The torn line's first characters. */
  start: string;
}

/** Events kept in memory and read back at start (the dashboard's timeline). */
export const RECENT_EVENTS = 500;
/** The event log is rotated past this size: 8 MiB is tens of thousands of events. */
export const EVENTS_MAX_BYTES = 8 * 1024 * 1024;
/** Rotated event logs kept besides the current one. */
export const EVENT_FILES_KEPT = 3;
/** How much of each log file a start reads back. */
const TAIL_BYTES = 2 * 1024 * 1024;

export interface StateStoreOptions {
  eventsMaxBytes?: number;
  eventFilesKept?: number;
}

export class StateStore {
  readonly dir: string;
  private readonly statePath: string;
  private readonly eventsPath: string;
  private writing: Promise<void> = Promise.resolve();
  private appending: Promise<void> = Promise.resolve();
  private readonly eventsMaxBytes: number;
  private readonly eventFilesKept: number;

  constructor(dir: string, options: StateStoreOptions = {}) {
    this.dir = dir;
    this.eventsMaxBytes = options.eventsMaxBytes ?? EVENTS_MAX_BYTES;
    this.eventFilesKept = options.eventFilesKept ?? EVENT_FILES_KEPT;
    this.statePath = join(dir, 'state.json');
    this.eventsPath = join(dir, 'events.jsonl');
  }

  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await removeStaleTemps(this.dir);
  }

  /**
   * Makes the event log end with a whole line: a process killed (or a machine that lost power)
   * in the middle of an append can leave a torn last line, and the next append would glue its
   * first event to it, so that both are lost. The torn part is cut off (it never parsed) and
   * returned, for the watcher to report; undefined when the log was whole.
   */
  async repairEvents(): Promise<TornLine | undefined> {
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(this.eventsPath, 'r+');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    try {
      const { size } = await handle.stat();
      if (size === 0) return undefined;
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, size - 1);
      if (last[0] === 0x0a) return undefined;
      // Looks back for the end of the last whole line, in steps (a line is small).
      let end = 0;
      const step = 64 * 1024;
      for (let to = size; to > 0 && end === 0; to -= step) {
        const from = Math.max(0, to - step);
        const chunk = Buffer.alloc(to - from);
        await handle.read(chunk, 0, chunk.length, from);
        const newline = chunk.lastIndexOf(0x0a);
        if (newline >= 0) end = from + newline + 1;
        if (from === 0) break;
      }
      const torn = Buffer.alloc(Math.min(size - end, 200));
      await handle.read(torn, 0, torn.length, end);
      await handle.truncate(end);
      await handle.sync();
      return { bytes: size - end, start: torn.toString('utf8') };
    } finally {
      await handle.close();
    }
  }

  /** Why the last `load` found a state file it could not use (reported by the watcher), if it did. */
  loadProblem: string | undefined;

  async load(): Promise<PersistedState | undefined> {
    this.loadProblem = undefined;
    let text: string;
    try {
      text = await readFile(this.statePath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new OutlastError('internal', `cannot read ${this.statePath}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    try {
      const state = JSON.parse(text) as PersistedState;
      if (state.version === 1) return state;
      this.loadProblem = `${this.statePath} has version ${String(state.version)}, not 1: starting afresh`;
      return undefined;
    } catch (error) {
      // A torn file cannot happen with rename, but a hand edit can: start fresh rather than crash.
      this.loadProblem = `${this.statePath} does not parse (${(error as Error).message}): starting afresh`;
      return undefined;
    }
  }

  /** Saves atomically; saves are serialized so the last one wins on disk too. */
  save(state: Omit<PersistedState, 'version' | 'savedAt'>): Promise<void> {
    const full: PersistedState = { version: 1, savedAt: new Date().toISOString(), ...state };
    this.writing = this.writing.then(() => writeAtomic(this.statePath, `${JSON.stringify(full, null, 2)}\n`));
    return this.writing;
  }

  /** Appends (serialized), rotating the log first when these lines would take it past the limit. */
  appendEvents(events: TimelineEvent[]): Promise<void> {
    if (events.length === 0) return Promise.resolve();
    const text = events.map((event) => `${JSON.stringify(event)}\n`).join('');
    const run = async () => {
      const size = await stat(this.eventsPath).then(
        (info) => info.size,
        () => 0,
      );
      if (size > 0 && size + Buffer.byteLength(text) > this.eventsMaxBytes) await this.rotateEvents();
      await appendFile(this.eventsPath, text, { mode: 0o600 });
    };
    const next = this.appending.then(run, run);
    this.appending = next.catch(() => undefined);
    return next;
  }

  /** events.jsonl → .1 → .2 …; the file past `eventFilesKept` is dropped. A rename is atomic: a
   * kill in between leaves every event in one of the files. */
  private async rotateEvents(): Promise<void> {
    await rm(`${this.eventsPath}.${this.eventFilesKept}`, { force: true });
    for (let n = this.eventFilesKept - 1; n >= 1; n--) {
      await rename(`${this.eventsPath}.${n}`, `${this.eventsPath}.${n + 1}`).catch(ignoreMissing);
    }
    await rename(this.eventsPath, `${this.eventsPath}.1`).catch(ignoreMissing);
  }

  /** The newest `limit` events of the log, oldest first. Lines that don't parse are skipped. */
  async recentEvents(limit = RECENT_EVENTS): Promise<TimelineEvent[]> {
    let text = await tail(this.eventsPath);
    // Just rotated: the newest events before it are at the end of the rotated files.
    for (let n = 1; n <= this.eventFilesKept && text.split('\n').length <= limit; n++) {
      text = `${await tail(`${this.eventsPath}.${n}`)}\n${text}`;
    }
    const events: TimelineEvent[] = [];
    for (const line of text
      .split('\n')
      .filter((line) => line.trim())
      .slice(-limit - 1)) {
      if (!line.trim()) continue;
      try {
        events.push(JSON.parse(line) as TimelineEvent);
      } catch {
        // The first line of a tail read may be cut.
      }
    }
    return events.slice(-limit);
  }

  /** The action token: OUTLAST_TOKEN, else the state folder's `token` file (made on first use). */
  async token(env: NodeJS.ProcessEnv = process.env): Promise<string> {
    if (env.OUTLAST_TOKEN) return env.OUTLAST_TOKEN;
    const path = join(this.dir, 'token');
    if (existsSync(path)) return (await readFile(path, 'utf8')).trim();
    const token = randomBytes(24).toString('base64url');
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' }).catch(async (error) => {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    });
    return (await readFile(path, 'utf8')).trim();
  }
}

/** The token a CLI should send, without creating one (undefined when there is none). */
export async function readToken(
  dir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string | undefined> {
  if (env.OUTLAST_TOKEN) return env.OUTLAST_TOKEN;
  try {
    return (await readFile(join(dir, 'token'), 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/**
 * Removes the temp files of `writeAtomic` that a killed process left in `dir` (`NAME.PID.tmp` of a
 * PID that no longer runs); a live process's are its writes in progress.
 */
async function removeStaleTemps(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    const match = /\.(\d+)\.tmp$/.exec(name);
    if (!match) continue;
    const pid = Number(match[1]);
    if (pid === process.pid || isAlive(pid)) continue;
    await rm(join(dir, name), { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Replaces `path` by `text` atomically: a temp file, fsync, rename (a crash leaves the old or the new). */
function ignoreMissing(error: unknown): void {
  if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
}

/** The last TAIL_BYTES of a file ('' when there is none): only the tail of a long log matters. */
async function tail(path: string): Promise<string> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    return buffer.toString('utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw error;
  } finally {
    await handle?.close();
  }
}

export async function writeAtomic(path: string, text: string): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(text);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
}
