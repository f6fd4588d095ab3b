/**
 * What the S3-compatible stores users ask about can and cannot do, as their vendors document it:
 * how to recognise the endpoint, the region to sign with, path or virtual-host addressing, ACLs,
 * bucket policies, S3 website hosting, CORS, and what is left to do by hand. The README's table
 * (s3-compatible-docs.ts) and `outlast check` (s3-compatible-check.ts) both read this list, so
 * they cannot disagree.
 *
 * Every fact carries the URL of the vendor page it comes from. Where the vendor's pages are
 * silent the value is `not documented`: a guess here would become advice a user trusts. What
 * `outlast setup` does on a store is not written down per store but derived from these facts and
 * from what s3-setup.ts does (a bucket policy, else the `public-read` ACL, website, CORS).
 */

/** Whether a store has a feature, by its own docs. */
export type Support = 'yes' | 'no' | 'partial' | 'not documented';
/** How buckets are addressed: `endpoint/bucket` (path), `bucket.endpoint` (virtual host), either. */
export type Addressing = 'path' | 'virtual-host' | 'both' | 'not documented';

/** One documented fact: its value, the docs' words in short, and the page it comes from. */
export interface Fact<Value> {
  readonly value: Value;
  readonly note?: string;
  readonly source: string;
}

/** What the region in the config must be, where the docs say. */
export type RegionRule =
  /** One of these names (R2's `auto` and its aliases). */
  | { readonly kind: 'fixed'; readonly accepted: readonly string[] }
  /** The region named in the endpoint's host (the host pattern's first group). */
  | { readonly kind: 'host' };

export interface S3CompatibleStore {
  /** A short name for tests and messages, e.g. `r2`. */
  readonly id: string;
  readonly name: string;
  /** The endpoint's host as the docs write it; undefined for self-hosted stores. */
  readonly endpoint: Fact<string | undefined>;
  /** Matches the endpoint's host name; a first group, if any, is the region. */
  readonly host?: RegExp;
  /** The region to sign with, in words. */
  readonly region: Fact<string>;
  readonly regionRule?: RegionRule;
  readonly addressing: Fact<Addressing>;
  /** Whether CreateBucket through the S3 API works as setup sends it. */
  readonly createBucket: Fact<Support>;
  /** Bucket (and object) ACLs, `public-read` in particular. */
  readonly acl: Fact<Support>;
  readonly policy: Fact<Support>;
  /** S3 website hosting: PutBucketWebsite with index and error documents. */
  readonly website: Fact<Support>;
  /** Matches the host of this store's website endpoints. */
  readonly websiteHost?: RegExp;
  readonly cors: Fact<Support>;
  /** What the user must do outside outlast for the store to serve the site. */
  readonly byHand: readonly Fact<string>[];
}

const AWS_VIRTUAL = 'https://docs.aws.amazon.com/AmazonS3/latest/userguide/VirtualHosting.html';
const R2_API = 'https://developers.cloudflare.com/r2/api/s3/api/';
const R2_PUBLIC = 'https://developers.cloudflare.com/r2/buckets/public-buckets/';
const B2_INTRO = 'https://www.backblaze.com/apidocs/introduction-to-the-s3-compatible-api';
const B2_API = 'https://www.backblaze.com/docs/cloud-storage-s3-compatible-api';
const B2_CALLS = 'https://www.backblaze.com/b2/docs/s3_compatible_api.html';
const DO_COMPAT = 'https://docs.digitalocean.com/products/spaces/reference/s3-compatibility/';
const DO_API = 'https://docs.digitalocean.com/reference/api/spaces-api/';
const WASABI_URLS = 'https://docs.wasabi.com/docs/service-urls-for-wasabis-storage-regions-2';
const WASABI_ACCESS = 'https://docs.wasabi.com/docs/bucket-access';
const MINIO_COMPAT = 'https://docs.min.io/community/minio-object-store/reference/s3-api-compatibility.html';
const CEPH_S3 = 'https://docs.ceph.com/en/latest/radosgw/s3/';
const CEPH_COMMONS = 'https://docs.ceph.com/en/latest/radosgw/s3/commons/';
const CEPH_OPTIONS = 'https://github.com/ceph/ceph/blob/main/src/common/options/rgw.yaml.in';
const GCS_INTEROP = 'https://cloud.google.com/storage/docs/interoperability';
const GCS_MIGRATION = 'https://cloud.google.com/storage/docs/aws-simple-migration';
const GCS_PUT_BUCKET = 'https://cloud.google.com/storage/docs/xml-api/put-bucket-metadata';
const GCS_PUBLIC = 'https://cloud.google.com/storage/docs/samples/storage-set-bucket-public-iam';
const GCS_WEBSITE = 'https://cloud.google.com/storage/docs/static-website';

