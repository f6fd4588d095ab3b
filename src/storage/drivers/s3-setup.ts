/**
 * `outlast setup` for the `s3` driver: the bucket, public read, website hosting and CORS, each a
 * step that reads the current state first, so a second run reports `already` and changes nothing.
 * Each change goes through the setup's write gate (writes.ts), which in a dry run reports it as
 * `would` instead; a bucket that a dry run would create is not there to read, so every later
 * step is then a change from nothing.
 *
 * Stores differ most here. AWS has all four, but its Block Public Access may refuse a public
 * policy. Many S3-compatible stores have no bucket policies and take the `public-read` ACL
 * instead (OpenStack Swift's s3api maps it to the container read ACL `.r:*,.rlistings`, notes G9),
 * and some have no website or CORS API at all: those steps are `unsupported`, with what to do.
 */
import {
  type BucketLocationConstraint,
  type CORSRule,
  CreateBucketCommand,
  type CreateBucketCommandInput,
  GetBucketAclCommand,
  GetBucketCorsCommand,
  GetBucketPolicyCommand,
  GetBucketWebsiteCommand,
  HeadBucketCommand,
  PutBucketAclCommand,
  PutBucketCorsCommand,
  PutBucketPolicyCommand,
  PutBucketWebsiteCommand,
  type RoutingRule,
  type S3Client,
} from '@aws-sdk/client-s3';
import { messageOf, OutlastError } from '../../errors.ts';
import { gateOf, type WriteGate } from '../../writes.ts';
import type { CorsRule, SetupOptions, SetupStep } from '../driver.ts';
import { type S3ErrorContext, s3Error, s3ErrorName, s3Status } from './s3-errors.ts';

export interface S3SetupContext extends S3ErrorContext {
  client: S3Client;
  region: string;
  /** The origin's key prefix (`site/`) or empty: public read is granted under it only. */
  prefix: string;
}

/** What every step works with besides its options. */
interface StepContext extends S3SetupContext {
  gate: WriteGate;
  /** False for a bucket a dry run would create: there is nothing to read, only changes. */
  bucketThere: boolean;
}

/** The Sid of the statement outlast adds to a bucket policy; other statements are kept. */
const PUBLIC_READ_SID = 'OutlastPublicRead';
const ALL_USERS = 'http://acs.amazonaws.com/groups/global/AllUsers';
/** The one region whose CreateBucket takes no LocationConstraint. */
const DEFAULT_REGION = 'us-east-1';

interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Principal?: unknown;
  Action?: string | string[];
  Resource?: string | string[];
  Condition?: unknown;
}

interface PolicyDocument {
  Version?: string;
  Statement?: PolicyStatement[];
}

export async function setupS3Bucket(context: S3SetupContext, options: SetupOptions): Promise<SetupStep[]> {
  const gate = gateOf(options);
  const created = await createStep(context, gate, options);
  const each: StepContext = { ...context, gate, bucketThere: created.status !== 'would' };
  const steps = [created, await publicReadStep(each), await websiteStep(each, options)];
  if (options.cors) steps.push(await corsStep(each, options.cors));
  return steps;
}

