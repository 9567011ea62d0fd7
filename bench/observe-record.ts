// Micro-benchmark of the flow recorder: what `record()` costs the request path (a queue push), and what the
// deferred work costs per flow (render + JSON + async write). Bounded: a few hundred thousand flows, < 10 s.
// Run: npx tsc -p . && node dist/bench/observe-record.js
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlowRecorder, renderFlow } from '../src/observe/flows.js';
import { httpRequestEvent } from '../test/helpers/observe-flow-fixtures.js';

const BATCH = 500; // below the recorder's per-turn chunk, so one turn renders a whole batch
const ROUNDS = 400;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
const file = join(dir, 'flows.json');
const event = httpRequestEvent();
const redact = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization', 'x-api-key'];

function nsPer(start: bigint, count: number): number {
  return Number(process.hrtime.bigint() - start) / count;
}

// Warm up the JIT on both paths.
const warm = createFlowRecorder({ target: join(dir, 'warm.json'), redactHeaders: redact });
for (let i = 0; i < 20_000; i++) warm.record(event);
await warm.close();

const renderOpts = { redactHeaders: new Set(redact), nodeName: 'bench' };
let t = process.hrtime.bigint();
let bytes = 0;
for (let i = 0; i < BATCH * ROUNDS; i++) bytes += JSON.stringify(renderFlow(event, renderOpts)).length;
const renderNs = nsPer(t, BATCH * ROUNDS);

const rec = createFlowRecorder({ target: file, redactHeaders: redact });
let recordNs = 0;
let drainNs = 0;
for (let r = 0; r < ROUNDS; r++) {
  t = process.hrtime.bigint();
  for (let i = 0; i < BATCH; i++) rec.record(event);
  recordNs += Number(process.hrtime.bigint() - t);
  t = process.hrtime.bigint();
  await new Promise((resolve) => setImmediate(resolve)); // the deferred render + write of this batch
  drainNs += Number(process.hrtime.bigint() - t);
}
await rec.close();
const total = BATCH * ROUNDS;
console.log(JSON.stringify({
  flows: total,
  record_ns_per_call: Math.round(recordNs / total),
  deferred_ns_per_flow: Math.round(drainNs / total),
  render_and_stringify_ns_per_flow: Math.round(renderNs),
  bytes_per_flow: Math.round(bytes / total),
  file_bytes: statSync(file).size,
}));
rmSync(dir, { recursive: true, force: true });
