/**
 * The fault proxy itself (test/helpers/fault-proxy.ts): each fault does what it says to a real
 * HTTP exchange, the schedule is the seed's, and the service sees exactly the requests the proxy
 * says it forwarded.
 */
import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import { after, before, test } from 'node:test';
import { type FaultKind, FaultProxy } from '../helpers/fault-proxy.ts';

const BODY = 'x'.repeat(10_000);
let service: Server;
let servicePort = 0;
const seen: string[] = [];

before(async () => {
  service = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => {
      body += chunk;
    });
    req.on('end', () => {
      seen.push(`${req.method} ${req.url} ${body.length}`);
      res.writeHead(200, {
        'content-type': 'text/plain',
        'x-storage-url': `http://127.0.0.1:${servicePort}/v1/a`,
      });
      res.end(req.method === 'HEAD' ? undefined : BODY);
    });
  });
  await new Promise<void>((resolve) => service.listen(0, '127.0.0.1', resolve));
  servicePort = (service.address() as { port: number }).port;
});
after(() => new Promise((resolve) => service.close(resolve)));

interface Outcome {
  status?: number;
  headers?: Record<string, string | string[] | undefined>;
  body?: string;
  error?: string;
}

function send(port: number, method: string, path: string, body = ''): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, method, path, agent: false }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', (error) => resolve({ status: res.statusCode ?? 0, body: text, error: error.message }));
      res.on('aborted', () => resolve({ status: res.statusCode ?? 0, body: text, error: 'aborted' }));
    });
    req.on('error', (error) => resolve({ error: error.message }));
    req.end(body);
  });
}

async function withProxy<T>(kind: FaultKind, run: (proxy: FaultProxy) => Promise<T>): Promise<T> {
  const proxy = new FaultProxy({
    target: { host: '127.0.0.1', port: servicePort },
    seed: 1,
    rate: 1,
    kinds: [kind],
    stallMs: 200,
    trickleMs: 200,
    delayMs: 50,
  });
  await proxy.start();
  try {
    return await run(proxy);
  } finally {
    await proxy.stop();
  }
}

test('a plain proxy forwards requests and answers untouched, and points Swift URLs at itself', async () => {
  const proxy = new FaultProxy({ target: { host: '127.0.0.1', port: servicePort }, seed: 1 });
  await proxy.start();
  try {
    const outcome = await send(proxy.port, 'PUT', '/plain', 'abc');
    assert.equal(outcome.status, 200);
    assert.equal(outcome.body, BODY);
    assert.equal(outcome.headers?.['x-storage-url'], `${proxy.url}/v1/a`);
    assert.ok(seen.includes('PUT /plain 3'));
    assert.deepEqual(proxy.counts(), { none: 1 });
  } finally {
    await proxy.stop();
  }
});

test('status faults answer 500, 503 or 429 (the last two with Retry-After) and forward nothing', async () => {
  await withProxy('status', async (proxy) => {
    const statuses = new Set<number>();
    for (let i = 0; i < 30; i++) {
      const outcome = await send(proxy.port, 'PUT', `/status-${i}`, 'abc');
      assert.ok([500, 503, 429].includes(outcome.status ?? 0), `status ${outcome.status}`);
      if (outcome.status !== 500) assert.equal(outcome.headers?.['retry-after'], '1');
      statuses.add(outcome.status ?? 0);
    }
    assert.equal(statuses.size, 3, 'all three statuses drawn in 30 requests');
    assert.ok(!seen.some((line) => line.startsWith('PUT /status-')));
  });
});

test('reset-before and stall forward nothing and end in a connection error', async () => {
  for (const kind of ['reset-before', 'stall'] as const) {
    await withProxy(kind, async (proxy) => {
      const outcome = await send(proxy.port, 'PUT', `/${kind}`, 'abc');
      assert.ok(outcome.error, `${kind}: ${JSON.stringify(outcome)}`);
      assert.equal(outcome.status, undefined);
      assert.ok(!seen.some((line) => line.startsWith(`PUT /${kind} `)), kind);
    });
  }
});

test('unanswered, reset-during and truncate apply the request but the client never gets the whole answer', async () => {
  for (const kind of ['unanswered', 'reset-during', 'truncate'] as const) {
    await withProxy(kind, async (proxy) => {
      const outcome = await send(proxy.port, 'PUT', `/${kind}`, 'abc');
      assert.ok(outcome.error || (outcome.body ?? '').length < BODY.length, `${kind}: got it all`);
      assert.ok(seen.includes(`PUT /${kind} 3`), `${kind}: the service saw it`);
      if (kind !== 'unanswered') assert.equal(outcome.status, 200, kind);
      // A clean cut: a well-formed answer, half the body, nothing for HTTP to notice.
      if (kind === 'truncate')
        assert.deepEqual([outcome.error, outcome.body?.length], [undefined, BODY.length / 2]);
      assert.equal(proxy.faults()[0]?.fault, kind);
    });
  }
});

test('trickle and delay deliver the whole answer, late', async () => {
  for (const kind of ['trickle', 'delay'] as const) {
    await withProxy(kind, async (proxy) => {
      const outcome = await send(proxy.port, 'GET', `/${kind}`);
      assert.equal(outcome.status, 200, kind);
      assert.equal(outcome.body, BODY, kind);
    });
  }
});

test('the schedule is the seed: the same seed draws the same faults, another seed others', async () => {
  const draws = async (seed: number) => {
    const proxy = new FaultProxy({
      target: { host: '127.0.0.1', port: servicePort },
      seed,
      rate: 0.3,
      kinds: ['status', 'delay'],
      delayMs: 1,
    });
    await proxy.start();
    try {
      for (let i = 0; i < 40; i++) await send(proxy.port, 'GET', `/seeded-${i}`);
      return proxy.log.map((record) => record.fault).join(',');
    } finally {
      await proxy.stop();
    }
  };
  const first = await draws(7);
  assert.equal(await draws(7), first);
  assert.notEqual(await draws(8), first);
  const faulted = first.split(',').filter((fault) => fault !== 'none').length;
  assert.ok(faulted > 3 && faulted < 25, `30 % of 40 is about 12, got ${faulted}`);
});

test('an outage faults every request, eligible or not, until it is lifted', async () => {
  const proxy = new FaultProxy({
    target: { host: '127.0.0.1', port: servicePort },
    seed: 3,
    eligible: () => false,
  });
  await proxy.start();
  try {
    proxy.outage('status');
    assert.notEqual((await send(proxy.port, 'GET', '/outage')).status, 200);
    proxy.outage(undefined);
    assert.equal((await send(proxy.port, 'GET', '/outage')).status, 200);
    assert.deepEqual(
      proxy.log.map((record) => record.fault),
      ['status', 'none'],
    );
  } finally {
    await proxy.stop();
  }
});
