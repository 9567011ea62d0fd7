// Portcullis with several worker counts side by side in one bench run (issue #16): BENCH_WORKERS, the
// `portcullis run` arguments for a count, the variant's name, and the ratio of its cost to one worker's.

/**
 * BENCH_WORKERS: the worker counts each Portcullis variant runs with (a comma list, default `1,2`). It must hold 1:
 * one worker is what the other counts' costs are compared with, and what the benches' existing targets are about.
 */
export function benchWorkerCounts(value = process.env.BENCH_WORKERS ?? '1,2'): number[] {
  const counts = [...new Set(value.split(',').map((v) => Number(v.trim())))];
  if (counts.some((n) => !Number.isInteger(n) || n < 1) || !counts.includes(1)) throw new Error(`BENCH_WORKERS=${value}: a comma list of worker counts >= 1 that holds 1`);
  return counts.sort((a, b) => a - b);
}

export interface WorkerVariant {
  /** `base` for one worker, so existing names (and the targets that look them up) stay; `base, N workers` else. */
  readonly name: string;
  readonly base: string;
  readonly workers: number;
  /** Arguments for `portcullis run`: the count is always explicit, as the configuration's default may be `auto`. */
  readonly args: readonly string[];
}

/** One variant of `base` per worker count. */
export function workerVariants(base: string, counts: readonly number[]): WorkerVariant[] {
  return counts.map((workers) => ({ name: workers === 1 ? base : `${base}, ${workers} workers`, base, workers, args: ['--workers', String(workers)] }));
}

/** The cost per request may rise by at most this factor from 1 to 2 workers (issue #16). */
export const MAX_COST_RISE = 1.1;

/**
 * For each variant with more than one worker: its CPU cost per unit of work (µs per request, s per GB) over its
 * 1-worker sibling's, both for the whole process tree (primary and workers). `PASS`/`MISS` against MAX_COST_RISE.
 */
export function printWorkerCostRatios(rows: ReadonlyArray<{ readonly variant: WorkerVariant; readonly cost: number }>, unit: string): void {
  const multi = rows.filter((r) => r.variant.workers > 1);
  if (multi.length === 0) return;
  console.log(`\nworkers: CPU ${unit} of the whole process tree with N workers / with 1 (target <= ${MAX_COST_RISE.toFixed(2)} for 2)`);
  for (const r of multi) {
    const one = rows.find((o) => o.variant.base === r.variant.base && o.variant.workers === 1)!;
    const ratio = r.cost / one.cost;
    const verdict = r.variant.workers === 2 ? (ratio <= MAX_COST_RISE ? 'PASS' : 'MISS') : '    ';
    console.log(`${verdict}  ${r.variant.name}: ${ratio.toFixed(2)} x (${one.cost.toFixed(1)} -> ${r.cost.toFixed(1)} ${unit})`);
  }
}
