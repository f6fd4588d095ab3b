/**
 * The notifier against a local webhook receiver (127.0.0.1): retried on 5xx, 429 and network
 * errors with the same event id each time, not retried on another 4xx, dropped with a
 * `notify-error` event after its attempts, persisted across a stop and a new start (sent once,
 * not again), silent while inactive, one notification per failing DNS host, and never a secret
 * (the URL's path, the signing secret) in an event, a log line, the status or the outbox file.
 * Retries are fast here (10 ms); every wait polls a condition with a deadline.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { TimelineLike } from '../../src/daemon/notify/events.ts';
import {
  FileOutboxStore,
  MemoryOutboxStore,
  Notifier,
  type OutboxStore,
} from '../../src/daemon/notify/index.ts';
import { notifySchema } from '../../src/daemon/notify/options.ts';
import { eventually } from '../helpers/eventually.ts';
import { recordingLogger, startWebhookReceiver, type WebhookReceiver } from '../helpers/notify.ts';

const SECRET = 'whsec-unit-0123456789';
const SECRET_PATH = '/services/T0001/B0001/pathSecret42';
const roots: string[] = [];
const receivers: WebhookReceiver[] = [];

after(async () => {
  for (const receiver of receivers) await receiver.close();
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

async function receiver(): Promise<WebhookReceiver> {
  const started = await startWebhookReceiver(SECRET);
  receivers.push(started);
  return started;
}

function setup(
  url: string,
  options: { attempts?: number; store?: OutboxStore; format?: 'json' | 'slack'; events?: string[] } = {},
) {
  const config = notifySchema.parse({
    webhooks: [
      {
        url,
        secret: SECRET,
        format: options.format ?? 'json',
        ...(options.events ? { events: options.events } : {}),
      },
    ],
    retry: { attempts: options.attempts ?? 8, initialDelay: '10ms', maxDelay: '50ms' },
    timeout: '5s',
  });
  const events: TimelineLike[] = [];
  const logger = recordingLogger();
  const notifier = new Notifier({
    config,
    site: 'www.example.com',
    name: 'www.example.com',
    store: options.store ?? new MemoryOutboxStore(),
    logger,
    onEvent: (event) => events.push(event),
  });
  return { notifier, events, logger };
}

let clock = Date.parse('2026-05-04T10:00:00.000Z');
function failover(): TimelineLike {
  clock += 1000;
  return {
    at: new Date(clock).toISOString(),
    kind: 'failover',
    message: 'failing over from a (down) to b: b is the first healthy origin',
    data: { from: ['a'], to: ['b'] },
  };
}

function assertNoSecret(what: string, text: string): void {
  assert.ok(!text.includes(SECRET), `${what} has no webhook secret:\n${text}`);
  assert.ok(!text.includes('pathSecret42'), `${what} has no part of the webhook URL's path:\n${text}`);
}

describe('Notifier and a webhook', () => {
  it('retries 503 twice, then 200: one delivery, the same event id and a valid signature each time', async () => {
    const hook = await receiver();
    hook.answer = (index) => (index < 2 ? 503 : 200);
    const { notifier, events, logger } = setup(`${hook.url}${SECRET_PATH}`);
    await notifier.start();
    assert.equal(notifier.offer(failover()), true);
    await eventually('the third try is answered 200', async () => notifier.status()[0]!.sent === 1);
    await notifier.stop();
    assert.equal(hook.requests.length, 3);
    const ids = new Set(hook.requests.map((request) => request.headers['x-outlast-event-id']));
    assert.equal(ids.size, 1, 'the same event id on every try');
    assert.match([...ids][0] as string, /^evt_[0-9a-f]{32}$/);
    assert.ok(
      hook.requests.every((request) => request.verified === true),
      'every try is signed',
    );
    assert.ok(hook.requests.every((request) => request.path === SECRET_PATH));
    const body = JSON.parse(hook.requests[2]!.body) as { id: string; kind: string; name: string };
    assert.equal(body.id, [...ids][0]);
    assert.equal(body.kind, 'failover');
    assert.equal(body.name, 'www.example.com');
    assert.deepEqual(notifier.status(), [
      { target: `webhook 127.0.0.1:${new URL(hook.url).port}`, sent: 1, failed: 0, pending: 0 },
    ]);
    assert.deepEqual(events, [], 'no notify-error');
    assertNoSecret('the log', logger.lines.join('\n'));
  });

  it('does not retry a 400: dropped with a notify-error event that names the host only', async () => {
    const hook = await receiver();
    hook.answer = () => 400;
    const { notifier, events, logger } = setup(`${hook.url}${SECRET_PATH}`);
    await notifier.start();
    notifier.offer(failover());
    await eventually('the delivery is dropped', async () => events.length === 1);
    await notifier.stop();
    assert.equal(hook.requests.length, 1, 'one try only');
    const [error] = events;
    assert.equal(error!.kind, 'notify-error');
    const host = `127.0.0.1:${new URL(hook.url).port}`;
    assert.equal(error!.message, `webhook ${host}: failover notification refused: HTTP 400 (no (400))`);
    assert.equal(error!.data?.target, `webhook ${host}`);
    assert.equal(error!.data?.reason, 'rejected');
    const status = notifier.status()[0]!;
    assert.equal(status.failed, 1);
    assert.equal(status.pending, 0);
    assertNoSecret('the event', JSON.stringify(events));
    assertNoSecret('the status', JSON.stringify(notifier.status()));
    assertNoSecret('the log', logger.lines.join('\n'));
  });

  it('retries 429 (Retry-After) and a connection refused; gives up after its attempts', async () => {
    const hook = await receiver();
    hook.answer = (index) => (index === 0 ? { status: 429, headers: { 'retry-after': '0' } } : 200);
    const ok = setup(`${hook.url}/hook`);
    await ok.notifier.start();
    ok.notifier.offer(failover());
    await eventually('sent after a 429', async () => ok.notifier.status()[0]!.sent === 1);
    await ok.notifier.stop();
    assert.equal(hook.requests.length, 2);

    const closed = await receiver();
    const url = `${closed.url}${SECRET_PATH}`;
    await closed.close();
    const refused = setup(url, { attempts: 3 });
    await refused.notifier.start();
    refused.notifier.offer(failover());
    await eventually('dropped after 3 attempts', async () => refused.events.length === 1);
    await refused.notifier.stop();
    const message = refused.events[0]!.message;
    assert.match(
      message,
      /^webhook 127\.0\.0\.1:\d+: failover notification not delivered after 3 attempts: cannot reach it \(ECONNREFUSED\)$/,
    );
    assertNoSecret('the event', JSON.stringify(refused.events));
    assertNoSecret('the log', refused.logger.lines.join('\n'));
  });

  it('keeps a pending delivery across a stop and sends it once after the next start', async () => {
    const root = mkdtempSync(join(tmpdir(), 'outlast-notify-'));
    roots.push(root);
    const dir = join(root, 'state');
    const hook = await receiver();
    hook.answer = () => 503;
    const first = setup(`${hook.url}${SECRET_PATH}`, { store: new FileOutboxStore(dir) });
    await first.notifier.start();
    first.notifier.offer(failover());
    await eventually('a try failed', async () => hook.requests.length >= 1);
    await first.notifier.stop(0);
    const file = readFileSync(join(dir, 'notify-outbox.json'), 'utf8');
    assert.equal(
      (JSON.parse(file) as { deliveries: unknown[] }).deliveries.length,
      1,
      'pending in the outbox',
    );
    assertNoSecret('the outbox file', file);
    const eventIdSent = hook.requests[0]!.headers['x-outlast-event-id'];

    hook.answer = () => 200;
    const tried = hook.requests.length;
    const second = setup(`${hook.url}${SECRET_PATH}`, { store: new FileOutboxStore(dir) });
    await second.notifier.start();
    await eventually('sent after the restart', async () => second.notifier.status()[0]!.sent === 1);
    await second.notifier.stop();
    assert.equal(hook.requests.length, tried + 1);
    assert.equal(hook.requests.at(-1)!.headers['x-outlast-event-id'], eventIdSent, 'the same event id');

    const third = setup(`${hook.url}${SECRET_PATH}`, { store: new FileOutboxStore(dir) });
    await third.notifier.start();
    await third.notifier.settled();
    await third.notifier.stop();
    assert.equal(hook.requests.length, tried + 1, 'nothing sent twice');
    assert.deepEqual(third.notifier.status()[0]!.pending, 0);
  });

  it('sends nothing while inactive, and what its store holds once active', async () => {
    const hook = await receiver();
    const store = new MemoryOutboxStore();
    const { notifier } = setup(`${hook.url}/hook`, { store });
    notifier.setActive(false);
    await notifier.start();
    assert.equal(notifier.offer(failover()), false, 'an inactive notifier takes no event');
    // What another (active) watcher left in the shared store.
    const left = failover();
    const leader = setup(`${hook.url}/hook`, { store });
    hook.answer = () => 503;
    await leader.notifier.start();
    leader.notifier.offer(left);
    await eventually('the leader tried', async () => hook.requests.length >= 1);
    await leader.notifier.stop(0);
    hook.answer = () => 200;
    const tried = hook.requests.length;
    notifier.setActive(true);
    await eventually('the new leader sent it', async () => notifier.status()[0]!.sent === 1);
    await notifier.stop();
    assert.equal(hook.requests.length, tried + 1);
  });

  it('tells of a failing DNS host once until it writes again, and only the events asked for', async () => {
    const hook = await receiver();
    const { notifier } = setup(`${hook.url}/hook`, {
      format: 'slack',
      events: ['dns-write-failing', 'origin-down'],
    });
    await notifier.start();
    const at = () => {
      clock += 1000;
      return new Date(clock).toISOString();
    };
    const dnsError = () => ({
      at: at(),
      kind: 'dns-error',
      message: 'p1: write failed',
      data: { provider: 'p1' },
    });
    assert.equal(notifier.offer(dnsError()), true);
    assert.equal(notifier.offer(dnsError()), false, 'the same episode');
    assert.equal(
      notifier.offer({ at: at(), kind: 'dns', message: 'p1: written', data: { provider: 'p1' } }),
      false,
    );
    assert.equal(notifier.offer(dnsError()), true, 'a new episode');
    assert.equal(notifier.offer(failover()), false, 'failover is not asked for here');
    assert.equal(
      notifier.offer({
        at: at(),
        kind: 'health',
        message: 'a is down',
        data: { originId: 'a', from: 'up', to: 'down' },
      }),
      true,
    );
    await eventually('three sent', async () => notifier.status()[0]!.sent === 3);
    await notifier.stop();
    const texts = hook.requests.map((request) => (JSON.parse(request.body) as { text: string }).text);
    assert.deepEqual(
      texts.map((text) => text.split('\n')[0]),
      [
        ':warning: *dns-write-failing* on `www.example.com`',
        ':warning: *dns-write-failing* on `www.example.com`',
        ':red_circle: *origin-down* on `www.example.com`',
      ],
      'in order, as Slack texts',
    );
  });
});
