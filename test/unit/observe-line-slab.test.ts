// LineSlab: flow lines encoded into shared slabs; views handed to the writer must never change until it is done with them.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSlab } from '../../src/observe/line-slab.js';

/** A whole line, as the flow renderer writes one: text, then its end. */
function appendLine(slab: LineSlab, line: string): void {
  slab.text(line);
  slab.endLine();
}

test('taken views keep their bytes while later lines fill and outgrow the slab', () => {
  const slab = new LineSlab();
  const taken: Array<[Buffer, string]> = [];
  let expected = '';
  // Lines of every UTF-8 width, including a surrogate pair; far more than one 1 MiB slab holds.
  for (let i = 0; i < 3000; i++) {
    const line = `{"n":${i},"t":"${'aé☃😀'.repeat(i % 7)}${'x'.repeat((i * 37) % 1500)}"}`;
    appendLine(slab, line);
    expected += `${line}\n`;
    if (i % 13 === 12) {
      taken.push([slab.take(), expected]);
      expected = '';
    }
  }
  assert.ok(slab.pending > 0, 'the lines after the last take are kept for the next one');
  taken.push([slab.take(), expected]);
  assert.equal(slab.pending, 0);
  for (const [bytes, text] of taken) assert.equal(bytes.toString('utf8'), text);
});

test('a line larger than a slab gets a slab of its own', () => {
  const slab = new LineSlab();
  appendLine(slab, 'small');
  const huge = '☃'.repeat(600_000); // 1.8 MB of UTF-8
  appendLine(slab, huge);
  assert.equal(slab.take().toString('utf8'), `small\n${huge}\n`);
  appendLine(slab, 'after');
  assert.equal(slab.take().toString('utf8'), 'after\n');
});

test('a slab is reused once the writer is done with every view of it, and not one byte before', () => {
  const slab = new LineSlab();
  const line = 'y'.repeat(1000);
  /** 1.1 MB of lines taken 100 at a time: outgrows the slab being filled. */
  const fill = (): Buffer[] => {
    const views: Buffer[] = [];
    for (let i = 1; i <= 1100; i++) {
      appendLine(slab, line);
      if (i % 100 === 0) views.push(slab.take());
    }
    return views;
  };
  const intact = (views: Buffer[]): boolean => views.every((v) => v.toString('utf8') === `${line}\n`.repeat(v.length / 1001));
  const first = fill();
  const firstSlab = first[0]!.buffer;
  const onFirst = first.filter((v) => v.buffer === firstSlab);
  assert.ok(onFirst.length < first.length, 'the first slab was outgrown');
  const firstBytes = onFirst.reduce((n, v) => n + v.length, 0);
  const rest = first.reduce((n, v) => n + v.length, 0) - firstBytes;

  slab.done(firstBytes - 1); // one byte of the first slab's views is still unwritten
  const second = fill();
  assert.ok(second.every((v) => v.buffer !== firstSlab), 'a slab with an unwritten view is not reused');
  assert.ok(intact(first) && intact(second));

  slab.done(1 + rest);
  const third = fill();
  assert.ok(third.some((v) => v.buffer === firstSlab), 'the written-out slab is reused');
  assert.ok(intact(second) && intact(third), 'views not yet reported done keep their bytes');
});
