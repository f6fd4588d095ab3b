/**
 * `outlast setup` for the `gcs` driver: the bucket, uniform bucket-level access, public read
 * (the IAM binding `allUsers` → `roles/storage.objectViewer`), the website configuration
 * (`mainPageSuffix`, `notFoundPage`) and CORS. Each step reads the bucket first, so a second run
 * says `already`; each change goes through the write gate (writes.ts), so a dry run changes
 * nothing. A bucket a dry run would create is not there to read: every later step is a change.
 *
 * Public read is IAM, not object ACLs: with uniform bucket-level access on (Google's
 * recommendation, and required for the binding to be the only way in), ACLs no longer apply.
 */
import type { Bucket, BucketMetadata, Storage } from '@google-cloud/storage';
import { OutlastError } from '../../errors.ts';
import { gateOf, type WriteGate } from '../../writes.ts';
import type { CorsRule, SetupOptions, SetupStep } from '../driver.ts';
import { type GcsErrorContext, gcsError, gcsStatus } from './gcs-errors.ts';

export interface GcsSetupContext extends GcsErrorContext {
  storage: Storage;
  gcsBucket: Bucket;
  projectId: string | undefined;
}

const VIEWER_ROLE = 'roles/storage.objectViewer';
const ALL_USERS = 'allUsers';

export async function setupGcsBucket(context: GcsSetupContext, options: SetupOptions): Promise<SetupStep[]> {
  const gate = gateOf(options);
  const name = JSON.stringify(context.gcsBucket.name);
  let current: BucketMetadata | undefined;
  try {
    [current] = await context.gcsBucket.getMetadata();
  } catch (error) {
    if (gcsStatus(error) !== 404) throw gcsError(context, error, 'setup: read the bucket');
  }
  const steps: SetupStep[] = [];
  if (current) {
    steps.push({ step: 'create bucket', status: 'already', detail: `bucket ${name} exists` });
  } else {
    if (!options.create) {
      throw new OutlastError('not_found', `setup: bucket ${name} does not exist`, {
        source: context.source,
        hint: 'create it, or let setup create it (create)',
      });
    }
    steps.push(await createStep(context, gate));
  }
  const there = current !== undefined || !gate.dryRun;
  const read = async (): Promise<BucketMetadata | undefined> =>
    there
      ? (await context.gcsBucket.getMetadata().catch(fail(context, 'setup: read the bucket')))[0]
      : undefined;

  const uniform = (await read())?.iamConfiguration?.uniformBucketLevelAccess?.enabled === true;
  steps.push(
    uniform
      ? { step: 'uniform access', status: 'already', detail: 'uniform bucket-level access is on' }
      : await gate.step(
          'uniform access',
          { what: 'turn on uniform bucket-level access', done: 'uniform bucket-level access is now on' },
          async () => {
            await context.gcsBucket
              .setMetadata({ iamConfiguration: { uniformBucketLevelAccess: { enabled: true } } })
              .catch(fail(context, 'setup: turn on uniform bucket-level access'));
          },
        ),
  );
  steps.push(await publicReadStep(context, gate, there));

  const website = (await read())?.website;
  const documents = describeDocuments(options);
  const wantedNotFound = options.errorDocument;
  steps.push(
    website?.mainPageSuffix === options.indexDocument && website?.notFoundPage === wantedNotFound
      ? { step: 'website', status: 'already', detail: `the bucket serves ${documents}` }
      : await gate.step(
          'website',
          { what: `serve ${documents}`, done: `the bucket now serves ${documents}` },
          async () => {
            await context.gcsBucket
              .setMetadata({
                website: { mainPageSuffix: options.indexDocument, notFoundPage: wantedNotFound ?? null },
              } as BucketMetadata)
              .catch(fail(context, 'setup: set the website configuration'));
          },
        ),
  );
  if (options.cors) steps.push(await corsStep(context, gate, options.cors, await read()));
  return steps;
}

