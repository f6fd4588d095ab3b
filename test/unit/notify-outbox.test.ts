/**
 * The notification outbox (src/daemon/notify/outbox.ts): kept in order per target, persisted
 * atomically in the state folder and read back by a new outbox (a restart), retried with backoff,
 * and dropped (never retried forever) once refused or out of attempts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { NotifyEvent } from '../../src/daemon/notify/events.ts';
import { type Delivery, FileOutboxStore, MemoryOutboxStore, Outbox } from '../../src/daemon/notify/outbox.ts';

const RETRY = { attempts: 3, initialDelay: 1000, maxDelay: 60_000 };
const roots: string[] = [];

after(() => {
  for (const root of roots) rmSync(root, { recursive: true, force: true });
});

function stateDir(): string {
  const root = mkdtempSync(join(tmpdir(), 'outlast-outbox-'));
  roots.push(root);
  return join(root, 'state');
}

function event(id: string): NotifyEvent {
  return {
    id,
    at: '2026-05-04T10:00:00.000Z',
    kind: 'failover',
    message: `event ${id}`,
    data: { from: ['a'], to: ['b'] },
    site: 'www.example.com',
    name: 'www.example.com',
  };
}

function delivery(eventIdValue: string, target: string): Omit<Delivery, 'attempts' | 'dueAt'> {
  return { id: `${eventIdValue}/${target}`, target, event: event(eventIdValue) };
}

const FAIL = { ok: false as const, retryable: true, error: 'HTTP 503' };

describe('FileOutboxStore', () => {
  it('reads [] before anything was saved, and what was saved after', async () => {
    const dir = stateDir();
    const store = new FileOutboxStore(dir);
    assert.deepEqual(await store.load(), []);
    const outbox = new Outbox(store, { retry: RETRY });
    outbox.add([delivery('e1', 't1'), delivery('e2', 't1')], 1000);
    await outbox.save();
    assert.deepEqual(
      (await new FileOutboxStore(dir).load()).map((item) => item.id),
      ['e1/t1', 'e2/t1'],
    );
    assert.equal(statSync(store.path).mode & 0o777, 0o600, 'the file is private');
    assert.deepEqual(readdirSync(dir), ['notify-outbox.json'], 'no temp file is left behind');
  });

  it('reads a file that is not an outbox as []', async () => {
    const dir = stateDir();
    const store = new FileOutboxStore(dir);
    await store.save([]);
    writeFileSync(store.path, '{"version": 1, "deliveries": [');
    assert.deepEqual(await store.load(), []);
    writeFileSync(store.path, '{"version": 2, "deliveries": []}');
    assert.deepEqual(await store.load(), []);
  });
});

describe('Outbox', () => {
  it('persists and reloads: a new outbox on the same folder has the same pending deliveries', async () => {
    const dir = stateDir();
    const first = new Outbox(new FileOutboxStore(dir), { retry: RETRY });
    first.add([delivery('e1', 't1'), delivery('e1', 't2'), delivery('e2', 't1')], 1000);
    first.attempt('e1/t1');
    assert.equal(first.failed('e1/t1', FAIL, 2000), undefined, 'retried');
    first.attempt('e1/t2');
    first.succeeded('e1/t2');
    await first.save();

    const second = new Outbox(new FileOutboxStore(dir), { retry: RETRY });
    await second.load();
    const pending = second.list();
    assert.deepEqual(
      pending.map((item) => item.id),
      ['e1/t1', 'e2/t1'],
      'the sent one is gone, the others are kept in order',
    );
    assert.equal(pending[0]!.attempts, 1);
    assert.equal(pending[0]!.lastError, 'HTTP 503');
    assert.ok(pending[0]!.dueAt > 2000, 'still waiting for its retry');
    assert.deepEqual(pending[0]!.event, event('e1'));
    const text = readFileSync(join(dir, 'notify-outbox.json'), 'utf8');
    assert.ok(text.includes('"e2/t1"'));
  });

  it('keeps what was added before the load, after what was stored, without doubles', async () => {
    const store = new MemoryOutboxStore();
    const before = new Outbox(store, { retry: RETRY });
    before.add([delivery('e1', 't1')], 0);
    await before.save();
    const outbox = new Outbox(store, { retry: RETRY });
    outbox.add([delivery('e2', 't1'), delivery('e1', 't1')], 0);
    await outbox.load();
    assert.deepEqual(
      outbox.list().map((item) => item.id),
      ['e1/t1', 'e2/t1'],
    );
  });

  it('adds a delivery once, and gives each target its oldest delivery first', () => {
    const outbox = new Outbox(new MemoryOutboxStore(), { retry: RETRY });
    outbox.add([delivery('e1', 't1'), delivery('e1', 't2')], 0);
    outbox.add([delivery('e2', 't1'), delivery('e1', 't1')], 0);
    assert.deepEqual(
      outbox.list().map((item) => item.id),
      ['e1/t1', 'e1/t2', 'e2/t1'],
    );
    assert.deepEqual(
      outbox.heads().map((item) => item.id),
      ['e1/t1', 'e1/t2'],
    );
    outbox.succeeded('e1/t1');
    assert.deepEqual(
      outbox.heads().map((item) => item.id),
      ['e1/t2', 'e2/t1'],
    );
  });

  it('drops a delivery once its attempts are used up, not before', () => {
    const outbox = new Outbox(new MemoryOutboxStore(), { retry: RETRY, random: () => 0 });
    outbox.add([delivery('e1', 't1')], 0);
    const dues: number[] = [];
    for (let attempt = 1; attempt < RETRY.attempts; attempt++) {
      outbox.attempt('e1/t1');
      assert.equal(outbox.failed('e1/t1', FAIL, 10_000), undefined, `attempt ${attempt} is retried`);
      dues.push(outbox.list()[0]!.dueAt - 10_000);
    }
    assert.deepEqual(dues, [500, 1000], 'the backoff doubles (random 0: half of it)');
    outbox.attempt('e1/t1');
    assert.equal(outbox.failed('e1/t1', FAIL, 10_000), 'exhausted');
    assert.equal(outbox.list().length, 0);
  });

  it('drops a refused delivery at once', () => {
    const outbox = new Outbox(new MemoryOutboxStore(), { retry: RETRY });
    outbox.add([delivery('e1', 't1')], 0);
    outbox.attempt('e1/t1');
    assert.equal(outbox.failed('e1/t1', { ok: false, retryable: false, error: 'HTTP 400' }, 0), 'rejected');
    assert.equal(outbox.list().length, 0);
  });

  it('does not count a try cut short by a stop', () => {
    const outbox = new Outbox(new MemoryOutboxStore(), { retry: RETRY });
    outbox.add([delivery('e1', 't1')], 0);
    outbox.attempt('e1/t1');
    outbox.uncount('e1/t1');
    assert.equal(outbox.list()[0]!.attempts, 0);
  });

  it('drops the oldest deliveries beyond maxPending, and those of targets that are gone', () => {
    const outbox = new Outbox(new MemoryOutboxStore(), { retry: RETRY, maxPending: 2 });
    assert.deepEqual(outbox.add([delivery('e1', 't1'), delivery('e2', 't2')], 0), []);
    const dropped = outbox.add([delivery('e3', 't1')], 0);
    assert.deepEqual(
      dropped.map((item) => item.id),
      ['e1/t1'],
    );
    assert.deepEqual(
      outbox.retain(new Set(['t1'])).map((item) => item.id),
      ['e2/t2'],
    );
    assert.deepEqual(
      outbox.list().map((item) => item.id),
      ['e3/t1'],
    );
  });

  it('saves only when something changed', async () => {
    const store = new MemoryOutboxStore();
    const outbox = new Outbox(store, { retry: RETRY });
    await outbox.save();
    assert.equal(store.saves, 0);
    outbox.add([delivery('e1', 't1')], 0);
    await Promise.all([outbox.save(), outbox.save()]);
    assert.equal(store.saves, 1);
  });
});
