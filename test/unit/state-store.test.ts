/**
 * The watcher's state folder (src/daemon/state-store.ts) after an unclean stop: a torn last line
 * of the event log is cut off and reported (the next append would otherwise glue onto it and
 * lose an event), a state file that does not parse is reported, and the temp files of killed
 * processes are removed while a live process's are kept.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
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

test('the event log is rotated past its size limit: bounded on disk, nothing lost in the newest, read back across files', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outlast-state-'));
  const s = new StateStore(dir, { eventsMaxBytes: 2_000, eventFilesKept: 2 });
  try {
    await s.init();
    // Concurrent appends are serialized: no interleaving, no lost line.
    await Promise.all(Array.from({ length: 200 }, (_, n) => s.appendEvents([event(n)] as never)));
    const files = readdirSync(dir)
      .filter((name) => name.startsWith('events.jsonl'))
      .sort();
    assert.deepEqual(files, ['events.jsonl', 'events.jsonl.1', 'events.jsonl.2']);
    const lines = files.map((name) => readFileSync(join(dir, name), 'utf8').split('\n').filter(Boolean));
    for (const [i, name] of files.entries()) {
      assert.ok(statSync(join(dir, name)).size <= 2_000, `${name} within the limit`);
      for (const line of lines[i]!) JSON.parse(line);
    }
    // The newest events are all there, in order, the current file after .1 after .2.
    const kept = [...lines[2]!, ...lines[1]!, ...lines[0]!].map((line) => JSON.parse(line).message);
    assert.equal(kept.at(-1), 'event 199');
    const first = Number(kept[0].split(' ')[1]);
    assert.deepEqual(
      kept,
      Array.from({ length: 200 - first }, (_, i) => `event ${first + i}`),
    );
    // Read back at start: the newest `limit`, also when the current file has fewer.
    const recent = await s.recentEvents(30);
    assert.deepEqual(
      recent.map((e) => e.message),
      Array.from({ length: 30 }, (_, i) => `event ${170 + i}`),
    );
    assert.ok(lines[0]!.length < 30, 'the current file alone holds fewer than asked for');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
