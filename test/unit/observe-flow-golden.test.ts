// Byte-for-byte golden test of the flow renderer: test/fixtures/observe/flow-records.jsonl was written by the
// renderer of commit 3e368f8 (before the hand-tuned serializer) from the corpus in
// test/helpers/observe-flow-corpus.ts; its only change since (issue #19): an event's own reason, once
// `portcullis.info`, is `portcullis.reason` (24 lines). Any change of a byte of a record's content fails here. Paths of the repo's
// policy files stand as `<repo>/` in the file, so it holds wherever the repo is checked out.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { renderFlow } from '../../src/observe/flows.js';
import { CORPUS, CORPUS_OPTIONS } from '../helpers/observe-flow-corpus.js';

const GOLDEN = fileURLToPath(new URL('../../../test/fixtures/observe/flow-records.jsonl', import.meta.url));
const golden = readFileSync(GOLDEN, 'utf8').split('\n').slice(0, -1);
const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const render = (...args: Parameters<typeof renderFlow>): string => renderFlow(...args).split(REPO).join('<repo>/');

test('the golden file covers the whole corpus under every option set', () => {
  assert.equal(golden.length, CORPUS.length * CORPUS_OPTIONS.length);
});

test('every record renders exactly as the golden file says, in order and in reverse (cached parts reused)', () => {
  for (const order of ['forward', 'reverse'] as const) {
    for (let o = 0; o < CORPUS_OPTIONS.length; o++) {
      const indices = CORPUS.map((_, i) => i);
      if (order === 'reverse') indices.reverse();
      for (const i of indices) {
        const [name, event] = CORPUS[i]!;
        assert.equal(render(event, CORPUS_OPTIONS[o]!), golden[o * CORPUS.length + i], `${name} (options ${o}, ${order})`);
      }
    }
  }
});

test('records are valid JSON lines', () => {
  for (const line of golden) assert.doesNotThrow(() => JSON.parse(line), line);
});
