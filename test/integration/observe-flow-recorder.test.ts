// The flow recorder writing through its asynchronous destination to real files and real pipes.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createFlowRecorder, renderFlow } from '../../src/observe/flows.js';
import { FlowRing } from '../../src/observe/hubble/ring.js';
import { createLogger } from '../../src/observe/logger.js';
import { httpRequestEvent } from '../helpers/observe-flow-fixtures.js';
import { captureLog } from '../helpers/observe-log-capture.js';
import { waitUntil } from '../helpers/wait.js';

const dir = mkdtempSync(join(tmpdir(), 'portcullis-flows-'));
const REDACT = ['authorization', 'cookie'];

function readLines(file: string): Array<{ flow: Record<string, unknown>; node_name: string; time: string }> {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

test('every recorded flow reaches the file, in order, as one JSON object per line', async () => {
  const file = join(dir, 'nested', 'flows.json');
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT, nodeName: 'node-a' });
  for (let i = 0; i < 500; i++) {
    rec.record(httpRequestEvent({ sourcePort: 10000 + i, verdict: i % 2 ? 'DROPPED' : 'FORWARDED' }));
    if (i % 97 === 0) await nextTurn(); // several batches
  }
  await rec.flush();
  const lines = readLines(file);
  assert.equal(lines.length, 500);
  lines.forEach((line, i) => {
    assert.equal(line.node_name, 'node-a');
    assert.equal((line.flow.l4 as { TCP: { source_port: number } }).TCP.source_port, 10000 + i);
    assert.equal(line.flow.verdict, i % 2 ? 'DROPPED' : 'FORWARDED');
  });
  await rec.close();
});

test('a burst is rendered over several turns and keeps its order while more flows arrive', async () => {
  const file = join(dir, 'burst.json');
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT });
  let port = 1;
  for (; port <= 6000; port++) rec.record(httpRequestEvent({ sourcePort: port }));
  for (let turn = 0; turn < 20; turn++) {
    await nextTurn();
    for (let i = 0; i < 100; i++, port++) rec.record(httpRequestEvent({ sourcePort: port }));
  }
  await rec.flush();
  const ports = readLines(file).map((l) => (l.flow.l4 as { TCP: { source_port: number } }).TCP.source_port);
  assert.equal(ports.length, 8000);
  assert.ok(ports.every((p, i) => p === i + 1), 'flows are written exactly once, in recording order');
  await rec.close();
});

test('megabytes of flows reach the file byte for byte as rendered, while the slabs they were written from are reused', async () => {
  const file = join(dir, 'bytes.json');
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT, nodeName: 'node-a' });
  const events = Array.from({ length: 6000 }, (_, i) => httpRequestEvent({ sourcePort: 1 + i, reason: 'x'.repeat(i % 700) }));
  for (let i = 0; i < events.length; i++) {
    rec.record(events[i]!);
    if (i % 500 === 499) await new Promise((resolve) => setTimeout(resolve, 20)); // written out meanwhile
  }
  await rec.flush();
  const expected = events.map((e) => `${renderFlow(e, { redactHeaders: new Set(REDACT), nodeName: 'node-a' })}\n`).join('');
  assert.ok(expected.length > 6 * 1024 * 1024, 'several slabs were filled');
  assert.equal(readFileSync(file, 'utf8'), expected);
  await rec.close();
});

test('small batches are written without an explicit flush', async () => {
  const file = join(dir, 'timed.json');
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT, flushIntervalMs: 50 });
  rec.record(httpRequestEvent());
  rec.record(httpRequestEvent());
  await waitUntil('2 lines in the file', () => readLines(file).length >= 2, 3000);
  assert.equal(readLines(file).length, 2);
  // A batch queued while another is being written must not be stranded below the write threshold.
  rec.record(httpRequestEvent());
  await nextTurn();
  rec.record(httpRequestEvent());
  await waitUntil('4 lines in the file', () => readLines(file).length >= 4, 3000);
  assert.equal(readLines(file).length, 4);
  await rec.close();
});

