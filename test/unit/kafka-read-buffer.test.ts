// The Kafka connection's broker read buffer: small while idle, large under a stream of big reads, and
// never handed out again while bytes read into it may still be queued for the client.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AdaptiveReadBuffer, LARGE_READ_BYTES, SMALL_READ_BYTES } from '../../src/protocols/kafka/codec/read-buffer.js';

test('starts small and is reused while nothing read into it is still queued', () => {
  const reads = new AdaptiveReadBuffer();
  const first = reads.next(false);
  assert.equal(first.length, SMALL_READ_BYTES);
  reads.filled(100);
  assert.equal(reads.next(false), first);
});

test('a buffer whose bytes are still queued for writing is never handed out again', () => {
  const reads = new AdaptiveReadBuffer();
  const first = reads.next(false);
  reads.filled(100);
  const second = reads.next(true);
  assert.notEqual(second, first);
  assert.equal(second.length, SMALL_READ_BYTES);
});

test('grows when a read fills it, shrinks after a run of small reads', () => {
  const reads = new AdaptiveReadBuffer();
  reads.next(false);
  reads.filled(SMALL_READ_BYTES);
  const large = reads.next(false);
  assert.equal(large.length, LARGE_READ_BYTES);

  // Large reads keep it large, and reused.
  reads.filled(LARGE_READ_BYTES);
  assert.equal(reads.next(false), large);
  // One large read in a run of small ones starts the count again.
  for (let i = 0; i < 15; i++) {
    reads.filled(200);
    assert.equal(reads.next(false), large, `small read ${i + 1} keeps the large buffer`);
  }
  reads.filled(SMALL_READ_BYTES + 1);
  assert.equal(reads.next(false), large);
  for (let i = 0; i < 15; i++) {
    reads.filled(200);
    assert.equal(reads.next(false).length, LARGE_READ_BYTES);
  }
  reads.filled(200);
  assert.equal(reads.next(false).length, SMALL_READ_BYTES, 'the 16th small read in a row gives the large buffer up');
});

test('grows only to the size it is given (splicing connections read just the start of large responses)', () => {
  const reads = new AdaptiveReadBuffer(32 * 1024);
  reads.next(false);
  reads.filled(SMALL_READ_BYTES);
  assert.equal(reads.next(false).length, 32 * 1024);
});
