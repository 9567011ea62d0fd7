// Reading a flow file from its end and following it (flow-file-read.ts) on files larger than its 64 KiB reads:
// lines that straddle reads, a line longer than a read, a last line still being written, truncation.
import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { followFile, lastLines, linesBackward } from '../../src/observe/flow-file-read.js';
import { waitUntil } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-flow-read-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Lines of lengths that put their ends everywhere relative to 64 KiB reads, one of them longer than a read. */
function sampleLines(): string[] {
  const lines = Array.from({ length: 700 }, (_, i) => `{"n":${i},"pad":"${'x'.repeat((i * 7919) % 1500)}"}`);
  lines[350] = `{"n":350,"pad":"${'y'.repeat(200_000)}"}`;
  return lines;
}

describe('a flow file read from its end', () => {
  const lines = sampleLines();
  const text = `${lines.join('\n')}\n`;
  const file = join(dir, 'flows.jsonl');
  writeFileSync(file, `${text}{"n":"being written`);

  test('every line, last first, whole; the unterminated last line is not one', async () => {
    const seen: string[] = [];
    for await (const line of linesBackward(file, Buffer.byteLength(text) + 10)) seen.push(line);
    assert.equal(seen.length, lines.length);
    assert.deepEqual(seen.reverse(), lines);
  });

  test('the last n lines before an offset, in file order', async () => {
    for (const n of [0, 1, 2, 349, 350, 351, 700, 800]) assert.deepEqual(await lastLines(file, Buffer.byteLength(text), n), n === 0 ? [] : lines.slice(-n), `n=${n}`);
    const cut = Buffer.byteLength(`${lines.slice(0, 10).join('\n')}\n`);
    assert.deepEqual(await lastLines(file, cut, 3), lines.slice(7, 10));
  });
});

describe('a flow file followed', () => {
  test('appended lines arrive whole, however they are split; a truncated file is read again from its start', async () => {
    const file = join(dir, 'followed.jsonl');
    writeFileSync(file, 'old\n');
    const abort = new AbortController();
    const got: string[] = [];
    const reading = (async () => {
      for await (const chunk of followFile(file, 4, abort.signal, 20)) {
        const text = chunk.toString('utf8');
        assert.ok(text.endsWith('\n'), 'chunks hold whole lines');
        got.push(...text.split('\n').slice(0, -1));
      }
    })();
    const lines = sampleLines();
    const text = `${lines.join('\n')}\n`;
    // In pieces that cut lines anywhere.
    for (let at = 0; at < text.length; at += 50_000) appendFileSync(file, text.slice(at, at + 50_000));
    await waitUntil('every line', () => got.length >= lines.length, 10_000);
    assert.deepEqual(got, lines);
    truncateSync(file, 0);
    await new Promise((resolve) => setTimeout(resolve, 100));
    appendFileSync(file, 'after truncation\n');
    await waitUntil('the line after truncation', () => got.length === lines.length + 1, 5000);
    assert.equal(got.at(-1), 'after truncation');
    abort.abort();
    await reading;
  });
});
