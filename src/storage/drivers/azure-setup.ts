/**
 * `outlast setup` for the `azure` driver: the container, then either the account's static
 * website (for `$web`: index document and 404 document) or public read access to the blobs of
 * any other container (`blob`: anyone may read a blob, nobody may list), and CORS when asked.
 * Each step reads the current state first, so a second run says `already` and changes nothing,
 * and hands its change to the setup's write gate (writes.ts), which in a dry run reports `would`.
 *
 * The static website and CORS are properties of the account's blob service, not of the
 * container: setup changes only the parts it sets (Set Blob Service Properties leaves elements it
 * is not sent alone) and keeps CORS rules it did not make. An account whose anonymous access is
 * disallowed (AllowBlobPublicAccess false) refuses public read: that step is `unsupported`, with
 * what to do. Azurite stores the static website settings but does not serve the web endpoint.
 */
import type { CorsRule as AzureCorsRule, BlobServiceProperties } from '@azure/storage-blob';
import { OutlastError } from '../../errors.ts';
import { gateOf, type WriteGate } from '../../writes.ts';
import type { CorsRule, SetupOptions, SetupStep } from '../driver.ts';
import type { ResolvedClients } from './azure-client.ts';
import { type AzureErrorContext, azureError, azureErrorName } from './azure-errors.ts';
import { STATIC_WEBSITE_CONTAINER } from './azure-options.ts';

export interface AzureSetupContext extends AzureErrorContext {
  clients(): Promise<ResolvedClients>;
}

interface StepContext extends AzureErrorContext, ResolvedClients {
  gate: WriteGate;
  /** False for a container a dry run would create: nothing to read, only changes. */
  containerThere: boolean;
}

export async function setupAzureContainer(
  context: AzureSetupContext,
  options: SetupOptions,
): Promise<SetupStep[]> {
  const gate = gateOf(options);
  let clients: ResolvedClients;
  try {
    clients = await context.clients();
  } catch (error) {
    throw azureError(context, error, 'setup');
  }
  const created = await createStep({ ...context, ...clients }, gate, options);
  const each: StepContext = { ...context, ...clients, gate, containerThere: created.status !== 'would' };
  const website = context.container === STATIC_WEBSITE_CONTAINER;
  const steps = [created, website ? await websiteStep(each, options) : await publicReadStep(each)];
  if (!website) steps.push(noIndexDocuments(context.container, options));
  if (options.cors) steps.push(await corsStep(each, options.cors));
  return steps;
}

async function createStep(
  context: AzureErrorContext & ResolvedClients,
  gate: WriteGate,
  options: SetupOptions,
): Promise<SetupStep> {
  const { containerClient, container } = context;
  const step = 'create container';
  const quoted = JSON.stringify(container);
  const exists = await containerClient.exists().catch((error: unknown) => {
    throw azureError(context, error, 'setup: check');
  });
  if (exists) return { step, status: 'already', detail: `container ${quoted} exists` };
  if (!options.create) {
    throw new OutlastError('not_found', `setup: container ${quoted} does not exist`, {
      source: context.source,
      hint: 'create it, or let setup create it (create)',
    });
  }
  // `$web` stays private: the static website endpoint serves it. Any other is read by blob URL.
  const website = container === STATIC_WEBSITE_CONTAINER;
  const change = website
    ? { what: `create container ${quoted}`, done: `created container ${quoted}` }
    : {
        what: `create container ${quoted} with public read access to its blobs`,
        done: `created container ${quoted}, its blobs publicly readable`,
      };
  return gate.step(step, change, async () => {
    try {
      await containerClient.create(website ? {} : { access: 'blob' });
    } catch (error) {
      const name = azureErrorName(error);
      // Created by a concurrent run since the check: what this step wanted.
      if (name === 'ContainerAlreadyExists')
        return { step, status: 'already', detail: `container ${quoted} exists` };
      if (name === 'PublicAccessNotPermitted') {
        await containerClient.create();
        return publicAccessRefused(container, 'created the container, private');
      }
      throw azureError(context, error, 'setup: create');
    }
  });
}

