// BENCH_WORKERS chooses the worker counts bench:http1, bench:grpc, bench:kafka and bench:workers run side by side;
// 1 must be among them, as every other count's cost is reported relative to it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { benchWorkerCounts, workerVariants } from '../../bench/lib/workers.js';

test('BENCH_WORKERS is a comma list holding 1, deduplicated and sorted', () => {
  assert.deepEqual(benchWorkerCounts('1,2'), [1, 2]);
  assert.deepEqual(benchWorkerCounts(' 4, 1,2,4'), [1, 2, 4]);
  for (const bad of ['2', '0,1', '1,x', '1,1.5', '']) assert.throws(() => benchWorkerCounts(bad), /BENCH_WORKERS/, bad);
});

test('the 1-worker variant keeps the base name the targets look up; every variant names its count for portcullis run', () => {
  assert.deepEqual(
    workerVariants('flows off', [1, 2]).map((v) => [v.name, v.args]),
    [
      ['flows off', ['--workers', '1']],
      ['flows off, 2 workers', ['--workers', '2']],
    ],
  );
});
