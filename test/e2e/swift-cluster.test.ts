// Smoke test of the Swift clusters the other tests rely on: tempauth, the native API, isolation of
// the two clusters, s3api in the pipeline (and its credentials), staticweb.
import assert from 'node:assert/strict';
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { type SwiftCluster, swiftClustersForTests } from '../servers/swift.ts';

interface Auth {
  token: string;
  storageUrl: string;
}

async function authenticate(cluster: SwiftCluster): Promise<Auth> {
  const response = await fetch(cluster.authUrl, {
    headers: { 'X-Auth-User': cluster.user, 'X-Auth-Key': cluster.key },
  });
  assert.equal(response.status, 200, `tempauth on ${cluster.authUrl}`);
  await response.arrayBuffer();
  const token = response.headers.get('x-auth-token');
  const storageUrl = response.headers.get('x-storage-url');
  assert.ok(token, 'no X-Auth-Token');
  assert.match(token, /^AUTH_tk/);
  assert.ok(storageUrl, 'no X-Storage-Url');
  return { token, storageUrl };
}

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

// Just enough SigV4 for a body-less request to `/`: @aws-sdk/client-s3 is not a dependency (yet).
function signedListBucketsHeaders(cluster: SwiftCluster, secret = cluster.s3SecretAccessKey) {
  const amzDate = new Date()
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
  const day = amzDate.slice(0, 8);
  const host = new URL(cluster.s3Endpoint).host;
  const signedHeaders = 'host;x-amz-content-sha256;x-amz-date';
  const canonicalRequest = [
    'GET',
    '/',
    '',
    `host:${host}`,
    `x-amz-content-sha256:${EMPTY_SHA256}`,
    `x-amz-date:${amzDate}`,
    '',
    signedHeaders,
    EMPTY_SHA256,
  ].join('\n');
  const scope = `${day}/${cluster.s3Region}/s3/aws4_request`;
  const stringToSign = [
    'AWS4-HMAC-SHA256',
    amzDate,
    scope,
    createHash('sha256').update(canonicalRequest).digest('hex'),
  ].join('\n');
  let key: Buffer = Buffer.from(`AWS4${secret}`);
  for (const part of [day, cluster.s3Region, 's3', 'aws4_request']) {
    key = createHmac('sha256', key).update(part).digest();
  }
  const signature = createHmac('sha256', key).update(stringToSign).digest('hex');
  return {
    'x-amz-date': amzDate,
    'x-amz-content-sha256': EMPTY_SHA256,
    authorization: `AWS4-HMAC-SHA256 Credential=${cluster.s3AccessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

describe('Swift test clusters', () => {
  let a: SwiftCluster;
  let b: SwiftCluster;
  let authA: Auth;
  let authB: Auth;
  // Unique names: with `npm test` the clusters are shared by every test file of the run.
  const container = `smoke-${randomUUID().slice(0, 8)}`;
  const site = `${container}-web`;
  const created: string[] = [];

  async function swift(auth: Auth, method: string, path: string, init: RequestInit = {}) {
    const headers = new Headers(init.headers);
    headers.set('X-Auth-Token', auth.token);
    const response = await fetch(`${auth.storageUrl}/${path}`, { ...init, method, headers });
    const body = await response.text();
    return { status: response.status, body, headers: response.headers };
  }

  before(async () => {
    ({ a, b } = await swiftClustersForTests());
    [authA, authB] = await Promise.all([authenticate(a), authenticate(b)]);
  });

  after(async () => {
    // Leave the shared clusters as they were found; objects first, Swift only deletes empty containers.
    for (const path of created.reverse()) await swift(authA, 'DELETE', path);
  });

  test('tempauth gives each cluster its own token and storage URL', () => {
    assert.equal(authA.storageUrl, a.storageUrl);
    assert.equal(authB.storageUrl, b.storageUrl);
    assert.notEqual(a.s3Endpoint, b.s3Endpoint);
    assert.equal(a.authUrl, `http://${a.ip}:${a.port}/auth/v1.0`);
    assert.equal(a.storageUrl, `http://${a.ip}:${a.port}/v1/AUTH_test`);
  });

  test('an object put through the native API in A reads back from A and is absent from B', async () => {
    assert.equal((await swift(authA, 'PUT', container)).status, 201);
    created.push(container);
    const put = await swift(authA, 'PUT', `${container}/hello.txt`, {
      body: 'hello from A',
      headers: { 'Content-Type': 'text/plain' },
    });
    assert.equal(put.status, 201);
    created.push(`${container}/hello.txt`);
    assert.equal(put.headers.get('etag'), createHash('md5').update('hello from A').digest('hex'));

    const get = await swift(authA, 'GET', `${container}/hello.txt`);
    assert.equal(get.status, 200);
    assert.equal(get.body, 'hello from A');

    assert.equal((await swift(authB, 'GET', `${container}/hello.txt`)).status, 404);
    assert.equal((await swift(authB, 'GET', container)).status, 404);
  });

  test('s3api is in the pipeline and takes the tempauth credentials', async () => {
    const badSignature = await fetch(`${a.s3Endpoint}/`, {
      headers: signedListBucketsHeaders(a, 'not-the-secret'),
    });
    assert.equal(badSignature.status, 403);
    assert.match(badSignature.headers.get('content-type') ?? '', /xml/);
    assert.match(await badSignature.text(), /<Code>(SignatureDoesNotMatch|AccessDenied)<\/Code>/);

    const signed = await fetch(`${a.s3Endpoint}/`, { headers: signedListBucketsHeaders(a) });
    const xml = await signed.text();
    assert.equal(signed.status, 200, xml);
    assert.match(xml, /<ListAllMyBucketsResult/);
    assert.match(xml, new RegExp(`<Name>${container}</Name>`));
  });

  test('staticweb serves the index of a public container to anonymous clients', async () => {
    assert.equal((await swift(authA, 'PUT', site)).status, 201);
    created.push(site);
    const index = '<h1>outlast</h1>';
    const put = await swift(authA, 'PUT', `${site}/index.html`, {
      body: index,
      headers: { 'Content-Type': 'text/html' },
    });
    assert.equal(put.status, 201);
    created.push(`${site}/index.html`);
    const post = await swift(authA, 'POST', site, {
      headers: { 'X-Container-Read': '.r:*,.rlistings', 'X-Container-Meta-Web-Index': 'index.html' },
    });
    assert.equal(post.status, 204);

    const anonymous = await fetch(`${a.storageUrl}/${site}/`);
    assert.equal(anonymous.status, 200);
    assert.match(anonymous.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(await anonymous.text(), index);
  });
});
