// The response relay on its own: a byte stream of responses cut into chunks at every possible place comes out
// byte for byte, in order, with rewrites (immediate or delayed) applied and the proxy's own answers slotted in
// right after the response they wait behind; the start of every response is shown to the inspector once; it
// never assembles a pass-through frame and refuses bad sizes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { KafkaFrameError } from '../../src/protocols/kafka/codec/index.js';
import { INSPECT_BYTES, KafkaResponseRelay, type ResponseRelayHooks, type ResponseRewrite } from '../../src/protocols/kafka/proxy/response-relay.js';
import { seededRandom } from '../helpers/kafka-random-message.js';

function response(correlationId: number, body: string): Buffer {
  const b = Buffer.alloc(8 + body.length);
  b.writeInt32BE(4 + body.length, 0);
  b.writeInt32BE(correlationId, 4);
  b.write(body, 8, 'latin1');
  return b;
}

interface Expectation {
  readonly correlationId: number;
  readonly body: string;
  /** How the relay should treat it. */
  readonly rewrite?: 'sync' | 'async';
  /** The proxy's own answer queued right behind it. */
  readonly local?: Buffer;
}

/** Runs the relay over `stream` split at `cuts`; resolves with what it emitted and how often it held the broker side. */
async function relay(expected: readonly Expectation[], stream: Buffer, cuts: readonly number[], maxFrameSize = 1 << 20) {
  const out: Buffer[] = [];
  const inspected: string[] = [];
  const pending = [...expected];
  let holds = 0;
  let released: () => void = () => undefined;
  let failure: unknown;
  const r = new KafkaResponseRelay(maxFrameSize, {
    begin(correlationId) {
      const head = pending[0];
      assert.equal(correlationId, head?.correlationId);
      if (head!.rewrite === undefined) return undefined;
      const rewrite: ResponseRewrite = (frame) => {
        const rewritten = Buffer.concat([frame.subarray(0, 8), Buffer.from(frame.subarray(8).toString('latin1').toUpperCase(), 'latin1')]);
        return head!.rewrite === 'sync' ? rewritten : new Promise((resolve) => setTimeout(resolve, 1, rewritten));
      };
      return rewrite;
    },
    inspect(b, window) {
      if (b.length < window) return false; // this inspector wants the whole window
      assert.equal(inspected.length, expected.length - pending.length, 'the whole window once per response, before its end');
      inspected.push(b.toString('latin1'));
      return true;
    },
    emit: (b) => out.push(Buffer.from(b)),
    end: () => {
      const head = pending.shift()!;
      return head.local ? [head.local] : [];
    },
    hold(holding) {
      if (holding) holds++;
      else released();
    },
    fail(err) {
      failure = err;
    },
  });
  let from = 0;
  for (const cut of [...cuts, stream.length]) {
    r.push(stream.subarray(from, cut));
    from = cut;
  }
  // Delayed rewrites finish on their own; wait until every expected response came out.
  while (pending.length > 0 && failure === undefined) await new Promise<void>((resolve) => (released = resolve));
  if (failure) throw failure;
  assert.deepEqual(inspected, expected.map((e) => e.body), 'each response inspected from the bytes the broker sent');
  return { out: Buffer.concat(out), holds };
}

const quietHooks: ResponseRelayHooks = { begin: () => undefined, inspect: () => false, emit: () => undefined, end: () => [], hold: () => undefined, fail: () => undefined };

function expectedOutput(expected: readonly Expectation[]): Buffer {
  return Buffer.concat(
    expected.flatMap((e) => [response(e.correlationId, e.rewrite ? e.body.toUpperCase() : e.body), ...(e.local ? [e.local] : [])]),
  );
}

