// Micro-benchmark of Portcullis' HTTP/1.1 head parser: ns per parse (findHeadEnd + parseRequestHead) of a typical
// 8-header request head, beside llhttp (Node's parser, in-process through a Node internal) on the same bytes.
// Bounded: ITERATIONS per round, best of ROUNDS.
//   npx tsc -p . && node dist/bench/h1-parse.js
import { HeadError, findHeadEnd, parseRequestHead } from '../src/protocols/http/h1/head-parser.js';
import { llhttpRequestParser } from '../test/helpers/llhttp.js';

const ITERATIONS = Number(process.env.BENCH_ITERATIONS ?? 500_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

const HEAD = Buffer.from(
  'GET /v1/request-landing?ship=tiefighter HTTP/1.1\r\n' +
    'Host: deathstar.empire.svc.cluster.local\r\n' +
    'User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36\r\n' +
    'Accept: application/json, text/plain, */*\r\n' +
    'Accept-Encoding: gzip, deflate, br\r\n' +
    'Accept-Language: en-US,en;q=0.9\r\n' +
    'Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0aWVmaWdodGVyIn0.c2lnbmF0dXJl\r\n' +
    'X-Request-Id: 6f1c2a9e-43b1-4c55-9a1e-2f3b7c9d0e11\r\n' +
    'Connection: keep-alive\r\n\r\n',
  'latin1',
);

function portcullis(): void {
  const end = findHeadEnd(HEAD, 0, 16384);
  if (typeof end !== 'number' || end === -1) throw new Error('no head end');
  const head = parseRequestHead(HEAD, 0, end, 100);
  if (head instanceof HeadError) throw new Error(head.reason);
}

/** llhttp as node:http runs it (strict), its callbacks building what the proxy would need. */
function llhttp(): () => void {
  const { parser, messages } = llhttpRequestParser(16384);
  return () => {
    const r = parser.execute(HEAD);
    if (typeof r !== 'number' || messages.length !== 1) throw new Error('llhttp failed');
    messages.length = 0;
  };
}

function measure(name: string, run: () => void): void {
  for (let i = 0; i < 20_000; i++) run();
  let best = Infinity;
  for (let round = 0; round < ROUNDS; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < ITERATIONS; i++) run();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / ITERATIONS);
  }
  console.log(`${name}: ${best.toFixed(0)} ns per ${HEAD.length}-byte 8-header request head (best of ${ROUNDS} x ${ITERATIONS})`);
}

measure('portcullis findHeadEnd + parseRequestHead', portcullis);
measure('llhttp (node:http parser, strict)', llhttp());
