// The S3-compatible stores' facts (src/storage/s3-compatible.ts) and `outlast check`'s findings
// from them (s3-compatible-check.ts): every store's endpoint recognised, a config that works there
// gives only the store's `ok` finding, one that its docs say cannot work gives a warning.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { S3StorageConfig } from '../../src/storage/drivers/s3-options.ts';
import {
  recogniseStore,
  S3_COMPATIBLE_STORES,
  type S3CompatibleStore,
  setupDoes,
} from '../../src/storage/s3-compatible.ts';
import { checkS3Compatible } from '../../src/storage/s3-compatible-check.ts';
import { s3CompatibleTable } from '../../src/storage/s3-compatible-docs.ts';

interface Origin {
  id: string;
  storage: S3StorageConfig;
  url?: string;
}

function origin(storage: Partial<S3StorageConfig>, url?: string): Origin {
  return {
    id: 'o',
    storage: { type: 's3', bucket: 'www.example.com', region: 'us-east-1', ...storage },
    ...(url === undefined ? {} : { url }),
  };
}

const AWS_WEBSITE = 'http://www.example.com.s3-website-us-east-1.amazonaws.com';

/** Per store: an endpoint of it, a config that works there, one that cannot and what the warning says. */
const cases: {
  id: string;
  endpoint: string | undefined;
  good: Origin;
  bad: Origin;
  warning: RegExp;
}[] = [
  {
    id: 'aws',
    endpoint: 'https://s3.eu-west-1.amazonaws.com',
    good: origin({ region: 'eu-west-1', endpoint: 'https://s3.eu-west-1.amazonaws.com' }, AWS_WEBSITE),
    bad: origin({ region: 'us-east-1', endpoint: 'https://s3.eu-west-1.amazonaws.com' }),
    warning: /region "us-east-1" differs from the endpoint's region "eu-west-1"/,
  },
  {
    id: 'r2',
    endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com',
    good: origin(
      { region: 'auto', endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com' },
      'https://www.example.com',
    ),
    bad: origin(
      { region: 'eu-west-1', endpoint: 'https://0123456789abcdef0123456789abcdef.r2.cloudflarestorage.com' },
      AWS_WEBSITE,
    ),
    warning: /Cloudflare R2 takes "auto" or "us-east-1"/,
  },
  {
    id: 'b2',
    endpoint: 'https://s3.us-west-004.backblazeb2.com',
    good: origin({ region: 'us-west-004', endpoint: 'https://s3.us-west-004.backblazeb2.com' }),
    bad: origin({ region: 'us-east-1', endpoint: 'https://s3.us-west-004.backblazeb2.com' }),
    warning: /differs from the endpoint's region "us-west-004": set region: us-west-004/,
  },
  {
    id: 'spaces',
    endpoint: 'https://nyc3.digitaloceanspaces.com',
    good: origin(
      { region: 'nyc3', endpoint: 'https://nyc3.digitaloceanspaces.com' },
      'https://www.example.com.nyc3-static.digitaloceanspaces.com',
    ),
    bad: origin({ region: 'nyc3', endpoint: 'https://nyc3.digitaloceanspaces.com' }, AWS_WEBSITE),
    warning: /is a website endpoint of Amazon S3, but the bucket is on DigitalOcean Spaces/,
  },
  {
    id: 'wasabi',
    endpoint: 'https://s3.eu-central-1.wasabisys.com',
    good: origin({ region: 'eu-central-1', endpoint: 'https://s3.eu-central-1.wasabisys.com' }),
    bad: origin({ region: 'eu-central-1', endpoint: 'https://s3.eu-central-1.wasabisys.com' }, AWS_WEBSITE),
    warning: /but the bucket is on Wasabi/,
  },
  {
    id: 'gcs',
    endpoint: 'https://storage.googleapis.com',
    good: origin({ endpoint: 'https://storage.googleapis.com' }, 'https://www.example.com'),
    bad: origin({ endpoint: 'https://storage.googleapis.com' }, AWS_WEBSITE),
    warning: /but the bucket is on Google Cloud Storage/,
  },
];

describe('S3-compatible stores', () => {
  it('has one entry per store users ask about, each fact with a vendor page as its source', () => {
    assert.deepEqual(
      S3_COMPATIBLE_STORES.map((store) => store.id),
      ['aws', 'r2', 'b2', 'spaces', 'wasabi', 'minio', 'ceph', 'gcs'],
    );
    for (const store of S3_COMPATIBLE_STORES) {
      const facts = [
        store.endpoint,
        store.region,
        store.addressing,
        store.createBucket,
        store.acl,
        store.policy,
        store.website,
        store.cors,
        ...store.byHand,
      ];
      for (const fact of facts) {
        assert.match(fact.source, /^https:\/\/[^ ]+$/, `${store.id}: a source URL`);
      }
    }
  });

  for (const { id, endpoint, good, bad, warning } of cases) {
    describe(id, () => {
      it('recognises its endpoint', () => {
        assert.equal(recogniseStore(endpoint)?.id, id);
      });

      it('names the store, what setup does and what is left by hand for a config that works there', () => {
        const store = recogniseStore(endpoint)!;
        const findings = checkS3Compatible(good);
        assert.deepEqual(
          findings.map((finding) => finding.level),
          ['ok'],
          JSON.stringify(findings),
        );
        const [finding] = findings;
        assert.equal(finding!.subject, 'origin o store');
        assert.ok(finding!.message.startsWith(`${store.name}: `), finding!.message);
        for (const step of store.byHand) assert.ok(finding!.message.includes(step.value), step.value);
        for (const done of setupDoes(store)) assert.ok(finding!.message.includes(done), done);
      });

      it('warns on a config that cannot work there', () => {
        const warnings = checkS3Compatible(bad).filter((finding) => finding.level === 'warn');
        assert.ok(
          warnings.some((finding) => warning.test(finding.message)),
          JSON.stringify(warnings),
        );
      });
    });
  }

  it('takes no endpoint as Amazon S3', () => {
    assert.equal(recogniseStore(undefined)?.id, 'aws');
    assert.deepEqual(
      checkS3Compatible(origin({}, AWS_WEBSITE)).map((finding) => finding.level),
      ['ok'],
    );
  });

  it('knows nothing of a self-hosted endpoint (MinIO, Ceph): no findings', () => {
    for (const endpoint of [
      'http://127.0.0.1:9000',
      'https://minio.example.net',
      'https://rgw.example.net:7480',
    ]) {
      assert.equal(recogniseStore(endpoint), undefined, endpoint);
      assert.deepEqual(checkS3Compatible(origin({ endpoint })), []);
    }
    assert.ok(
      S3_COMPATIBLE_STORES.filter((store) => store.host === undefined)
        .map((store) => store.id)
        .includes('minio'),
    );
  });

  it('warns on a website-endpoint url where the store has no website hosting', () => {
    const r2 = recogniseStore('https://abc.r2.cloudflarestorage.com')!;
    const own: S3CompatibleStore = { ...r2, websiteHost: /\.r2-website\.example$/ };
    const stores = S3_COMPATIBLE_STORES.map((store) => (store.id === 'r2' ? own : store));
    const findings = checkS3Compatible(
      origin(
        { region: 'auto', endpoint: 'https://abc.r2.cloudflarestorage.com' },
        'http://site.r2-website.example',
      ),
      stores,
    );
    assert.ok(
      findings.some((finding) => finding.level === 'warn' && /website hosting is no/.test(finding.message)),
      JSON.stringify(findings),
    );
  });

  it('warns on forcePathStyle against the only addressing style a store serves', () => {
    const base = recogniseStore('https://s3.us-west-004.backblazeb2.com')!;
    const pathOnly: S3CompatibleStore = { ...base, addressing: { ...base.addressing, value: 'path' } };
    const hostOnly: S3CompatibleStore = {
      ...base,
      addressing: { ...base.addressing, value: 'virtual-host' },
    };
    const config = (forcePathStyle?: boolean) =>
      origin({
        region: 'us-west-004',
        endpoint: 'https://s3.us-west-004.backblazeb2.com',
        ...(forcePathStyle === undefined ? {} : { forcePathStyle }),
      });
    const levels = (store: S3CompatibleStore, forcePathStyle?: boolean) =>
      checkS3Compatible(config(forcePathStyle), [store]).map((finding) => finding.level);
    assert.deepEqual(levels(pathOnly), ['ok', 'warn']);
    assert.deepEqual(levels(pathOnly, true), ['ok']);
    assert.deepEqual(levels(hostOnly, true), ['ok', 'warn']);
    assert.deepEqual(levels(hostOnly), ['ok']);
  });

  it('gives no findings for another storage type', () => {
    assert.deepEqual(checkS3Compatible({ id: 'o', storage: { type: 'fs', path: '/tmp/x' } } as never), []);
  });

  it('prints a table with a row per store and a link per fact', () => {
    const table = s3CompatibleTable();
    const rows = table.split('\n').slice(2);
    assert.equal(rows.length, S3_COMPATIBLE_STORES.length);
    for (const store of S3_COMPATIBLE_STORES) {
      const row = rows.find((line) => line.startsWith(`| **${store.name}** |`));
      assert.ok(row, store.name);
      assert.ok(row.includes(`(${store.website.source})`), `${store.name}: the website fact's source`);
    }
  });
});