async function createStep(context: GcsSetupContext, gate: WriteGate): Promise<SetupStep> {
  const name = JSON.stringify(context.gcsBucket.name);
  const where = `bucket ${name}${context.projectId ? ` in project ${context.projectId}` : ''}`;
  return gate.step('create bucket', { what: `create ${where}`, done: `created ${where}` }, async () => {
    try {
      await context.storage.createBucket(context.gcsBucket.name, {
        iamConfiguration: { uniformBucketLevelAccess: { enabled: true } },
      });
    } catch (error) {
      if (gcsStatus(error) === 409) {
        throw new OutlastError('conflict', `setup: the bucket name ${name} is taken (by another project?)`, {
          source: context.source,
          cause: error,
          hint: 'bucket names are global on GCS: choose another one, or grant this account the existing bucket',
        });
      }
      throw gcsError(context, error, 'setup: create');
    }
  });
}

interface PolicyBinding {
  role: string;
  members: string[];
  condition?: unknown;
}

async function publicReadStep(context: GcsSetupContext, gate: WriteGate, there: boolean): Promise<SetupStep> {
  const step = 'public read';
  let policy: { bindings?: PolicyBinding[]; etag?: string; version?: number } = {};
  if (there) {
    const [read] = await context.gcsBucket.iam
      .getPolicy({ requestedPolicyVersion: 3 })
      .catch(fail(context, 'setup: read the IAM policy'));
    policy = read as typeof policy;
  }
  const bindings = policy.bindings ?? [];
  const open = bindings.some(
    (binding) => binding.role === VIEWER_ROLE && !binding.condition && binding.members.includes(ALL_USERS),
  );
  if (open) return { step, status: 'already', detail: `allUsers have ${VIEWER_ROLE}` };
  // Other bindings stay; allUsers joins the unconditional viewer binding, or gets one.
  const viewer = bindings.find((binding) => binding.role === VIEWER_ROLE && !binding.condition);
  const next = viewer
    ? bindings.map((binding) =>
        binding === viewer ? { ...binding, members: [...binding.members, ALL_USERS] } : binding,
      )
    : [...bindings, { role: VIEWER_ROLE, members: [ALL_USERS] }];
  const change = { what: `grant allUsers ${VIEWER_ROLE}`, done: `allUsers now have ${VIEWER_ROLE}` };
  return gate.step(step, change, async () => {
    await context.gcsBucket.iam
      .setPolicy({ ...policy, bindings: next } as Parameters<Bucket['iam']['setPolicy']>[0])
      .catch(fail(context, 'setup: set the IAM policy'));
  });
}

async function corsStep(
  context: GcsSetupContext,
  gate: WriteGate,
  cors: CorsRule,
  current: BucketMetadata | undefined,
): Promise<SetupStep> {
  // GCS's responseHeader is both the preflight's allowed request headers and the exposed ones.
  const rule = {
    origin: cors.allowedOrigins,
    method: cors.allowedMethods,
    responseHeader: cors.allowedHeaders,
    maxAgeSeconds: cors.maxAgeSeconds,
  };
  const wanted = `CORS for ${cors.allowedOrigins.join(', ')} (${cors.allowedMethods.join(', ')}, max age ${cors.maxAgeSeconds} s)`;
  const rules = current?.cors ?? [];
  if (rules.length === 1 && JSON.stringify(normal(rules[0]!)) === JSON.stringify(normal(rule))) {
    return { step: 'cors', status: 'already', detail: wanted };
  }
  return gate.step('cors', { what: `set ${wanted}`, done: `set ${wanted}` }, async () => {
    await context.gcsBucket.setMetadata({ cors: [rule] }).catch(fail(context, 'setup: set the CORS rules'));
  });
}

function normal(rule: {
  origin?: string[];
  method?: string[];
  responseHeader?: string[];
  maxAgeSeconds?: number;
}) {
  const sorted = (list: string[] | undefined) => [...(list ?? [])].sort();
  return [sorted(rule.origin), sorted(rule.method), sorted(rule.responseHeader), rule.maxAgeSeconds ?? null];
}

function fail(context: GcsErrorContext, operation: string) {
  return (error: unknown): never => {
    throw gcsError(context, error, operation);
  };
}

function describeDocuments(options: SetupOptions): string {
  const index = `index document ${JSON.stringify(options.indexDocument)}`;
  return options.errorDocument ? `${index}, error document ${JSON.stringify(options.errorDocument)}` : index;
}
