/**
 * The watcher's state folder (src/daemon/state-store.ts) after an unclean stop: a torn last line
 * of the event log is cut off and reported (the next append would otherwise glue onto it and
 * lose an event), a state file that does not parse is reported, and the temp files of killed
 * processes are removed while a live process's are kept.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { StateStore } from '../../src/daemon/state-store.ts';

function store(): { dir: string; store: StateStore; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-state-'));
  return { dir, store: new StateStore(dir), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

const event = (n: number) => ({ at: new Date(n).toISOString(), kind: 'route', message: `event ${n}` });

test('a torn last line is cut off, reported, and the next append is whole', async () => {
  const { dir, store: s, cleanup } = store();
  try {
    await s.init();
    await s.appendEvents([event(1), event(2)] as never);
    const fragment = '{"at":"2026-01-01T00:00:00.000Z","kind":"fail';
    appendFileSync(join(dir, 'events.jsonl'), fragment);
    const torn = await s.repairEvents();
    assert.deepEqual(torn, { bytes: fragment.length, start: fragment });
    await s.appendEvents([event(3)] as never);
    const lines = readFileSync(join(dir, 'events.jsonl'), 'utf8').trimEnd().split('\n');
    assert.deepEqual(
      lines.map((line) => JSON.parse(line).message),
      ['event 1', 'event 2', 'event 3'],
    );
    assert.equal(await s.repairEvents(), undefined, 'a whole log is left alone');
    assert.deepEqual(
      (await s.recentEvents()).map((e) => e.message),
      ['event 1', 'event 2', 'event 3'],
    );
  } finally {
    cleanup();
  }
});

test('a log that is one torn line is emptied; a missing or empty log is whole', async () => {
  const { dir, store: s, cleanup } = store();
  try {
    await s.init();
    assert.equal(await s.repairEvents(), undefined);
    writeFileSync(join(dir, 'events.jsonl'), '');
    assert.equal(await s.repairEvents(), undefined);
    writeFileSync(join(dir, 'events.jsonl'), '{"at":');
    assert.equal((await s.repairEvents())?.bytes, 6);
    assert.equal(readFileSync(join(dir, 'events.jsonl'), 'utf8'), '');
  } finally {
    cleanup();
  }
});

test('a state file that does not parse is reported, and the watcher starts afresh', async () => {
  const { dir, store: s, cleanup } = store();
  try {
    await s.init();
    assert.equal(await s.load(), undefined);
    assert.equal(s.loadProblem, undefined, 'no file is no problem');
    writeFileSync(join(dir, 'state.json'), '{"version": 1, "mach');
    assert.equal(await s.load(), undefined);
    assert.match(s.loadProblem ?? '', /state\.json does not parse/);
    await s.save({
      machine: { origins: {}, active: ['a'], paused: false, awaitingFailback: false },
      providers: [],
    });
    assert.deepEqual((await s.load())?.machine.active, ['a']);
    assert.equal(s.loadProblem, undefined);
  } finally {
    cleanup();
  }
});

test("init removes a killed process's temp files and keeps a live one's", async () => {
  const { dir, store: s, cleanup } = store();
  try {
    await s.init();
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    const deadPid = Number(dead.stdout);
    assert.ok(deadPid > 0);
    writeFileSync(join(dir, `state.json.${deadPid}.tmp`), '{');
    writeFileSync(join(dir, `notify-outbox.json.${deadPid}.tmp`), '[');
    writeFileSync(join(dir, `state.json.${process.pid}.tmp`), '{');
    writeFileSync(join(dir, 'notes.tmp'), 'not ours');
    await s.init();
    assert.equal(existsSync(join(dir, `state.json.${deadPid}.tmp`)), false);
    assert.equal(existsSync(join(dir, `notify-outbox.json.${deadPid}.tmp`)), false);
    assert.equal(existsSync(join(dir, `state.json.${process.pid}.tmp`)), true);
    assert.equal(existsSync(join(dir, 'notes.tmp')), true);
  } finally {
    cleanup();
  }
});