/** In the README's order: Amazon S3 first, for reference. */
export const S3_COMPATIBLE_STORES: readonly S3CompatibleStore[] = [
  {
    id: 'aws',
    name: 'Amazon S3',
    endpoint: { value: 's3.<region>.amazonaws.com', note: 'or no `endpoint` at all', source: AWS_VIRTUAL },
    host: /^s3(?:\.([a-z0-9-]+))?\.amazonaws\.com$/,
    region: { value: "the bucket's region, as in the endpoint", source: AWS_VIRTUAL },
    regionRule: { kind: 'host' },
    addressing: { value: 'both', source: AWS_VIRTUAL },
    createBucket: {
      value: 'yes',
      source: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html',
    },
    acl: { value: 'yes', source: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketAcl.html' },
    policy: {
      value: 'yes',
      source: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html',
    },
    website: {
      value: 'yes',
      note: 'website endpoints are HTTP only',
      source: 'https://docs.aws.amazon.com/en_us/console/s3/configurebucketforwebsite',
    },
    websiteHost: /\.s3-website[.-]([a-z0-9-]+)\.amazonaws\.com$/,
    cors: { value: 'yes', source: 'https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketCors.html' },
    byHand: [
      {
        value: 'for HTTPS, put CloudFront in front of the website endpoint (it answers HTTP only)',
        source: 'https://docs.aws.amazon.com/en_us/console/s3/configurebucketforwebsite',
      },
    ],
  },
  {
    id: 'r2',
    name: 'Cloudflare R2',
    endpoint: { value: '<account>.r2.cloudflarestorage.com', source: R2_API },
    host: /^[a-z0-9]+\.(?:[a-z]+\.)?r2\.cloudflarestorage\.com$/,
    region: { value: '`auto`', note: '`us-east-1` and an empty region alias to it', source: R2_API },
    regionRule: { kind: 'fixed', accepted: ['auto', 'us-east-1'] },
    addressing: { value: 'not documented', source: R2_API },
    createBucket: { value: 'yes', note: 'without x-amz-acl', source: R2_API },
    acl: { value: 'no', note: 'GetBucketAcl and PutBucketAcl not implemented', source: R2_API },
    policy: { value: 'no', note: 'GetBucketPolicy and PutBucketPolicy not implemented', source: R2_API },
    website: { value: 'no', note: 'PutBucketWebsite not implemented', source: R2_API },
    cors: { value: 'yes', note: 'PutBucketCors implemented', source: R2_API },
    byHand: [
      {
        value:
          'make the bucket public in the dashboard: connect a custom domain (a zone in the same Cloudflare account), or enable the r2.dev URL (rate-limited, for development only)',
        source: R2_PUBLIC,
      },
      {
        value:
          'no index or error documents: `/` and folder URLs serve nothing without something in front (a Worker)',
        source: R2_API,
      },
    ],
  },
  {
    id: 'b2',
    name: 'Backblaze B2',
    endpoint: { value: 's3.<region>.backblazeb2.com', note: 'HTTPS only', source: B2_INTRO },
    host: /^s3\.([a-z0-9-]+)\.backblazeb2\.com$/,
    region: { value: "the endpoint's region, e.g. `us-west-004`", source: B2_INTRO },
    regionRule: { kind: 'host' },
    addressing: {
      value: 'both',
      source: 'https://www.backblaze.com/docs/cloud-storage-call-the-s3-compatible-api',
    },
    createBucket: { value: 'yes', note: "only in the account's region", source: B2_INTRO },
    acl: {
      value: 'partial',
      note: 'bucket level only; PutBucketAcl takes private or public-read and succeeds only when it matches the bucket',
      source: B2_API,
    },
    policy: { value: 'not documented', note: 'not among the supported calls', source: B2_CALLS },
    website: { value: 'not documented', note: 'not among the supported calls', source: B2_CALLS },
    cors: { value: 'yes', source: 'https://www.backblaze.com/apidocs/s3-put-bucket-cors' },
    byHand: [
      {
        value:
          'create an application key for outlast: the master application key does not work with the S3-compatible API',
        source: B2_INTRO,
      },
      {
        value: 'make the bucket public in Backblaze (PutBucketAcl cannot change it)',
        source: B2_API,
      },
      { value: 'no S3 website hosting documented: no index or error documents', source: B2_CALLS },
    ],
  },
  {
    id: 'spaces',
    name: 'DigitalOcean Spaces',
    endpoint: { value: '<region>.digitaloceanspaces.com', source: DO_API },
    host: /^([a-z0-9]+)\.digitaloceanspaces\.com$/,
    region: {
      value: "the endpoint's region slug, e.g. `nyc3`",
      note: "SigV4's credential scope",
      source: 'https://docs.digitalocean.com/reference/api/spaces/',
    },
    regionRule: { kind: 'host' },
    addressing: { value: 'not documented', source: DO_COMPAT },
    createBucket: { value: 'yes', note: 'bucket CRUD', source: DO_API },
    acl: { value: 'yes', source: DO_API },
    policy: { value: 'yes', note: 'through the API only; not on Cold Storage buckets', source: DO_COMPAT },
    website: {
      value: 'yes',
      note: 'served at `<bucket>.<region>-static.digitaloceanspaces.com`; no CDN for bucket websites',
      source: DO_COMPAT,
    },
    websiteHost: /\.([a-z0-9]+)-static\.digitaloceanspaces\.com$/,
    cors: {
      value: 'yes',
      source:
        'https://docs.digitalocean.com/reference/terraform/reference/resources/spaces_bucket_cors_configuration',
    },
    byHand: [
      {
        value:
          "read the Spaces API page's warning on AWS SDK versions released from 15 January 2025 (uploads and deletes refused) before deploying",
        source: DO_API,
      },
    ],
  },
  {
    id: 'wasabi',
    name: 'Wasabi',
    endpoint: {
      value: 's3.<region>.wasabisys.com',
      note: '`s3.wasabisys.com` is us-east-1',
      source: WASABI_URLS,
    },
    host: /^s3\.(?:[a-z0-9-]+\.)?wasabisys\.com$/,
    region: { value: 'not documented', source: WASABI_URLS },
    addressing: {
      value: 'both',
      note: 'Wasabi recommends path style',
      source: 'https://docs.wasabi.com/docs/rest-api-introduction',
    },
    createBucket: { value: 'yes', source: 'https://docs.wasabi.com/apidocs/wasabi-api' },
    acl: { value: 'not documented', source: WASABI_ACCESS },
    policy: { value: 'yes', note: 'a public bucket must have a policy', source: WASABI_ACCESS },
    website: { value: 'not documented', source: 'https://docs.wasabi.com/apidocs/wasabi-api' },
    cors: { value: 'yes', source: 'https://docs.wasabi.com/docs/bucket-policy' },
    byHand: [
      {
        value:
          'public access is allowed only on some paid (not trial) accounts: ask Wasabi Support if the policy is refused',
        source: WASABI_ACCESS,
      },
      {
        value: 'no S3 website hosting documented: no index or error documents',
        source: 'https://docs.wasabi.com/apidocs/wasabi-api',
      },
    ],
  },
  {
    id: 'minio',
    name: 'MinIO',
    endpoint: { value: undefined, note: 'self-hosted', source: MINIO_COMPAT },
    region: { value: 'not documented', source: MINIO_COMPAT },
    addressing: {
      value: 'both',
      note: 'path style only unless MINIO_DOMAIN is set',
      source: 'https://github.com/minio/minio/pull/5705',
    },
    createBucket: { value: 'yes', source: MINIO_COMPAT },
    acl: { value: 'no', note: 'PutBucketAcl and PutObjectAcl unsupported', source: MINIO_COMPAT },
    policy: { value: 'yes', source: MINIO_COMPAT },
    website: { value: 'no', note: 'PutBucketWebsite unsupported', source: MINIO_COMPAT },
    cors: { value: 'no', note: 'PutBucketCors unsupported', source: MINIO_COMPAT },
    byHand: [
      {
        value: 'set `forcePathStyle: true` unless the server has MINIO_DOMAIN set',
        source: 'https://github.com/minio/minio/pull/5705',
      },
      {
        value: 'no index or error documents: put a web server in front for `/` and folders',
        source: MINIO_COMPAT,
      },
    ],
  },
  {
    id: 'ceph',
    name: 'Ceph Object Gateway (RGW)',
    endpoint: { value: undefined, note: 'self-hosted', source: CEPH_S3 },
    region: { value: 'not documented', source: CEPH_S3 },
    addressing: {
      value: 'both',
      note: 'virtual host needs `rgw_dns_name` or zonegroup host names',
      source: CEPH_COMMONS,
    },
    createBucket: { value: 'yes', source: CEPH_S3 },
    acl: { value: 'yes', note: 'a different set of canned ACLs', source: CEPH_S3 },
    policy: { value: 'yes', source: CEPH_S3 },
    website: {
      value: 'partial',
      note: 'the website APIs are off unless `rgw_enable_static_website` is set; serving needs s3website host names',
      source: CEPH_OPTIONS,
    },
    cors: {
      value: 'yes',
      source: 'https://www.ibm.com/docs/en/SSEG27_8.0/developer/S3-bucket-operations.html',
    },
    byHand: [
      {
        value:
          'set `forcePathStyle: true` unless the gateway has `rgw_dns_name` (or zonegroup host names) for virtual hosts',
        source: CEPH_COMMONS,
      },
      {
        value:
          'for website hosting, set `rgw_enable_static_website` and give the website its own domain (`rgw_dns_s3website_name`)',
        source: CEPH_OPTIONS,
      },
    ],
  },
  {
    id: 'gcs',
    name: 'Google Cloud Storage (XML API, HMAC keys)',
    endpoint: {
      value: 'storage.googleapis.com',
      note: 'with HMAC keys as the credentials',
      source: GCS_INTEROP,
    },
    host: /^storage\.googleapis\.com$/,
    region: { value: '`auto`', note: "as Google's S3 SDK samples on that page sign", source: GCS_MIGRATION },
    addressing: { value: 'both', source: 'https://cloud.google.com/storage/docs/request-endpoints' },
    createBucket: {
      value: 'partial',
      note: 'needs the x-amz-project-id header, which setup does not send',
      source: GCS_MIGRATION,
    },
    acl: { value: 'yes', note: "S3's ACL XML with AWS signatures", source: GCS_MIGRATION },
    policy: { value: 'not documented', note: 'public read is an IAM grant to allUsers', source: GCS_PUBLIC },
    website: {
      value: 'partial',
      note: "its own `websiteConfig` (main page, not-found page), not S3's PutBucketWebsite",
      source: GCS_PUT_BUCKET,
    },
    cors: {
      value: 'partial',
      note: "its own `cors` XML; not documented that S3's is taken",
      source: GCS_PUT_BUCKET,
    },
    byHand: [
      {
        value: 'create the bucket in Google Cloud (setup cannot: it needs x-amz-project-id)',
        source: GCS_MIGRATION,
      },
      {
        value:
          "if setup's public-read ACL is refused, make it public: grant allUsers the Storage Object Viewer role (IAM)",
        source: GCS_PUBLIC,
      },
      {
        value: 'set the website configuration (index and not-found pages) with gcloud or the console',
        source: GCS_WEBSITE,
      },
    ],
  },
];

/** The store whose endpoint this is: no endpoint is Amazon S3; an unknown host is undefined. */
export function recogniseStore(
  endpoint: string | undefined,
  stores: readonly S3CompatibleStore[] = S3_COMPATIBLE_STORES,
): S3CompatibleStore | undefined {
  if (endpoint === undefined) return stores.find((store) => store.id === 'aws');
  const host = hostOf(endpoint);
  return host === undefined ? undefined : stores.find((store) => store.host?.test(host));
}

/** What `outlast setup` (s3-setup.ts) achieves on the store, by its documented features. */
export function setupDoes(store: S3CompatibleStore): string[] {
  const does: string[] = [];
  if (store.createBucket.value === 'yes') does.push('creates the bucket');
  if (store.policy.value === 'yes') does.push('public read (bucket policy)');
  else if (store.acl.value === 'yes')
    does.push('public read (the public-read ACL, once the bucket-policy call is refused as NotImplemented)');
  if (store.website.value === 'yes') does.push('website hosting (index and error documents)');
  if (store.cors.value === 'yes') does.push('CORS');
  return does;
}

export function hostOf(url: string): string | undefined {
  try {
    return new URL(url).hostname.toLowerCase();
  } catch {
    return undefined;
  }
}
