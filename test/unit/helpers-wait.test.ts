// waitUntil, the tests' one bounded wait: it resolves with the probe's first truthy answer, sync or async, and
// otherwise fails after its deadline naming what it waited for and the last value seen.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { waitUntil } from '../helpers/wait.js';

test('resolves with the first truthy value the probe returns', async () => {
  let calls = 0;
  const value = await waitUntil('the third call', () => (++calls >= 3 ? { calls } : undefined), 1000, 1);
  assert.deepEqual(value, { calls: 3 });
});

test('does not wait when the probe already holds', async () => {
  const started = Date.now();
  assert.equal(await waitUntil('an immediate answer', () => 'ready', 1000, 500), 'ready');
  assert.ok(Date.now() - started < 100);
});

test('awaits async probes', async () => {
  let calls = 0;
  const value = await waitUntil('an async answer', async () => (++calls === 2 ? 'done' : false), 1000, 1);
  assert.equal(value, 'done');
  assert.equal(calls, 2);
});

test('times out after the deadline with what it waited for and the last value seen', async () => {
  const started = Date.now();
  await assert.rejects(waitUntil('the moon', () => 0, 100, 10), {
    message: 'timed out after 100 ms waiting for the moon (last value: 0)',
  });
  const elapsed = Date.now() - started;
  assert.ok(elapsed >= 100 && elapsed < 1000, `${elapsed} ms`);
});

test('a probe that throws fails the wait at once', async () => {
  const started = Date.now();
  await assert.rejects(waitUntil('a broken probe', () => { throw new Error('boom'); }, 5000), { message: 'boom' });
  assert.ok(Date.now() - started < 1000);
});