async function publicReadStep(context: StepContext): Promise<SetupStep> {
  const { containerClient, container, gate, containerThere } = context;
  const step = 'public read';
  const quoted = JSON.stringify(container);
  let identifiers: Awaited<ReturnType<typeof containerClient.getAccessPolicy>>['signedIdentifiers'] = [];
  if (containerThere) {
    try {
      const policy = await containerClient.getAccessPolicy();
      if (policy.blobPublicAccess === 'blob' || policy.blobPublicAccess === 'container') {
        return {
          step,
          status: 'already',
          detail: `anyone may read the blobs of container ${quoted} (${policy.blobPublicAccess} access)`,
        };
      }
      identifiers = policy.signedIdentifiers;
    } catch (error) {
      throw azureError(context, error, 'setup: read the access policy');
    }
  }
  const change = {
    what: `let anyone read the blobs of container ${quoted} (blob access)`,
    done: `anyone may now read the blobs of container ${quoted} (blob access)`,
  };
  return gate.step(step, change, async () => {
    try {
      // The stored access policies stay: only the public access level changes.
      await containerClient.setAccessPolicy('blob', identifiers);
    } catch (error) {
      if (azureErrorName(error) === 'PublicAccessNotPermitted')
        return publicAccessRefused(container, 'nothing changed');
      throw azureError(context, error, 'setup: set the access policy');
    }
  });
}

function publicAccessRefused(container: string, what: string): SetupStep {
  return {
    step: 'public read',
    status: 'unsupported',
    detail: `the account does not allow anonymous access (${what}): turn on "Allow Blob anonymous access" in the storage account's configuration and run setup again, or use container $web (the static website endpoint) instead of ${JSON.stringify(container)}`,
  };
}

/** A container's blob URLs serve no index document: say so, and how to get one. */
function noIndexDocuments(container: string, options: SetupOptions): SetupStep {
  return {
    step: 'website',
    status: 'unsupported',
    detail: `container ${JSON.stringify(container)} is served by its blob URLs, which have no index or error documents (${options.indexDocument}${options.errorDocument ? `, ${options.errorDocument}` : ''}): use container $web for the account's static website to have them`,
  };
}

async function websiteStep(context: StepContext, options: SetupOptions): Promise<SetupStep> {
  const { serviceClient, gate } = context;
  const step = 'website';
  const current = await readServiceProperties(context);
  const site = current.staticWebsite;
  const documents = `index document ${JSON.stringify(options.indexDocument)}${options.errorDocument ? `, 404 document ${JSON.stringify(options.errorDocument)}` : ''}`;
  if (
    site?.enabled &&
    site.indexDocument === options.indexDocument &&
    (site.errorDocument404Path ?? undefined) === options.errorDocument
  ) {
    return { step, status: 'already', detail: `the static website serves ${documents}` };
  }
  const change = {
    what: `serve a static website from $web with ${documents}`,
    done: `the static website now serves ${documents}`,
  };
  return gate.step(step, change, async () => {
    try {
      await serviceClient.setProperties({
        staticWebsite: {
          enabled: true,
          indexDocument: options.indexDocument,
          ...(options.errorDocument ? { errorDocument404Path: options.errorDocument } : {}),
        },
      });
    } catch (error) {
      throw azureError(context, error, 'setup: set the static website');
    }
  });
}

async function corsStep(context: StepContext, cors: CorsRule): Promise<SetupStep> {
  const { serviceClient, gate } = context;
  const step = 'cors';
  const rule: AzureCorsRule = {
    allowedOrigins: cors.allowedOrigins.join(','),
    allowedMethods: cors.allowedMethods.join(','),
    allowedHeaders: cors.allowedHeaders.join(','),
    exposedHeaders: '',
    maxAgeInSeconds: cors.maxAgeSeconds,
  };
  const wanted = `${rule.allowedMethods} from ${rule.allowedOrigins}, max age ${cors.maxAgeSeconds} s`;
  const rules = (await readServiceProperties(context)).cors ?? [];
  if (rules.some((item) => sameRule(item, rule))) {
    return { step, status: 'already', detail: `the blob service allows ${wanted}` };
  }
  // Rules for other origins (someone else's) stay; a rule outlast set for these origins is replaced.
  const kept = rules.filter((item) => item.allowedOrigins !== rule.allowedOrigins);
  const change = {
    what: `allow ${wanted} (blob service CORS)`,
    done: `the blob service now allows ${wanted}`,
  };
  return gate.step(step, change, async () => {
    try {
      await serviceClient.setProperties({ cors: [...kept, rule] });
    } catch (error) {
      throw azureError(context, error, 'setup: set CORS');
    }
  });
}

async function readServiceProperties(context: StepContext): Promise<BlobServiceProperties> {
  try {
    return await context.serviceClient.getProperties();
  } catch (error) {
    throw azureError(context, error, 'setup: read the blob service properties');
  }
}

function sameRule(a: AzureCorsRule, b: AzureCorsRule): boolean {
  const norm = (text: string) =>
    text
      .split(',')
      .map((item) => item.trim().toLowerCase())
      .sort()
      .join(',');
  return (
    norm(a.allowedOrigins) === norm(b.allowedOrigins) &&
    norm(a.allowedMethods) === norm(b.allowedMethods) &&
    norm(a.allowedHeaders) === norm(b.allowedHeaders) &&
    a.maxAgeInSeconds === b.maxAgeInSeconds
  );
}
