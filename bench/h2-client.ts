// bench/h2-client: client CPU per request of the lean HTTP/2 client vs node:http2's ClientHttp2Session.request,
// against the same node:http2 server running in its own process. Each request is shaped like a unary gRPC
// call: POST with a 10-byte body, a 10-byte response and trailers; 50 in flight on one connection.
//   npm run bench:h2-client      (BENCH_REQUESTS=20000 per measurement, BENCH_ROUNDS=3)
// CPU is process.cpuUsage() (user + system) of this process only; the machine is shared and noisy, so the
// clients alternate and the median of the rounds is reported.
import { spawn } from 'node:child_process';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { H2ClientSession, type H2ClientStream, type H2ResponseHandler } from '../src/protocols/http/h2/wire/client.js';

const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 20_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IN_FLIGHT = 50;
const WARMUP = 5000;
const REQUEST_BODY = Buffer.from([0, 0, 0, 0, 5, 0x0a, 3, 0x61, 0x62, 0x63]);
const RESPONSE_BODY = Buffer.from([0, 0, 0, 0, 5, 0x0a, 3, 0x78, 0x79, 0x7a]);

function runServer(): void {
  const server = http2.createServer();
  server.on('stream', (stream) => {
    stream.on('data', () => {});
    stream.on('end', () => {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': '' }));
      stream.end(RESPONSE_BODY);
    });
  });
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${(server.address() as AddressInfo).port}\n`));
  process.on('SIGTERM', () => process.exit(0));
}

/** Runs `total` requests with IN_FLIGHT outstanding; resolves when all have ended. */
type Runner = (total: number) => Promise<void>;

function leanRunner(port: number): { run: Runner; close(): void } {
  const session = H2ClientSession.connect({ host: '127.0.0.1', port, connectTimeoutMs: 5000, initialWindowSize: 1 << 20, connectionWindowSize: 16 << 20 });
  const headers: Array<[string, string]> = [
    [':method', 'POST'], [':scheme', 'http'], [':authority', `127.0.0.1:${port}`], [':path', '/bench.Service/Unary'],
    ['content-type', 'application/grpc'], ['te', 'trailers'],
  ];
  let started = 0;
  let finished = 0;
  let total = 0;
  let done: () => void = () => {};
  class Call implements H2ResponseHandler {
    stream!: H2ClientStream;
    status = 0;
    bytes = 0;
    trailers = false;
    onResponse(status: number): void {
      this.status = status;
    }
    onData(chunk: Buffer): void {
      this.bytes += chunk.length;
      this.stream.consumed(chunk.length);
    }
    onTrailers(): void {
      this.trailers = true;
    }
    onEnd(): void {}
    onClose(code: number, err: Error | undefined): void {
      if (code !== 0 || err) throw err ?? new Error(`stream closed with ${code}`);
      if (this.status !== 200 || this.bytes !== RESPONSE_BODY.length || !this.trailers) throw new Error('incomplete response');
      if (++finished === total) done();
      else if (started < total) next();
    }
    onDrain(): void {}
  }
  const next = () => {
    started++;
    const call = new Call();
    call.stream = session.request(headers, false, call);
    call.stream.end(REQUEST_BODY);
  };
  return {
    run: (n) =>
      new Promise<void>((resolve) => {
        started = finished = 0;
        total = n;
        done = resolve;
        for (let i = 0; i < IN_FLIGHT; i++) next();
      }),
    close: () => session.close(),
  };
}

function nodeRunner(port: number): { run: Runner; close(): void } {
  const session = http2.connect(`http://127.0.0.1:${port}`, { settings: { initialWindowSize: 1 << 20 } });
  session.on('connect', () => session.setLocalWindowSize(16 << 20));
  let started = 0;
  let finished = 0;
  let total = 0;
  let done: () => void = () => {};
  const next = () => {
    started++;
    const req = session.request({ ':method': 'POST', ':path': '/bench.Service/Unary', 'content-type': 'application/grpc', te: 'trailers' });
    let status = 0;
    let bytes = 0;
    let trailers = false;
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('trailers', () => (trailers = true));
    req.on('close', () => {
      if (req.rstCode !== 0) throw new Error(`stream closed with ${req.rstCode}`);
      if (status !== 200 || bytes !== RESPONSE_BODY.length || !trailers) throw new Error('incomplete response');
      if (++finished === total) done();
      else if (started < total) next();
    });
    req.end(REQUEST_BODY);
  };
  return {
    run: (n) =>
      new Promise<void>((resolve) => {
        started = finished = 0;
        total = n;
        done = resolve;
        for (let i = 0; i < IN_FLIGHT; i++) next();
      }),
    close: () => session.close(),
  };
}

async function measure(run: Runner): Promise<{ cpuUs: number; rps: number }> {
  const cpu = process.cpuUsage();
  const start = process.hrtime.bigint();
  await run(REQUESTS);
  const wallS = Number(process.hrtime.bigint() - start) / 1e9;
  const used = process.cpuUsage(cpu);
  return { cpuUs: (used.user + used.system) / REQUESTS, rps: REQUESTS / wallS };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  const server = spawn(process.execPath, [fileURLToPath(import.meta.url), 'server'], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => server.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    const clients = { lean: leanRunner(port), 'node:http2': nodeRunner(port) };
    const results: Record<string, Array<{ cpuUs: number; rps: number }>> = { lean: [], 'node:http2': [] };
    for (const c of Object.values(clients)) await c.run(WARMUP);
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, c] of Object.entries(clients)) {
        const r = await measure(c.run);
        results[name]!.push(r);
        process.stderr.write(`round ${round + 1} ${name}: ${r.cpuUs.toFixed(1)} us CPU/request, ${Math.round(r.rps)} req/s\n`);
      }
    }
    for (const c of Object.values(clients)) c.close();
    console.log(`\n${REQUESTS} unary-shaped POSTs x ${ROUNDS} rounds, ${IN_FLIGHT} in flight, one connection; median of rounds`);
    console.log('client        CPU us/request   req/s');
    for (const [name, rs] of Object.entries(results)) {
      console.log(`${name.padEnd(12)}  ${median(rs.map((r) => r.cpuUs)).toFixed(1).padStart(14)}   ${Math.round(median(rs.map((r) => r.rps)))}`);
    }
    const ratio = median(results.lean!.map((r) => r.cpuUs)) / median(results['node:http2']!.map((r) => r.cpuUs));
    console.log(`\nlean / node:http2 CPU per request: ${(ratio * 100).toFixed(0)}%`);
  } finally {
    server.kill('SIGTERM');
  }
}

if (process.argv[2] === 'server') runServer();
else await main();
