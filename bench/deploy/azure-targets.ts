/**
 * outlast deploy → Azure Blob Storage, against Azurite (the emulator, in memory, on 127.0.0.1): a
 * new container per attempt, the well-known development account's connection string as `${VAR}`.
 * Azurite is one Node process; its CPU is counted as the store's, like the Swift servers'. Its
 * speed is not Azure's: the figures say what outlast's Azure path costs beside its Swift path on
 * the same machine, not how fast Azure is.
 */
import { BlobServiceClient } from '@azure/storage-blob';
import { outlastTarget } from './outlast-targets.ts';
import { ALL_SCENARIOS, type BenchContext, type Target } from './target.ts';

const AZURE_CONNECTION_VAR = 'BENCH_AZURE_CONNECTION_STRING';

function azuriteOf(ctx: BenchContext) {
  if (!ctx.azurite) throw new Error('this target needs Azurite');
  return ctx.azurite;
}

export const outlastAzure: Target = {
  id: 'outlast-azure',
  groups: ['azure'],
  description: 'outlast deploy → Azurite (Azure Blob Storage emulator, in memory), `azure` driver',
  scenarios: ALL_SCENARIOS,
  needsClusters: false,
  needsAzurite: true,
  async prepare(ctx, attempt) {
    const azurite = azuriteOf(ctx);
    const container = `outlast-bench-${attempt}-${Date.now().toString(36)}`;
    const service = BlobServiceClient.fromConnectionString(azurite.connectionString);
    await service.getContainerClient(container).create();
    const prepared = await outlastTarget(
      ctx,
      container,
      [
        {
          id: 'azurite',
          storage: { type: 'azure', container, connectionString: `\${${AZURE_CONNECTION_VAR}}` },
        },
      ],
      [],
      { [AZURE_CONNECTION_VAR]: azurite.connectionString },
      async () => {
        let count = 0;
        for await (const _ of service.getContainerClient(container).listBlobsFlat()) count++;
        return count;
      },
    );
    return { ...prepared, serverPids: () => [azurite.pid] };
  },
};