test('flows past maxPending are dropped and counted at record()', async () => {
  const file = join(dir, 'deferred.json');
  let lost = 0;
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT, maxPending: 10, onLost: (n) => (lost += n) });
  for (let i = 0; i < 15; i++) rec.record(httpRequestEvent());
  assert.equal(lost, 5, 'events past maxPending in one turn are dropped and counted');
  await rec.flush();
  assert.equal(readLines(file).length, 10);
  await rec.close();
});

test('a flow larger than the write buffer bound is dropped and counted; the others are written', async () => {
  const file = join(dir, 'bounded.json');
  let lost = 0;
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT, maxBufferBytes: 4096, onLost: (n) => (lost += n) });
  const huge = httpRequestEvent({
    l7: { type: 'REQUEST', http: { method: 'GET', url: 'http://h/', protocol: 'HTTP/1.1', headers: [['x-big', 'x'.repeat(10_000)]] } },
  });
  rec.record(httpRequestEvent({ sourcePort: 1 }));
  rec.record(huge);
  rec.record(httpRequestEvent({ sourcePort: 3 }));
  await rec.flush();
  assert.equal(lost, 1);
  const ports = readLines(file).map((l) => (l.flow.l4 as { TCP: { source_port: number } }).TCP.source_port);
  assert.deepEqual(ports, [1, 3]);
  await rec.close();
});

test('flush waits for a slow writer rather than dropping a large backlog', async () => {
  const file = join(dir, 'backlog.json');
  let lost = 0;
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT, maxBufferBytes: 1024 * 1024, onLost: (n) => (lost += n) });
  for (let i = 0; i < 20_000; i++) rec.record(httpRequestEvent());
  await rec.flush();
  assert.equal(lost, 0);
  assert.equal(readLines(file).length, 20_000);
  await rec.close();
});

test('flush writes the tail that arrives while a write is in flight', async () => {
  const file = join(dir, 'tail.json');
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT });
  rec.record(httpRequestEvent());
  await rec.flush(); // the file is open, so the next batch starts writing as soon as it passes 64 KiB
  // A little over 64 KiB of flows: the first write starts mid-batch, and the last few flows are buffered behind it.
  for (let i = 0; i < 50; i++) rec.record(httpRequestEvent({ sourcePort: 2000 + i }));
  await rec.flush();
  const ports = readLines(file).map((l) => (l.flow.l4 as { TCP: { source_port: number } }).TCP.source_port);
  assert.equal(ports.length, 51);
  assert.deepEqual(ports.slice(1), Array.from({ length: 50 }, (_, i) => 2000 + i));
  await rec.close();
});

test('a malformed event costs one record, is logged, and does not stop the batch', async () => {
  const file = join(dir, 'malformed.json');
  const logged = captureLog();
  const log = createLogger({ destination: logged.stream });
  let lost = 0;
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT, log, onLost: (n) => (lost += n) });
  rec.record(httpRequestEvent({ sourcePort: 1 }));
  rec.record(httpRequestEvent({ time: new Date(Number.NaN) }));
  rec.record(httpRequestEvent({ sourcePort: 3 }));
  await rec.flush();
  const ports = readLines(file).map((l) => (l.flow.l4 as { TCP: { source_port: number } }).TCP.source_port);
  assert.deepEqual(ports, [1, 3]);
  assert.equal(lost, 1);
  assert.match(logged.text(), /flow record could not be rendered/);
  await rec.close();
});

