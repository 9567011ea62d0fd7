// Latency of a well-behaved client measured beside an attack: the attack tests' bound is its 99th percentile.

/** The `p`th percentile (nearest rank) of `values`, in their unit. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

async function timed(request: () => Promise<unknown>): Promise<number> {
  const started = process.hrtime.bigint();
  await request();
  return Number(process.hrtime.bigint() - started) / 1e6;
}

/** Runs `request` `count` times one after another and returns the 99th percentile latency in ms. */
export async function p99LatencyMs(count: number, request: () => Promise<unknown>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < count; i++) times.push(await timed(request));
  return percentile(times, 99);
}

/** Latencies (ms) of `request` run back to back until `until` settles, and at least `min` times. */
export async function latenciesDuring(until: Promise<unknown>, request: () => Promise<unknown>, min: number): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true)).catch(() => undefined);
  const latencies: number[] = [];
  while (!done || latencies.length < min) latencies.push(await timed(request));
  return latencies;
}