async function createStep(
  context: S3SetupContext,
  gate: WriteGate,
  options: SetupOptions,
): Promise<SetupStep> {
  const { client, bucket, region } = context;
  const step = 'create bucket';
  const exists = await client.send(new HeadBucketCommand({ Bucket: bucket })).then(
    () => true,
    (error: unknown) => {
      if (s3Status(error) === 404) return false;
      throw s3Error(context, error, 'setup: check');
    },
  );
  if (exists) return { step, status: 'already', detail: `bucket ${JSON.stringify(bucket)} exists` };
  if (!options.create) {
    throw new OutlastError('not_found', `setup: bucket ${JSON.stringify(bucket)} does not exist`, {
      source: context.source,
      hint: 'create it, or let setup create it (create)',
    });
  }
  const where = `bucket ${JSON.stringify(bucket)} in ${region}`;
  const input: CreateBucketCommandInput = { Bucket: bucket };
  if (region !== DEFAULT_REGION)
    input.CreateBucketConfiguration = { LocationConstraint: region as BucketLocationConstraint };
  return gate.step(step, { what: `create ${where}`, done: `created ${where}` }, async () => {
    try {
      await client.send(new CreateBucketCommand(input));
    } catch (error) {
      // Created by a concurrent run since the HEAD: what this step wanted.
      if (s3ErrorName(error) === 'BucketAlreadyOwnedByYou')
        return { step, status: 'already', detail: `${where} exists` };
      if (s3ErrorName(error) === 'BucketAlreadyExists') {
        throw new OutlastError(
          'conflict',
          `setup: the bucket name ${JSON.stringify(bucket)} is taken by another account`,
          {
            source: context.source,
            cause: error,
            hint: 'bucket names are global on AWS: choose another one',
          },
        );
      }
      throw s3Error(context, error, 'setup: create');
    }
  });
}

async function publicReadStep(context: StepContext): Promise<SetupStep> {
  const { client, bucket, gate, bucketThere } = context;
  const step = 'public read';
  const resource = `arn:aws:s3:::${bucket}/${context.prefix}*`;
  let current: PolicyDocument | undefined;
  if (bucketThere) {
    try {
      const { Policy } = await client.send(new GetBucketPolicyCommand({ Bucket: bucket }));
      current = Policy ? (JSON.parse(Policy) as PolicyDocument) : undefined;
    } catch (error) {
      if (isUnsupported(error)) return publicReadByAcl(context);
      if (s3ErrorName(error) !== 'NoSuchBucketPolicy')
        throw s3Error(context, error, 'setup: read the bucket policy');
    }
  }
  if (current && grantsPublicRead(current, resource, bucket)) {
    return { step, status: 'already', detail: `the bucket policy lets anyone read ${resource}` };
  }
  const statement: PolicyStatement = {
    Sid: PUBLIC_READ_SID,
    Effect: 'Allow',
    Principal: '*',
    Action: 's3:GetObject',
    Resource: resource,
  };
  // Keep whatever else the policy says: only outlast's own statement is replaced.
  const kept = (current?.Statement ?? []).filter((item) => item.Sid !== PUBLIC_READ_SID);
  const policy: PolicyDocument = {
    Version: current?.Version ?? '2012-10-17',
    Statement: [...kept, statement],
  };
  const change = {
    // Whether the store takes a policy or only an ACL cannot be read from a bucket not there yet.
    what: bucketThere ? `let anyone read ${resource} (bucket policy)` : 'make the objects publicly readable',
    done: `the bucket policy now lets anyone read ${resource}`,
  };
  return gate.step(step, change, async () => {
    try {
      await client.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(policy) }));
    } catch (error) {
      if (isUnsupported(error)) return publicReadByAcl(context);
      if (
        s3ErrorName(error) === 'AccessDenied' &&
        /BlockPublicPolicy|public policies are blocked/i.test(messageOf(error))
      ) {
        throw new OutlastError(
          'permission_denied',
          `setup: bucket ${JSON.stringify(bucket)}: S3 Block Public Access refuses the public-read bucket policy (BlockPublicPolicy)`,
          {
            source: context.source,
            cause: error,
            hint: 'turn off "Block public access" for bucket policies on this bucket (and the account), or keep the bucket private and serve it through CloudFront with an origin access control',
          },
        );
      }
      throw s3Error(context, error, 'setup: set the bucket policy');
    }
  });
}

