// RequestBufferBudget: whole frames are reserved up to the budget; frames that do not fit wait, oldest first,
// and are granted as room frees or as waiting frames ahead of them give up.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RequestBufferBudget } from '../../src/protocols/kafka/proxy/request-budget.js';

test('frames that fit are reserved at once; the rest wait in order and are granted as room frees', () => {
  const budget = new RequestBufferBudget(100);
  const granted: string[] = [];
  const waiter = (name: string) => () => granted.push(name);
  assert.equal(budget.reserve(60, waiter('a')), true);
  assert.equal(budget.reserve(50, waiter('b')), false, 'does not fit');
  assert.equal(budget.reserve(10, waiter('c')), false, 'fits, but must not overtake b');
  assert.equal(budget.reservedBytes, 60);
  budget.release(60);
  assert.deepEqual(granted, ['b', 'c']);
  assert.equal(budget.reservedBytes, 60);
});

test('a waiting frame whose connection closes stops blocking those behind it', () => {
  const budget = new RequestBufferBudget(100);
  const granted: string[] = [];
  const big = () => granted.push('big');
  budget.reserve(90, () => granted.push('first'));
  budget.reserve(100, big);
  budget.reserve(10, () => granted.push('small'));
  assert.deepEqual(granted, []);
  budget.cancel(big);
  assert.deepEqual(granted, ['small']);
  assert.equal(budget.reservedBytes, 100);
});
