/**
 * The s3 driver facing a store whose answers are not S3's: XML cut short (a proxy that truncates
 * a body, a store in trouble) and a 500 with an HTML page. One line that says so, a retryable
 * code, and none of the SDK's "inspect the hidden field {error}.$response".
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { isOutlastError, type OutlastError } from '../../src/errors.ts';
import { createS3Driver } from '../../src/storage/drivers/s3.ts';

let server: Server;
let port = 0;
let answer: { status: number; type: string; body: string } = {
  status: 200,
  type: 'application/xml',
  body: '',
};

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(answer.status, { 'content-type': answer.type }).end(answer.body));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as { port: number }).port;
});
after(() => new Promise((resolve) => server.close(resolve)));

async function listError(): Promise<OutlastError> {
  const driver = createS3Driver({
    type: 's3',
    bucket: 'www',
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'not-a-real-secret' },
  } as never);
  const error = await driver.list({}).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  try {
    assert.ok(isOutlastError(error), `the listing did not fail as outlast's error: ${String(error)}`);
    return error;
  } finally {
    await driver.close?.();
  }
}

test('a listing whose XML is cut short is one clear, retryable line', async () => {
  answer = { status: 200, type: 'application/xml', body: '<ListBucketResult><Contents><Key>index.html</Key' };
  const error = await listError();
  assert.equal(error.code, 'unavailable');
  assert.ok(error.retryable);
  assert.match(error.message, /the store's answer is not the XML that S3 sends \(HTTP 200\)/);
  assert.doesNotMatch(error.message, /\$response|\n/);
});

test('a 500 with an HTML page says the store failed, not "UnknownError"', async () => {
  answer = { status: 500, type: 'text/html', body: '<html><body>upstream exploded</body></html>' };
  const error = await listError();
  assert.equal(error.code, 'unavailable');
  assert.match(error.message, /the store failed to answer, without an S3 error \(HTTP 500\)/);
  assert.doesNotMatch(error.message, /UnknownError|\n/);
});