/** Public read where the store has no bucket policies: the `public-read` canned ACL. */
async function publicReadByAcl(context: StepContext): Promise<SetupStep> {
  const { client, bucket, gate } = context;
  const step = 'public read';
  try {
    const { Grants = [] } = await client.send(new GetBucketAclCommand({ Bucket: bucket }));
    const open = Grants.some(
      (grant) =>
        grant.Grantee?.URI === ALL_USERS &&
        (grant.Permission === 'READ' || grant.Permission === 'FULL_CONTROL'),
    );
    if (open) return { step, status: 'already', detail: 'the bucket ACL lets anyone read (public-read)' };
  } catch (error) {
    if (isUnsupported(error)) return noPublicRead(bucket);
    throw s3Error(context, error, 'setup: read the bucket ACL');
  }
  // Swift's s3api applies the ACL (.r:*,.rlistings) but reads back only the owner's grant, so
  // this step says `done` on every run there; setting it again changes nothing.
  const change = {
    what: 'set the public-read ACL (this store has no bucket policies)',
    done: 'set the public-read ACL (this store has no bucket policies; on OpenStack Swift it is the read ACL .r:*,.rlistings)',
  };
  return gate.step(step, change, async () => {
    try {
      await client.send(new PutBucketAclCommand({ Bucket: bucket, ACL: 'public-read' }));
    } catch (error) {
      if (isUnsupported(error)) return noPublicRead(bucket);
      throw s3Error(context, error, 'setup: set the bucket ACL');
    }
  });
}

function noPublicRead(bucket: string): SetupStep {
  return {
    step: 'public read',
    status: 'unsupported',
    detail: `this store's S3 API has neither bucket policies nor ACLs (NotImplemented): make bucket ${JSON.stringify(bucket)} publicly readable in the store's own console or API`,
  };
}

async function websiteStep(context: StepContext, options: SetupOptions): Promise<SetupStep> {
  const { client, bucket, gate, bucketThere } = context;
  const step = 'website';
  const unsupported: SetupStep = {
    step,
    status: 'unsupported',
    detail: `this store's S3 API has no website hosting (NotImplemented); on OpenStack Swift, configure the container through the swift driver or \`swift post -m web-index:${options.indexDocument}${options.errorDocument ? ` -m web-error:${options.errorDocument}` : ''} ${bucket}\``,
  };
  let current: { index?: string; error?: string; routingRules?: RoutingRule[] } | undefined;
  if (bucketThere) {
    try {
      const out = await client.send(new GetBucketWebsiteCommand({ Bucket: bucket }));
      current = {
        index: out.IndexDocument?.Suffix,
        error: out.ErrorDocument?.Key,
        ...(out.RoutingRules ? { routingRules: out.RoutingRules } : {}),
      };
    } catch (error) {
      if (isUnsupported(error)) return unsupported;
      if (s3ErrorName(error) !== 'NoSuchWebsiteConfiguration')
        throw s3Error(context, error, 'setup: read the website configuration');
    }
  }
  const documents = describeDocuments(options);
  if (current && current.index === options.indexDocument && current.error === options.errorDocument) {
    return { step, status: 'already', detail: `website hosting serves ${documents}` };
  }
  const change = { what: `serve ${documents}`, done: `website hosting now serves ${documents}` };
  return gate.step(step, change, async () => {
    try {
      await client.send(
        new PutBucketWebsiteCommand({
          Bucket: bucket,
          WebsiteConfiguration: {
            IndexDocument: { Suffix: options.indexDocument },
            ...(options.errorDocument ? { ErrorDocument: { Key: options.errorDocument } } : {}),
            // Redirect rules someone set by hand stay.
            ...(current?.routingRules ? { RoutingRules: current.routingRules } : {}),
          },
        }),
      );
    } catch (error) {
      if (isUnsupported(error)) return unsupported;
      throw s3Error(context, error, 'setup: set the website configuration');
    }
  });
}

