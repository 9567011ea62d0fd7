// `portcullis observe` as an operator runs it (the built CLI), on flow files a real proxy wrote: Star Wars traffic
// from curl (an allowed request, an L7 denial, an L3 drop). Every output format, every filter, stdin, bad lines,
// mistyped flags, and -f on a file that grows and is rotated (moved away, reopened by the proxy on SIGHUP).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { appendFileSync, copyFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { packageFile } from '../../src/package-root.js';
import { cli, curl, startStarWars, TIEFIGHTER, XWING, type StarWarsFixture } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const MAIN = packageFile('dist', 'src', 'cli', 'main.js');
const TIME = String.raw`[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d\.\d{3}`;
const ALLOWED = new RegExp(String.raw`^${TIME}: default/tiefighter:\d+ \(ID:\d+\) -> default/deathstar:80 \(ID:\d+\) http-request FORWARDED \(HTTP/1\.1 POST http://[^ ]+/v1/request-landing\) rule: \S+sw_l3_l4_l7_policy\.yaml:\d+$`);
const RESPONSE = new RegExp(String.raw`^${TIME}: default/tiefighter:\d+ \(ID:\d+\) <- default/deathstar:80 \(ID:\d+\) http-response FORWARDED \(HTTP/1\.1 200 \d+ms \(POST http://[^ ]+/v1/request-landing\)\)$`);
const DENIED = new RegExp(String.raw`^${TIME}: default/tiefighter:\d+ \(ID:\d+\) -> default/deathstar:80 \(ID:\d+\) http-request DROPPED \(HTTP/1\.1 PUT http://[^ ]+/v1/exhaust-port\) rule: \S+sw_l3_l4_l7_policy\.yaml:\d+ reason: L7: no http rule matched PUT /v1/exhaust-port`);
const L3_DROP = new RegExp(String.raw`^${TIME}: default/xwing:\d+ \(ID:\d+\) -> default/deathstar:80 \(ID:\d+\) Policy denied DROPPED reason: no ingress rule of default/deathstar allows default/xwing on port 80`);

/** The three requests every file here records. */
async function traffic(url: string): Promise<void> {
  assert.equal((await curl(['--interface', TIEFIGHTER, '-XPOST', `${url}/v1/request-landing`])).stdout, 'Ship landed\n');
  assert.equal((await curl(['--interface', TIEFIGHTER, '-XPUT', `${url}/v1/exhaust-port`])).stdout, 'Access denied\r\n');
  assert.notEqual((await curl(['--interface', XWING, '-XPOST', `${url}/v1/request-landing`])).code, 0);
}

/** Output lines, without the final newline's empty one. */
const lines = (text: string): string[] => text.split('\n').slice(0, -1);

