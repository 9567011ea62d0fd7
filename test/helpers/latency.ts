// Latency of a well-behaved client beside an attack. What the attack tests guard against is a proxy whose event loop
// the attack stalls for everyone: that shows as hundreds of ms or more. The bound is relative to what the same
// requests took just before the attack with one more CPU kept busy (baselineOf), so that a machine already loaded
// by others does not fail the test, and it is capped, so that no load excuses a stall (assertBystanderUnhurt).
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Worker } from 'node:worker_threads';

/** The p99 a bystander may always have: far below a stall, far above an unloaded machine's few ms. */
const UNHURT_P99_MS = 50;
/**
 * How much slower than its baseline a bystander may be, once that baseline is above UNHURT_P99_MS / FACTOR (a loaded
 * machine). During an attack the proxy's loop also reads and refuses the attack's bytes, in turns of a few ms that a
 * busy machine stretches: with one core kept busy, attacks that hurt nobody were measured at up to 8 times their
 * baseline (h2 floods 6.4, stalled uploads 7.9).
 */
const FACTOR = 8;
/**
 * However slow the baseline, a p99 this high is a stall, which no load excuses: the stalls these tests are for hold
 * the loop for hundreds of ms, and a loaded machine's bystanders were measured at up to 177 ms.
 */
const STALL_P99_MS = 250;

/** The `p`th percentile (nearest rank) of `values`, in their unit. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The latency (ms) of one `request`. */
export async function latencyOf(request: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await request();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Latencies (ms) of `request` run `count` times, one after another. */
export async function latenciesOf(count: number, request: () => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  for (let i = 0; i < count; i++) latencies.push(await latencyOf(request));
  return latencies;
}

/**
 * A bystander's baseline: the latencies (ms) of `request` 30 times, after 5 untimed ones (its connection, JIT), while
 * one more thread keeps a CPU busy. That thread stands for the CPU an attack takes by right (the test writing it, the
 * proxy reading and refusing it): with a core to spare it changes nothing, but on a machine whose cores are taken
 * (by others, or a busy process) the baseline then shows how long these requests wait for a CPU during an attack,
 * which a quiet baseline does not: the bystander alone fits on the one core left.
 */
export async function baselineOf(request: () => Promise<unknown>): Promise<number[]> {
  for (let i = 0; i < 5; i++) await request();
  const busy = new Worker('for (;;);', { eval: true });
  try {
    await once(busy, 'online');
    return await latenciesOf(30, request);
  } finally {
    await busy.terminate();
  }
}

/** Latencies (ms) of `request` run back to back until `until` settles, and at least `min` times. */
export async function latenciesDuring(until: Promise<unknown>, request: () => Promise<unknown>, min: number): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  const latencies: number[] = [];
  while (!done || latencies.length < min) latencies.push(await latencyOf(request));
  return latencies;
}

/**
 * Asserts that the bystander's p99 `during` the attack is under UNHURT_P99_MS or, on a machine so loaded that the
 * same requests (same client, connection and proxy) took long already in the `baseline` just before, within FACTOR
 * of that baseline's p99, and under STALL_P99_MS either way. Returns the figures, for a test diagnostic.
 */
export function assertBystanderUnhurt(during: readonly number[], baseline: readonly number[], what: string): string {
  const p99 = percentile(during, 99);
  const before = percentile(baseline, 99);
  const allowed = Math.max(UNHURT_P99_MS, Math.min(FACTOR * before, STALL_P99_MS));
  const figures =
    `${what}: bystander p99 ${p99.toFixed(1)} ms over ${during.length} requests, ` +
    `${before.toFixed(1)} ms over ${baseline.length} just before (a CPU kept busy); allowed ${allowed.toFixed(1)} ms`;
  assert.ok(p99 < allowed, `${figures} (${UNHURT_P99_MS} ms, or ${FACTOR}× the baseline up to ${STALL_P99_MS} ms)`);
  return figures;
}