async function corsStep(context: StepContext, cors: CorsRule): Promise<SetupStep> {
  const { client, bucket, gate, bucketThere } = context;
  const step = 'cors';
  const wanted = describeCors(cors);
  const unsupported: SetupStep = {
    step,
    status: 'unsupported',
    detail: `this store's S3 API has no bucket CORS (NotImplemented); on OpenStack Swift, use the swift driver or \`swift post -m 'Access-Control-Allow-Origin:${cors.allowedOrigins.join(' ')}' -m 'Access-Control-Max-Age:${cors.maxAgeSeconds}' ${bucket}\``,
  };
  let rules: CORSRule[] = [];
  if (bucketThere) {
    try {
      rules = (await client.send(new GetBucketCorsCommand({ Bucket: bucket }))).CORSRules ?? [];
    } catch (error) {
      if (isUnsupported(error)) return unsupported;
      if (s3ErrorName(error) !== 'NoSuchCORSConfiguration')
        throw s3Error(context, error, 'setup: read the CORS rules');
    }
  }
  const rule: CORSRule = {
    AllowedOrigins: cors.allowedOrigins,
    AllowedMethods: cors.allowedMethods,
    AllowedHeaders: cors.allowedHeaders,
    MaxAgeSeconds: cors.maxAgeSeconds,
  };
  if (rules.length === 1 && sameRule(rules[0]!, rule)) return { step, status: 'already', detail: wanted };
  return gate.step(step, { what: `set ${wanted}`, done: `set ${wanted}` }, async () => {
    try {
      await client.send(
        new PutBucketCorsCommand({ Bucket: bucket, CORSConfiguration: { CORSRules: [rule] } }),
      );
    } catch (error) {
      if (isUnsupported(error)) return unsupported;
      throw s3Error(context, error, 'setup: set the CORS rules');
    }
  });
}

/** True when the policy has an unconditional statement letting anyone GetObject on `resource`. */
function grantsPublicRead(policy: PolicyDocument, resource: string, bucket: string): boolean {
  const covering = new Set([resource, `arn:aws:s3:::${bucket}/*`]);
  return (policy.Statement ?? []).some(
    (statement) =>
      statement.Effect === 'Allow' &&
      statement.Condition === undefined &&
      isEveryone(statement.Principal) &&
      list(statement.Action).some((action) => ['s3:GetObject', 's3:*', '*'].includes(action)) &&
      list(statement.Resource).some((item) => covering.has(item)),
  );
}

function isEveryone(principal: unknown): boolean {
  if (principal === '*') return true;
  const aws = (principal as { AWS?: unknown } | undefined)?.AWS;
  return aws === '*' || (Array.isArray(aws) && aws.includes('*'));
}

function list(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function sameRule(a: CORSRule, b: CORSRule): boolean {
  const same = (x: string[] | undefined, y: string[] | undefined) =>
    JSON.stringify([...(x ?? [])].sort()) === JSON.stringify([...(y ?? [])].sort());
  return (
    same(a.AllowedOrigins, b.AllowedOrigins) &&
    same(a.AllowedMethods, b.AllowedMethods) &&
    same(a.AllowedHeaders, b.AllowedHeaders) &&
    (a.MaxAgeSeconds ?? undefined) === (b.MaxAgeSeconds ?? undefined) &&
    (a.ExposeHeaders ?? []).length === 0
  );
}

/** The store has no such API: NotImplemented (501) or MethodNotAllowed (405). */
function isUnsupported(error: unknown): boolean {
  const name = s3ErrorName(error);
  const status = s3Status(error);
  return name === 'NotImplemented' || name === 'MethodNotAllowed' || status === 501 || status === 405;
}

function describeDocuments(options: SetupOptions): string {
  const index = `index document ${JSON.stringify(options.indexDocument)}`;
  return options.errorDocument ? `${index}, error document ${JSON.stringify(options.errorDocument)}` : index;
}

function describeCors(cors: CorsRule): string {
  return `CORS for ${cors.allowedOrigins.join(', ')} (${cors.allowedMethods.join(', ')}, max age ${cors.maxAgeSeconds} s)`;
}
