// Micro-benchmark of the flow recorder: what `record()` costs the request path (a queue push), and what the
// deferred work costs per flow (render + JSON + async write). Bounded: 200 000 flows, well under a minute.
// Run: npx tsc -p . && node dist/bench/observe-record.js
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createFlowRecorder, renderFlow } from '../src/observe/flows.js';
import { httpRequestEvent } from '../test/helpers/observe-flow-fixtures.js';

const BATCH = 50_000; // below the recorder's maxPending, so nothing is dropped
const ROUNDS = 4;
const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-'));
const file = join(dir, 'flows.json');
const event = httpRequestEvent();
const redact = ['authorization', 'cookie', 'set-cookie', 'proxy-authorization', 'x-api-key'];
const elapsedNs = (start: bigint): number => Number(process.hrtime.bigint() - start);

// Warm up the JIT on both paths.
const warm = createFlowRecorder({ target: join(dir, 'warm.json'), redactHeaders: redact });
for (let i = 0; i < 20_000; i++) warm.record(event);
await warm.close();

const renderOpts = { redactHeaders: new Set(redact), nodeName: 'bench' };
let t = process.hrtime.bigint();
let bytes = 0;
for (let i = 0; i < BATCH; i++) bytes += renderFlow(event, renderOpts).length + 1;
const renderNs = elapsedNs(t) / BATCH;

let lost = 0;
const rec = createFlowRecorder({ target: file, redactHeaders: redact, onLost: (n) => (lost += n) });
let recordNs = 0;
let deferredNs = 0;
for (let r = 0; r < ROUNDS; r++) {
  t = process.hrtime.bigint();
  for (let i = 0; i < BATCH; i++) rec.record(event);
  recordNs += elapsedNs(t);
  t = process.hrtime.bigint();
  await rec.flush(); // renders and writes the batch, then one fsync
  deferredNs += elapsedNs(t);
}
await rec.close();
const total = BATCH * ROUNDS;
console.log(JSON.stringify({
  flows: total,
  record_ns_per_call: Math.round(recordNs / total),
  deferred_ns_per_flow: Math.round(deferredNs / total),
  render_and_stringify_ns_per_flow: Math.round(renderNs),
  bytes_per_flow: Math.round(bytes / BATCH),
  lost,
  file_bytes: statSync(file).size,
}));
rmSync(dir, { recursive: true, force: true });
