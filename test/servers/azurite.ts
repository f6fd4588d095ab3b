// Azurite, Microsoft's Azure Storage emulator (npm `azurite`, a dev dependency), for tests: its
// blob service only, in memory, on 127.0.0.1 and a free port (see shared notes/azurite.md).
// `startAzurite()` starts one and waits until it answers (30 s at most); `azuriteForTests()`
// starts one per test process and shares it. Every Azurite started here is stopped (by its PID)
// when the process exits, however the tests ended, and by `stop()` before that.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { eventually } from '../helpers/eventually.ts';
import { saysPortTaken, startOnFreePorts } from '../helpers/ports.ts';

const AZURITE_BLOB = fileURLToPath(new URL('../../node_modules/.bin/azurite-blob', import.meta.url));
const READY_TIMEOUT_MS = 30_000;

/** The emulator's well-known development account (public, documented by Microsoft). */
export const AZURITE_ACCOUNT = 'devstoreaccount1';
export const AZURITE_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';

export interface Azurite {
  port: number;
  /** The blob service URL: `http://127.0.0.1:PORT/devstoreaccount1`. */
  endpoint: string;
  connectionString: string;
  pid: number;
  /** Stops it (SIGTERM, then SIGKILL after 5 s) and waits until it has exited. */
  stop(): Promise<void>;
}

const children = new Set<ChildProcess>();
let hooked = false;

function installExitHook(): void {
  if (hooked) return;
  hooked = true;
  process.on('exit', () => {
    for (const child of children) {
      try {
        if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

type Started = { azurite: Azurite } | { taken: true };

async function startOn(port: number): Promise<Started> {
  installExitHook();
  const child = spawn(
    AZURITE_BLOB,
    [
      '--inMemoryPersistence',
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      String(port),
      '--loose',
      '--skipApiVersionCheck',
      '--silent',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.add(child);
  // The shared Azurite must not keep a test process alive: the exit hook stops it.
  child.unref();
  let output = '';
  for (const stream of [child.stdout, child.stderr])
    (stream as unknown as { unref?: () => void } | null)?.unref?.();
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
  exited.then(() => children.delete(child));
  let stopped: Promise<void> | undefined;
  const stop = () => {
    stopped ??= (async () => {
      // Waited for here, so it must keep the process alive until it has exited.
      child.ref();
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exited;
      clearTimeout(timer);
    })();
    return stopped;
  };
  const endpoint = `http://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
  let gone = false;
  exited.then(() => {
    gone = true;
  });
  // Any HTTP answer (an unauthenticated request gets 403) means it listens; an exit ends the wait.
  const answers = () =>
    fetch(`${endpoint}?comp=properties&restype=service`, { signal: AbortSignal.timeout(2_000) }).then(
      (response) => response.body?.cancel().then(() => true) ?? true,
      () => false,
    );
  try {
    await eventually(
      `azurite-blob answers on port ${port}`,
      async () => gone || (await answers()),
      READY_TIMEOUT_MS,
    );
  } catch (error) {
    await stop();
    throw new Error(`${(error as Error).message}:\n${output}`);
  }
  if (gone) {
    if (saysPortTaken(output)) return { taken: true };
    throw new Error(`azurite-blob exited before it answered:\n${output}`);
  }
  return {
    azurite: {
      port,
      endpoint,
      connectionString: `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};BlobEndpoint=${endpoint};`,
      pid: child.pid!,
      stop,
    },
  };
}

/** A fresh Azurite on a free port; ready when this resolves. */
export async function startAzurite(): Promise<Azurite> {
  const started = await startOnFreePorts(
    ['127.0.0.1'],
    ([port]) => startOn(port!),
    (result) => 'taken' in result,
  );
  if ('taken' in started) throw new Error('azurite-blob: every port tried was taken');
  return started.azurite;
}

let shared: Promise<Azurite> | undefined;

/** One Azurite for this test process, started on first use (stopped at exit). */
export function azuriteForTests(): Promise<Azurite> {
  shared ??= startAzurite();
  return shared;
}