test('the onLine sink (the Hubble ring) gets each written line once, the file\'s very bytes, and none for a flow that failed to render', async () => {
  const file = join(dir, 'sink.json');
  const ring = new FlowRing(8192);
  const calls: number[] = [];
  const rec = createFlowRecorder({
    target: file, redactHeaders: REDACT, redactQuery: true, nodeName: 'node-a', log: createLogger({ level: 'silent' }),
    onLine: (line, timeMs) => {
      calls.push(timeMs);
      ring.push(line, timeMs);
    },
  });
  const headers: Array<[string, string]> = [['authorization', 'Bearer secret'], ['cookie', 'c=1']];
  // Megabytes, written out as they go: the slabs are reused meanwhile, and the ring's copies must not change with them.
  const sent = 6000;
  for (let i = 0; i < sent; i++) {
    const time = new Date(1_700_000_000_000 + i);
    if (i === 1234) rec.record(httpRequestEvent({ time: new Date(Number.NaN) })); // cannot be rendered
    rec.record(httpRequestEvent({ sourcePort: 1 + i, time, l7: { type: 'REQUEST', http: { method: 'GET', url: `http://deathstar/v1/${'x'.repeat(300)}?token=${i}`, protocol: 'HTTP/1.1', headers } } }));
    if (i % 500 === 499) await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await rec.flush();
  const written = readFileSync(file);
  assert.ok(written.length > 6 * 1024 * 1024, `${written.length} bytes`);
  assert.equal(calls.length, sent, 'once per written line, not for the malformed flow');
  assert.deepEqual(calls, Array.from({ length: sent }, (_, i) => 1_700_000_000_000 + i));
  const fromRing = Buffer.concat(Array.from({ length: sent }, (_, n) => Buffer.concat([ring.line(n)!, Buffer.from('\n')])));
  assert.ok(fromRing.equals(written), 'the ring holds the flow file\'s records byte for byte');
  assert.doesNotMatch(written.toString(), /Bearer secret|token=1\b/, 'redacted once, for both');
  await rec.close();
});

test('close drains, closes the file, ignores later records and is idempotent', async () => {
  const file = join(dir, 'closed.json');
  const rec = createFlowRecorder({ target: file, redactHeaders: REDACT });
  rec.record(httpRequestEvent());
  await Promise.all([rec.close(), rec.close()]);
  rec.record(httpRequestEvent());
  await rec.flush();
  await new Promise((r) => setTimeout(r, 50)); // the point: a record after close is never written, even later
  assert.equal(readLines(file).length, 1);
});

test('an unusable path fails at creation with the reason', () => {
  const blocker = join(dir, 'a-file');
  writeFileSync(blocker, '');
  assert.throws(
    () => createFlowRecorder({ target: join(blocker, 'flows.json'), redactHeaders: REDACT }),
    /flows: cannot write flow records to .*a-file\/flows\.json: E[A-Z]+/,
  );
});

const flowsModule = fileURLToPath(new URL('../../src/observe/flows.js', import.meta.url));
const fixturesModule = fileURLToPath(new URL('../helpers/observe-flow-fixtures.js', import.meta.url));

/** Runs a child that records flows to its stdout; returns its exit code, stderr and what it printed. */
function runChild(script: string, onStdout: (chunk: Buffer, stop: () => void) => void, env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'], env });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c));
  child.stdout.on('data', (c: Buffer) => {
    stdout += c;
    onStdout(c, () => child.stdout.destroy());
  });
  const timer = setTimeout(() => child.kill(), 10_000);
  return new Promise<{ code: number | null; stderr: string; stdout: string }>((resolve) => {
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr, stdout });
    });
  });
}

const childPrelude = `
  const { createFlowRecorder } = await import(${JSON.stringify(flowsModule)});
  const { httpRequestEvent } = await import(${JSON.stringify(fixturesModule)});
  const rec = createFlowRecorder({ target: 'stdout', redactHeaders: ['authorization'], flushIntervalMs: 20 });
`;

test('stdout target: flows arrive on the process stdout', async () => {
  const { code, stdout, stderr } = await runChild(
    `${childPrelude}
     for (let i = 0; i < 3; i++) rec.record(httpRequestEvent({ sourcePort: 100 + i }));
     await rec.close();`,
    () => {},
  );
  assert.equal(code, 0, stderr);
  const ports = stdout.trim().split('\n').map((l) => JSON.parse(l).flow.l4.TCP.source_port);
  assert.deepEqual(ports, [100, 101, 102]);
});

test('a reader that goes away (EPIPE) does not crash the recorder or the process', async () => {
  const { code, stderr } = await runChild(
    `${childPrelude}
     const end = Date.now() + 600;
     while (Date.now() < end) {
       for (let i = 0; i < 200; i++) rec.record(httpRequestEvent());
       await new Promise((r) => setTimeout(r, 5));
     }
     await rec.flush();
     await rec.close();
     process.stderr.write('child finished\\n');`,
    (_chunk, stop) => stop(),
  );
  assert.equal(code, 0, stderr);
  assert.match(stderr, /child finished/);
  assert.doesNotMatch(stderr, /Error|EPIPE/);
});

