/**
 * The client's CPU per S3 PutObject, with no store in the way: N puts of a 1 KiB body, 16 in
 * flight, to an HTTP sink in the same process that answers 200 at once, through
 *   - `driver`: the `s3` driver's put (bytes in memory: s3-put-direct.ts, past the SDK's stack);
 *   - `sdk`: the same client's `PutObjectCommand` through `client.send`, as puts went before;
 *   - `raw`: an undici Pool PUT without any signature (the floor: the sink's own cost included).
 * CPU is process.cpuUsage() around the puts (the sink's share included, the same in each).
 *
 *   node --import tsx bench/deploy/s3-put-cpu.ts [--puts 10000]
 */
import { createHash } from 'node:crypto';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { Pool } from 'undici';
import { createS3Driver } from '../../src/storage/drivers/s3.ts';
import { createS3Client } from '../../src/storage/drivers/s3-client.ts';

const { values } = parseArgs({ options: { puts: { type: 'string', default: '10000' } } });
const puts = Number(values.puts);
const server = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(200, { etag: '"sink"', 'content-length': '0' });
    response.end();
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
const options = {
  type: 's3' as const,
  bucket: 'sink',
  region: 'us-east-1',
  endpoint,
  forcePathStyle: true,
  credentials: { accessKeyId: 'sink', secretAccessKey: 'sink-secret' },
};
const bytes = Buffer.alloc(1024, 1);
const sha256 = createHash('sha256').update(bytes).digest('hex');
const md5 = createHash('md5').update(bytes).digest('hex');

async function timed(name: string, put: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const start = process.cpuUsage();
  const wall = Date.now();
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      while (next < puts) await put(next++);
    }),
  );
  const cpu = process.cpuUsage(start);
  const micros = (cpu.user + cpu.system) / puts;
  process.stdout.write(
    `${name.padEnd(7)} ${puts} puts: wall ${((Date.now() - wall) / 1000).toFixed(2)} s, CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s, ${micros.toFixed(0)} µs per put\n`,
  );
}

const driver = createS3Driver(options);
const client = createS3Client(options);
const pool = new Pool(endpoint, { connections: 16 });
try {
  // One untimed round of each first, so that no path pays for the others' module loading and JIT.
  for (let round = 0; round < 2; round++) {
    const label = (name: string) => (round === 0 ? `warm-${name}` : name);
    await timed(label('driver'), (i) =>
      driver.put(`k/${i}.html`, { kind: 'bytes', bytes }, { sha256, md5, contentType: 'text/html' }),
    );
    await timed(label('sdk'), async (i) => {
      await client.send(
        new PutObjectCommand({
          Bucket: 'sink',
          Key: `k/${i}.html`,
          Body: bytes,
          ContentLength: bytes.length,
          ContentType: 'text/html',
          ContentMD5: Buffer.from(md5, 'hex').toString('base64'),
          Metadata: { 'outlast-sha256': sha256 },
        }),
      );
    });
    await timed(label('raw'), async (i) => {
      const answer = await pool.request({ method: 'PUT', path: `/sink/k/${i}.html`, body: bytes });
      await answer.body.dump();
    });
  }
} finally {
  await driver.close?.();
  client.destroy();
  await pool.close();
  server.close();
}
