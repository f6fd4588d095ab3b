/** `outlast setup`: makes each origin ready to serve the site, idempotently, and says what it did. */
import { loadConfig } from '../../config/load.ts';
import { selectOrigins } from '../../deploy/engine.ts';
import { isOutlastError, OutlastError } from '../../errors.ts';
import type { SetupStep } from '../../storage/driver.ts';
import { createStore } from '../../storage/index.ts';
import { componentLogger } from '../../util/log.ts';
import { createWriteGate } from '../../writes.ts';
import { EXIT } from '../exit.ts';
import type { GlobalOptions } from '../options.ts';

const out = (line = '') => process.stdout.write(`${line}\n`);

const MARK: Record<SetupStep['status'], string> = {
  done: 'done       ',
  already: 'already ok ',
  would: 'would do   ',
  unsupported: 'UNSUPPORTED',
};

interface SetupResult {
  originId: string;
  steps: SetupStep[];
  error: OutlastError | undefined;
}

export async function setupCommand(
  options: GlobalOptions & { origin?: string[]; create?: boolean; dryRun?: boolean; json?: boolean },
): Promise<number> {
  const { config } = await loadConfig(options.config);
  const dryRun = options.dryRun ?? false;
  const results: SetupResult[] = await Promise.all(
    selectOrigins(config, options.origin).map(async (origin) => {
      // Every change of the origin passes through its store's gate; a dry run still reads.
      const gate = createWriteGate({ dryRun, log: componentLogger('setup', { origin: origin.id }) });
      const store = await createStore(origin, { attempts: config.deploy.attempts, gate });
      try {
        const steps = await store.setup({
          create: options.create ?? false,
          indexDocument: config.site.indexDocument,
          errorDocument: config.site.errorDocument,
          cors: config.site.cors,
        });
        return { originId: origin.id, steps, error: undefined };
      } catch (error) {
        const wrapped = isOutlastError(error)
          ? error
          : new OutlastError('internal', String(error), { cause: error, source: `origin "${origin.id}"` });
        return { originId: origin.id, steps: [], error: wrapped };
      } finally {
        await store.close().catch(() => undefined);
      }
    }),
  );
  if (options.json) {
    out(
      JSON.stringify(
        results.map((result) => ({
          id: result.originId,
          ok: result.error === undefined,
          steps: result.steps,
          error: result.error ? { code: result.error.code, message: result.error.message } : null,
        })),
        null,
        2,
      ),
    );
  } else {
    for (const result of results) {
      out(`${result.originId}:`);
      for (const step of result.steps) out(`  ${MARK[step.status]}  ${step.step}: ${step.detail}`);
      if (result.error) {
        out(`  FAILED: ${result.error.message}`);
        if (result.error.hint) out(`  hint: ${result.error.hint}`);
        if (result.error.code === 'not_found' && !options.create) {
          out('  hint: `outlast setup --create` creates a missing bucket or container');
        }
      }
    }
    if (dryRun) out('\n(dry run: nothing was changed)');
  }
  if (!options.json) {
    const unsupported = results.flatMap((result) =>
      result.steps.filter((step) => step.status === 'unsupported'),
    );
    if (unsupported.length > 0) {
      out(`\n${unsupported.length} step(s) this store cannot do: finish them as said above.`);
    }
  }
  // Unsupported steps do not fail the run: they never will succeed, and a scripted re-run must
  // stay green; they are reported plainly above and in --json.
  return results.some((result) => result.error) ? EXIT.failed : EXIT.ok;
}