test('a reader that stalls: flows queue up to maxPending, the excess is counted, nothing else is lost', async () => {
  const total = 40_000;
  let resumed = false;
  const child = spawn(process.execPath, ['--input-type=module', '-e', `${childPrelude.replace(
    "flushIntervalMs: 20 }",
    "flushIntervalMs: 20, maxPending: 2000, maxBufferBytes: 256 * 1024, onLost: (n) => { lost += n; } }",
  ).replace('const rec', 'let lost = 0;\n  const rec')}
     for (let turn = 0; turn < ${total / 1000}; turn++) {
       for (let i = 0; i < 1000; i++) rec.record(httpRequestEvent());
       await new Promise((r) => setTimeout(r, 10));
     }
     process.stderr.write('lost=' + lost + '\\n');
     await rec.close();`], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.pause(); // the reader stalls: the pipe fills and the child's writes wait
  let stderr = '';
  let lines = 0;
  let partial = '';
  child.stderr.on('data', (c: Buffer) => {
    stderr += c;
    if (!resumed && stderr.includes('lost=')) {
      resumed = true;
      child.stdout.on('data', (d: Buffer) => {
        const text = partial + d.toString();
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        lines += parts.length;
      });
      child.stdout.resume();
    }
  });
  const timer = setTimeout(() => child.kill(), 30_000);
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  clearTimeout(timer);
  assert.equal(code, 0, stderr);
  const lost = Number(/lost=(\d+)/.exec(stderr)?.[1]);
  assert.ok(lost > 0, `a stalled reader must cost flows (lost=${lost})`);
  assert.equal(lines + lost, total, `written ${lines} + lost ${lost}`);
});

// SonicBoom opens a file asynchronously, at creation and on reopen: flushing or closing meanwhile used to throw a
// TypeError from an fs callback (the process died with a stack trace), and ending a file that failed to open hung.
test('flush, reopen and close while the file is still opening: nothing thrown, nothing lost, nothing hangs', async () => {
  const file = (name: string) => JSON.stringify(join(dir, 'opening', name));
  const { code, stdout, stderr } = await runChild(
    `const { createFlowRecorder } = await import(${JSON.stringify(flowsModule)});
     const { httpRequestEvent } = await import(${JSON.stringify(fixturesModule)});
     const { rmSync, writeFileSync } = await import('node:fs');
     const open = (name) => createFlowRecorder({ target: name, redactHeaders: [] });
     await open(${file('closed-at-once.json')}).close();
     const a = open(${file('flushed-at-once.json')});
     a.record(httpRequestEvent({ sourcePort: 1 }));
     await a.flush();
     a.reopen();
     a.record(httpRequestEvent({ sourcePort: 2 }));
     await a.flush();
     a.reopen();
     a.reopen();
     a.record(httpRequestEvent({ sourcePort: 3 }));
     await a.close();
     // The folder swapped for a file between the start-up check and the asynchronous open: the open fails. The
     // one thread of libuv's pool is kept busy meanwhile, so SonicBoom's own mkdir cannot recreate the folder first.
     const { pbkdf2 } = await import('node:crypto');
     const poolBusy = new Promise((resolve) => pbkdf2('p', 's', 2_000_000, 32, 'sha256', resolve));
     const b = open(${file('sub/never-opens.json')});
     rmSync(${JSON.stringify(join(dir, 'opening', 'sub'))}, { recursive: true });
     writeFileSync(${JSON.stringify(join(dir, 'opening', 'sub'))}, '');
     await poolBusy;
     b.record(httpRequestEvent());
     await b.flush();
     await b.close();
     process.stdout.write('child finished\\n');`,
    () => {},
    { ...process.env, UV_THREADPOOL_SIZE: '1' },
  );
  assert.equal(code, 0, stderr);
  assert.equal(stdout, 'child finished\n', stderr);
  assert.doesNotMatch(stderr, /Error|at /);
  assert.equal(readLines(join(dir, 'opening', 'closed-at-once.json')).length, 0);
  const ports = readLines(join(dir, 'opening', 'flushed-at-once.json')).map((l) => (l.flow.l4 as { TCP: { source_port: number } }).TCP.source_port);
  assert.deepEqual(ports, [1, 2, 3]);
});
