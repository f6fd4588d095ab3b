/** `outlast failback`, `pause`, `resume`, `force`: ask the running watcher, with its token. */
import { loadConfig } from '../../config/load.ts';
import { readToken } from '../../daemon/state-store.ts';
import { OutlastError } from '../../errors.ts';
import { EXIT } from '../exit.ts';
import type { GlobalOptions } from '../options.ts';

export async function watcherUrl(listen: string): Promise<string> {
  const host = listen.replace(/^0\.0\.0\.0:/, '127.0.0.1:').replace(/^\[::\]:/, '[::1]:');
  return `http://${host}`;
}

export async function controlCommand(
  action: 'failback' | 'pause' | 'resume' | 'force',
  options: GlobalOptions & { origins?: string[] },
): Promise<number> {
  const { config } = await loadConfig(options.config);
  const base = await watcherUrl(config.watch.listen);
  const token = await readToken(config.watch.stateDir);
  if (!token) {
    throw new OutlastError('not_found', `no token in ${config.watch.stateDir} and OUTLAST_TOKEN is not set`, {
      hint: 'is `outlast watch` running with this config?',
    });
  }
  let response: Response;
  try {
    response = await fetch(`${base}/actions/${action}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify(action === 'force' ? { origins: options.origins ?? [] } : {}),
      signal: AbortSignal.timeout(5000),
    });
  } catch (error) {
    throw new OutlastError('unavailable', `no watcher answers at ${base}`, {
      cause: error,
      hint: 'start it with `outlast watch`',
    });
  }
  const body = (await response.json().catch(() => ({}))) as {
    error?: string;
    status?: { active: string[]; reason?: string };
  };
  if (!response.ok) {
    throw new OutlastError(
      response.status === 401 ? 'permission_denied' : 'invalid_argument',
      body.error ?? `HTTP ${response.status}`,
    );
  }
  process.stdout.write(
    `${action}: done; DNS points to ${body.status?.active.join(', ') || '(nothing yet)'}\n`,
  );
  return EXIT.ok;
}
