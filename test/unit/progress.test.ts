/** The deploy's progress line: files and bytes per origin, the recent rate and an ETA. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ProgressLine } from '../../src/cli/progress.ts';
import type { ApplyProgress } from '../../src/deploy/apply.ts';

function terminal(columns = 200) {
  const writes: string[] = [];
  const stream = { isTTY: true, columns, write: (chunk: string) => writes.push(chunk) > 0 };
  return { stream: stream as unknown as NodeJS.WriteStream, writes };
}

function step(originId: string, done: number, bytesDone: number, phase: ApplyProgress['phase'] = 'assets') {
  return { originId, phase, done, total: 100, bytesDone, bytesTotal: 1_000_000 };
}

describe('ProgressLine', () => {
  test('shows files and bytes per origin, the recent rate and the ETA of the slowest origin', () => {
    let now = 0;
    const { stream, writes } = terminal();
    const line = new ProgressLine(stream, () => now);
    line.onProgress(step('a', 0, 0));
    line.onProgress(step('b', 0, 0));
    assert.doesNotMatch(line.line(), /ETA/, 'no ETA before a rate is known');
    now = 2_000;
    line.onProgress(step('a', 20, 200_000)); // 10 files/s, 100 kB/s: 8 s left
    line.onProgress(step('b', 10, 100_000)); // 5 files/s, 50 kB/s: 18 s left
    const shown = line.line();
    assert.match(shown, /a 20\/100 files 195 KiB\/977 KiB/);
    assert.match(shown, /b 10\/100 files 98 KiB\/977 KiB/);
    assert.match(shown, /146 KiB\/s/, 'the rates of both origins together');
    assert.match(shown, /ETA 0:18/, 'the slowest origin decides');
    assert.ok(writes.length > 0 && writes.every((chunk) => chunk.startsWith('\r\x1b[2K')));
  });

  test('small files: the files rate, not the bytes rate, sets the ETA when it is the slower', () => {
    let now = 0;
    const line = new ProgressLine(terminal().stream, () => now);
    line.onProgress(step('a', 0, 0));
    now = 2_000;
    line.onProgress(step('a', 2, 500_000)); // bytes say 2 s left, files say 98 s
    assert.match(line.line(), /ETA 1:38/);
  });

  test('a narrow terminal gets percentages; a finished origin says done', () => {
    let now = 0;
    const line = new ProgressLine(terminal(40).stream, () => now);
    line.onProgress(step('a', 50, 250_000));
    now = 2_000;
    line.onProgress(step('b', 100, 1_000_000, 'done'));
    const narrow = line.line(40);
    assert.match(narrow, /a 25%/, 'the lesser of files and bytes done');
    assert.match(narrow, /b done/);
    assert.match(line.line(), /a 50\/100 files/);
  });

  test('draws nothing off a terminal, or in CI', () => {
    const pipe = { isTTY: false } as unknown as NodeJS.WriteStream;
    assert.equal(ProgressLine.enabled(true, pipe), false);
    assert.equal(ProgressLine.enabled(false, terminal().stream), false);
    const ci = process.env.CI;
    process.env.CI = 'true';
    try {
      assert.equal(ProgressLine.enabled(true, terminal().stream), false);
    } finally {
      if (ci === undefined) delete process.env.CI;
      else process.env.CI = ci;
    }
  });
});
