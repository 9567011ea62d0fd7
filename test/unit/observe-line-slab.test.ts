// LineSlab: flow lines encoded into shared slabs; views handed to the writer must never change afterwards.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LineSlab } from '../../src/observe/line-slab.js';

test('taken views keep their bytes while later lines fill and outgrow the slab', () => {
  const slab = new LineSlab();
  const taken: Array<[Buffer, string]> = [];
  let expected = '';
  // Lines of every UTF-8 width, including a surrogate pair; far more than one 1 MiB slab holds.
  for (let i = 0; i < 3000; i++) {
    const line = `{"n":${i},"t":"${'aé☃😀'.repeat(i % 7)}${'x'.repeat((i * 37) % 1500)}"}`;
    slab.append(line);
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
  slab.append('small');
  const huge = '☃'.repeat(600_000); // 1.8 MB of UTF-8
  slab.append(huge);
  assert.equal(slab.take().toString('utf8'), `small\n${huge}\n`);
  slab.append('after');
  assert.equal(slab.take().toString('utf8'), 'after\n');
});