describe('portcullis observe on a flow file', { timeout: 60_000 }, () => {
  let sw: StarWarsFixture;
  let file: string;
  let records: string[];
  before(async () => {
    sw = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml' });
    await traffic(sw.url);
    await waitUntil('the L3 drop recorded', async () => (await sw.flows()).some((r) => r.flow.Type === 'L3_L4'));
    // A copy: what the tests read does not change under them.
    file = join(sw.dir, 'observed.jsonl');
    copyFileSync(sw.flowsFile, file);
    records = lines(readFileSync(file, 'utf8'));
  });
  after(() => sw?.close());

  test('compact (the default): one hubble-style line per record, with the deciding rule and reason', async () => {
    const r = await cli(['observe', file]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const out = lines(r.stdout);
    assert.equal(out.length, records.length);
    for (const pattern of [ALLOWED, RESPONSE, DENIED, L3_DROP]) assert.ok(out.some((l) => pattern.test(l)), `${pattern} in\n${r.stdout}`);
  });

  test('json: the records byte for byte; --last n: the last n', async () => {
    const r = await cli(['observe', file, '-o', 'json']);
    assert.equal(r.stdout, `${records.join('\n')}\n`);
    const last = await cli(['observe', file, '-o', 'json', '--last', '2']);
    assert.equal(last.stdout, `${records.slice(-2).join('\n')}\n`);
    const none = await cli(['observe', file, '--last', '0']);
    assert.equal(none.stdout, '');
  });

  test('--last defaults to 20', async () => {
    const many = join(sw.dir, 'many.jsonl');
    writeFileSync(many, `${Array.from({ length: 30 }, (_, i) => records[i % records.length]).join('\n')}\n`);
    assert.equal(lines((await cli(['observe', many])).stdout).length, 20);
  });

  test('table: a header and aligned columns', async () => {
    const r = await cli(['observe', file, '-o', 'table']);
    const out = lines(r.stdout);
    assert.match(out[0]!, /^TIME {3,}SOURCE {3,}DESTINATION {3,}TYPE {3,}VERDICT {3,}SUMMARY$/);
    assert.equal(out.length, records.length + 1);
    const verdictAt = out[0]!.indexOf('VERDICT');
    for (const row of out.slice(1)) assert.match(row.slice(verdictAt), /^(FORWARDED|DROPPED) /, row);
    assert.ok(out.some((l) => /default\/xwing:\d+ +default\/deathstar:80 +Policy denied +DROPPED +reason: /.test(l)), r.stdout);
  });

  test('filters: each flag, OR within a flag, AND across flags', async () => {
    const observe = async (...args: string[]): Promise<string[]> => {
      const r = await cli(['observe', file, ...args]);
      assert.equal(r.code, 0, r.stderr);
      return lines(r.stdout);
    };
    const has = (out: string[], pattern: RegExp): boolean => out.some((l) => pattern.test(l));
    const dropped = await observe('--verdict', 'DROPPED');
    assert.ok(has(dropped, DENIED) && has(dropped, L3_DROP) && dropped.every((l) => / DROPPED /.test(l)), dropped.join('\n'));
    assert.equal((await observe('--verdict', 'dropped', '--verdict', 'forwarded')).length, records.length);
    for (const from of ['xwing', 'default/xwing', 'class=xwing', 'k8s:org=alliance', XWING]) {
      const out = await observe('--from', from);
      assert.ok(out.length > 0 && out.every((l) => L3_DROP.test(l)), `--from ${from}: ${out.join('\n')}`);
    }
    const toDeathstar = await observe('--to', 'deathstar');
    assert.ok(toDeathstar.length > 0 && !has(toDeathstar, RESPONSE) && has(toDeathstar, ALLOWED), toDeathstar.join('\n'));
    assert.ok(has(await observe('--from', 'deathstar'), RESPONSE), 'a response comes from deathstar');
    assert.equal((await observe('--listener', 'deathstar-http')).length, records.length);
    assert.deepEqual(await observe('--listener', 'other'), []);
    const http = await observe('--protocol', 'http');
    assert.ok(has(http, ALLOWED) && !has(http, L3_DROP));
    const tcp = await observe('--protocol', 'tcp');
    assert.ok(tcp.length > 0 && tcp.every((l) => L3_DROP.test(l)), tcp.join('\n'));
    assert.deepEqual(await observe('--protocol', 'kafka'), []);
    assert.deepEqual(await observe('--protocol', 'grpc', '--protocol', 'tls'), []);
    const ok = await observe('--http-status', '2xx');
    assert.ok(ok.length > 0 && ok.every((l) => RESPONSE.test(l)), ok.join('\n'));
    assert.deepEqual(await observe('--http-status', '200'), ok);
    assert.deepEqual(await observe('--type', 'l3-l4'), tcp);
    const deniedL7 = await observe('--verdict', 'DROPPED', '--type', 'l7');
    assert.ok(deniedL7.length > 0 && deniedL7.every((l) => DENIED.test(l)), deniedL7.join('\n'));
    // --last counts the flows that pass the filters.
    assert.equal((await observe('--verdict', 'FORWARDED', '--last', '1')).length, 1);
  });

  test('stdin (-): every line as it comes', async () => {
    const child = spawn(process.execPath, [MAIN, 'observe', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stdin.write(`${records[0]}\n`);
    await waitUntil('the first line printed', () => stdout.includes('\n'), 5000);
    child.stdin.end(`${records.slice(1).join('\n')}\n`);
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0);
    assert.equal(stdout, (await cli(['observe', file, '--last', String(records.length)])).stdout);
  });

  test('lines that are not flow records: skipped with a warning each (at most 10), never a crash; lost records are reported', async () => {
    const mixed = join(sw.dir, 'mixed.jsonl');
    writeFileSync(mixed, `not json\n${records[0]}\n{"a":1}\n[1,2]\n{"lost_events":{"num_events_lost":3}}\n${records[1]}\n{"flow":{"time":`);
    const r = await cli(['observe', mixed]);
    assert.equal(r.code, 0);
    assert.equal(lines(r.stdout).length, 2);
    const warnings = lines(r.stderr);
    // The unterminated last line is a record still being written: neither shown nor warned about.
    assert.equal(warnings.filter((l) => /^portcullis observe: skipped a line that is (not JSON|not a flow record): /.test(l)).length, 3, r.stderr);
    assert.equal(warnings.length, 4, r.stderr);
    assert.ok(warnings.includes('portcullis observe: 3 flow records were lost: this watcher fell behind the proxy'), r.stderr);

    const bad = join(sw.dir, 'bad.jsonl');
    writeFileSync(bad, 'garbage\n'.repeat(50));
    const many = await cli(['observe', bad, '--last', '100']);
    assert.equal(many.code, 0);
    assert.equal(lines(many.stderr).length, 11, many.stderr);
    assert.match(many.stderr, /more lines that are not flow records are skipped without a warning\n$/);
  });

  test('mistyped values: one line naming what is accepted, and the help hint; exit 1', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--verdict', 'denied'], /argument 'denied' is invalid\. expected one of FORWARDED, DROPPED, ERROR, AUDIT/],
      [['--protocol', 'ftp'], /argument 'ftp' is invalid\. expected one of http, grpc, kafka, tls, tcp/],
      [['--http-status', '99'], /argument '99' is invalid\. expected a status code \(403\) or a class \(5xx\)/],
      [['--type', 'l9'], /argument 'l9' is invalid\. expected one of l7, l3-l4/],
      [['-o', 'yaml'], /argument 'yaml' is invalid\. Allowed choices are compact, json, table/],
      [['--last', 'ten'], /argument 'ten' is invalid\. expected a whole number of flows/],
      [['--from', ' '], /expected a name, namespace\/name, label k=v or IP address/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(['observe', file, ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stdout, '');
      const err = lines(r.stderr);
      assert.equal(err.length, 2, r.stderr);
      assert.match(err[0]!, message);
      assert.equal(err[1], "(run 'portcullis observe --help' for usage)");
    }
    const missing = await cli(['observe', join(sw.dir, 'nope.jsonl')]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^portcullis observe: cannot read \S+nope\.jsonl: no such file\n$/);
  });
});

describe('portcullis observe -f: a growing, rotated flow file', { timeout: 60_000 }, () => {
  let sw: StarWarsFixture;
  before(async () => {
    sw = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml' });
  });
  after(() => sw?.close());

  test('prints records as the proxy appends them, across a rotation (moved away, SIGHUP reopens), and exits 0 on SIGINT', async () => {
    await traffic(sw.url);
    await sw.flows();
    const before = lines(readFileSync(sw.flowsFile, 'utf8')).length;
    const child = spawn(process.execPath, [MAIN, 'observe', '-f', sw.flowsFile, '--verdict', 'DROPPED', '--type', 'l7'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    try {
      // With -f and no --last, only what is recorded from now on.
      await new Promise((resolve) => setTimeout(resolve, 500));
      assert.equal(stdout, '', 'nothing recorded before the start is printed');
      await traffic(sw.url);
      await sw.flows();
      await waitUntil('the new denial printed', () => lines(stdout).length === 1, 5000);
      assert.match(lines(stdout)[0]!, DENIED);

      // Rotation: the file is moved away, the proxy reopens its path (SIGHUP), new records go to the new file.
      renameSync(sw.flowsFile, `${sw.flowsFile}.1`);
      sw.proxy.reload('SIGHUP');
      await traffic(sw.url);
      await sw.flows();
      assert.ok(lines(readFileSync(sw.flowsFile, 'utf8')).length > 0, 'the proxy writes the new file');
      await waitUntil('the denial after rotation printed', () => lines(stdout).length === 2, 5000);
      assert.match(lines(stdout)[1]!, DENIED);

      // A line appended in two writes is printed once whole.
      const record = lines(readFileSync(`${sw.flowsFile}.1`, 'utf8')).find((l) => l.includes('"PUT"'))!;
      appendFileSync(sw.flowsFile, record.slice(0, 100));
      await new Promise((resolve) => setTimeout(resolve, 400));
      appendFileSync(sw.flowsFile, `${record.slice(100)}\n`);
      await waitUntil('the split line printed', () => lines(stdout).length === 3, 5000);
      assert.match(lines(stdout)[2]!, DENIED);
    } finally {
      child.kill('SIGINT');
    }
    const [code] = (await once(child, 'exit')) as [number];
    assert.equal(code, 0, stderr);
    assert.equal(stderr, '');
    assert.ok(before > 0);
  });
});