describe('kafka proxy: response relay', () => {
  const mixed: Expectation[] = [
    { correlationId: 1, body: 'fetch response with records' },
    { correlationId: 2, body: 'metadata brokers', rewrite: 'sync', local: response(3, 'denied') },
    { correlationId: 4, body: '' },
    { correlationId: 5, body: 'apiversions', rewrite: 'async' },
    { correlationId: 6, body: 'produce ok', local: Buffer.concat([response(7, 'denied too')]) },
    { correlationId: 8, body: 'find coordinator', rewrite: 'async', local: response(9, 'denied at the end') },
  ];
  const stream = Buffer.concat(mixed.map((e) => response(e.correlationId, e.body)));

  test('whole stream in one chunk', async () => {
    const { out, holds } = await relay(mixed, stream, []);
    assert.deepEqual(out, expectedOutput(mixed));
    assert.equal(holds, 2);
  });

  test('cut at every single position', async () => {
    for (let cut = 1; cut < stream.length; cut++) {
      assert.deepEqual((await relay(mixed, stream, [cut])).out, expectedOutput(mixed), `cut at ${cut}`);
    }
  });

  test('byte by byte, and at seeded random positions', async () => {
    assert.deepEqual((await relay(mixed, stream, Array.from({ length: stream.length - 1 }, (_, i) => i + 1))).out, expectedOutput(mixed));
    const random = seededRandom(7);
    for (let run = 0; run < 50; run++) {
      const cuts = [...new Set(Array.from({ length: 1 + Math.floor(random() * 8) }, () => 1 + Math.floor(random() * (stream.length - 1))))].sort((a, b) => a - b);
      assert.deepEqual((await relay(mixed, stream, cuts)).out, expectedOutput(mixed), `cuts ${cuts.join(',')}`);
    }
  });

  test('pass-through responses leave as views of the chunks they arrived in (no reassembly)', () => {
    const big = response(1, 'x'.repeat(100_000));
    const emitted: Buffer[] = [];
    const r = new KafkaResponseRelay(1 << 20, { ...quietHooks, emit: (b) => emitted.push(b) });
    const chunks = [big.subarray(0, 30_000), big.subarray(30_000, 70_000), big.subarray(70_000)];
    for (const c of chunks) r.push(c);
    assert.equal(emitted.length, 3);
    emitted.forEach((e, i) => assert.equal(e.buffer, chunks[i]!.buffer, 'same memory, not a copy'));
  });

  test('a large response is inspected as it arrives, up to its first INSPECT_BYTES, however it is cut', () => {
    const body = Array.from({ length: 100_000 }, (_, i) => String.fromCharCode(97 + (i % 26))).join('');
    const big = response(1, body);
    for (const size of [1000, INSPECT_BYTES, 30_000]) {
      const inspected: string[] = [];
      const r = new KafkaResponseRelay(1 << 20, {
        ...quietHooks,
        inspect: (b, window) => {
          assert.equal(window, INSPECT_BYTES);
          inspected.push(b.toString('latin1'));
          return false;
        },
      });
      for (let from = 0; from < big.length; from += size) r.push(big.subarray(from, from + size));
      // Every call sees the start as far as it has arrived; the last one the whole window.
      assert.equal(inspected.length, Math.ceil((INSPECT_BYTES + 8) / size), `chunks of ${size}`);
      inspected.forEach((seen, i) => assert.equal(seen, body.slice(0, Math.min(INSPECT_BYTES, (i + 1) * size - 8)), `chunks of ${size}, call ${i}`));
    }
  });

  test('an inspector that has seen enough ends the inspection: the rest may bypass the relay at once', () => {
    const big = response(1, 'f'.repeat(INSPECT_BYTES + 50_000));
    const seen: number[] = [];
    const r = new KafkaResponseRelay(1 << 20, { ...quietHooks, inspect: (b) => (seen.push(b.length), b.length >= 100) });
    r.push(big.subarray(0, 58));
    assert.equal(r.streamingLeft(), 0, 'the inspector wants more');
    r.push(big.subarray(58, 300));
    assert.deepEqual(seen, [50, 292]);
    assert.equal(r.streamingLeft(), big.length - 300);
    r.push(big.subarray(300, 400));
    assert.deepEqual(seen, [50, 292], 'not called again');
    assert.equal(r.streamingLeft(), big.length - 400);
  });

  test('the rest of a streamed response may bypass the relay: only once inspected, never a rewritten or held one', () => {
    const body = 'z'.repeat(INSPECT_BYTES + 50_000);
    const big = response(1, body);
    const emitted: Buffer[] = [];
    const ends: number[] = [];
    const local = response(2, 'denied behind it');
    const r = new KafkaResponseRelay(1 << 20, { ...quietHooks, emit: (b) => emitted.push(Buffer.from(b)), end: () => (ends.push(1), [local]) });
    r.push(big.subarray(0, 100));
    assert.equal(r.streamingLeft(), 0, 'not before its start has been inspected');
    r.push(big.subarray(100, INSPECT_BYTES + 1000));
    const rest = big.length - (INSPECT_BYTES + 1000);
    assert.equal(r.streamingLeft(), rest);
    assert.throws(() => r.passed(rest + 1), /only \d+ may bypass/);
    r.passed(rest - 10);
    assert.deepEqual(ends, [], 'not over yet');
    r.passed(10);
    assert.deepEqual(ends, [1]);
    assert.deepEqual(Buffer.concat(emitted), Buffer.concat([big.subarray(0, INSPECT_BYTES + 1000), local]), 'the relay emitted its part, then what waited behind');
    assert.equal(r.streamingLeft(), 0);
    // A response collected for a rewrite is never offered.
    const collecting = new KafkaResponseRelay(1 << 20, { ...quietHooks, begin: () => (frame) => frame });
    collecting.push(big.subarray(0, INSPECT_BYTES + 1000));
    assert.equal(collecting.streamingLeft(), 0);
  });

  test('sizes below a correlation id or above the maximum are refused', () => {
    const hooks = quietHooks;
    const tooSmall = Buffer.from([0, 0, 0, 3, 0, 0, 0, 1]);
    assert.throws(() => new KafkaResponseRelay(1024, hooks).push(tooSmall), KafkaFrameError);
    const tooBig = response(1, 'y'.repeat(2000));
    assert.throws(() => new KafkaResponseRelay(1024, hooks).push(tooBig), /response frame of 2004 bytes \(allowed 4 to 1024\)/);
    const negative = Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 1]);
    assert.throws(() => new KafkaResponseRelay(1024, hooks).push(negative), KafkaFrameError);
  });
});
