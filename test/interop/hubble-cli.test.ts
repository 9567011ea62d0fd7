// The real `hubble` CLI (cilium v1.20.2, scripts/install-hubble.sh) against Portcullis' Hubble server, on real
// traffic through the Star Wars demo (curl from tiefighter: one allowed request, one denied by L7 rules; from
// xwing: an L3 drop): listing, filters, --last, --since, follow, status, and `-o json` equal to Portcullis' own
// flow records.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { after, before, test } from 'node:test';
import { HUBBLE, hubble, skipWithoutHubble, type Run } from '../helpers/hubble-tools.js';
import { startStarWars, TIEFIGHTER, XWING, type StarWarsFixture } from '../helpers/runtime-fixture.js';
import { waitUntil } from '../helpers/wait.js';

const skip = skipWithoutHubble();
let f: StarWarsFixture;
let server: string;
/** The records of the traffic below, as Portcullis wrote them to its flow file: what hubble must show. */
let records: Array<Record<string, any>>;

function curl(from: string, method: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    execFile('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '--interface', from, '-X', method, `${f.url}${path}`], { encoding: 'utf8' }, (_err, stdout) => resolve(stdout));
  });
}

before(async () => {
  if (skip) return;
  f = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml', hubble: true });
  const at = f.proxy.hubble!.address;
  server = `${at.host}:${at.port}`;
  assert.equal(await curl(TIEFIGHTER, 'POST', '/v1/request-landing'), '200');
  assert.equal(await curl(TIEFIGHTER, 'PUT', '/v1/exhaust-port'), '403');
  assert.equal(await curl(XWING, 'POST', '/v1/request-landing'), '000'); // reset: no L3 rule admits xwing
  // The xwing drop is the last flow: once it is in the file, all are.
  records = await waitUntil('the flow records', async () => {
    const flows = await f.flows();
    return flows.some((r) => r.flow.Type === 'L3_L4') && flows;
  });
});
after(async () => {
  await f?.close();
});

async function observe(...args: string[]): Promise<Run> {
  const run = await hubble(['observe', '--server', server, ...args]);
  assert.equal(run.code, 0, run.stderr);
  return run;
}

/** `hubble observe -o json` lines as objects. */
async function observeJson(...args: string[]): Promise<Array<Record<string, any>>> {
  const run = await observe('-o', 'json', ...args);
  return run.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

/** Summaries of the flows, to name them in assertions. */
const summaries = (flows: Array<Record<string, any>>): string[] => flows.map((r) => `${r.flow.verdict} ${r.flow.Summary ?? r.flow.drop_reason_desc}`);
/** The records `wanted` picks (oldest first), summarised: what a filter must select. */
const expected = (wanted: (flow: Record<string, any>) => boolean): string[] => summaries(records.filter((r) => wanted(r.flow)));
const http = (f: Record<string, any>): Record<string, any> => f.l7?.http ?? {};

test('hubble observe lists the flows of the traffic, oldest first', { skip }, async () => {
  const { stdout } = await observe();
  const lines = stdout.trim().split('\n');
  assert.equal(lines.length, records.length, stdout);
  assert.match(lines[0]!, /default\/tiefighter:\d+ \(ID:\d+\) -> default\/deathstar:80 \(ID:\d+\) http-request FORWARDED \(HTTP\/1\.1 POST http:\/\/\S+\/v1\/request-landing\)/);
  assert.match(lines[1]!, /default\/tiefighter:\d+ \(ID:\d+\) <- default\/deathstar:80 \(ID:\d+\) http-response FORWARDED \(HTTP\/1\.1 200 \d+ms \(POST /);
  assert.match(lines[2]!, /http-request DROPPED \(HTTP\/1\.1 PUT http:\/\/\S+\/v1\/exhaust-port\)/);
  assert.match(lines.at(-1)!, /default\/xwing:\d+ \(ID:\d+\) -> default\/deathstar:80 \(ID:\d+\) Policy denied DROPPED/);
});

test('hubble observe -o json prints the same flows as Portcullis\' own records', { skip }, async () => {
  const fromHubble = await observeJson();
  assert.equal(fromHubble.length, records.length);
  assert.deepEqual(fromHubble.map(fromHubbleJson), records.map(normaliseTimes));
});

test('--verdict DROPPED: the L7 denial and the L3 drop', { skip }, async () => {
  const dropped = expected((f) => f.verdict === 'DROPPED');
  assert.equal(dropped.length, 2);
  assert.deepEqual(summaries(await observeJson('--verdict', 'DROPPED')), dropped);
});

test('--to-label: flows to the deathstar (requests and the drop; responses go the other way)', { skip }, async () => {
  const toDeathstar = expected((f) => f.destination.labels.includes('k8s:class=deathstar'));
  assert.equal(toDeathstar.length, 3);
  assert.deepEqual(summaries(await observeJson('--to-label', 'class=deathstar')), toDeathstar);
  assert.deepEqual(summaries(await observeJson('--to-label', 'k8s:org=alliance')), []);
  assert.deepEqual(summaries(await observeJson('--from-label', 'org=alliance')), expected((f) => f.source.pod_name === 'xwing'));
});

test('--http-status and --http-method', { skip }, async () => {
  assert.deepEqual(summaries(await observeJson('--http-status', '403')), expected((f) => http(f).code === 403));
  const ok = expected((f) => http(f).code === 200);
  assert.equal(ok.length, 1);
  assert.deepEqual(summaries(await observeJson('--http-status', '2+')), ok);
  assert.deepEqual(summaries(await observeJson('--http-method', 'put')), expected((f) => http(f).method === 'PUT'));
});

test('--from-ip, --from-pod, --traffic-direction, --type drop', { skip }, async () => {
  const xwing = expected((f) => f.IP.source === XWING);
  assert.equal(xwing.length, 1);
  assert.deepEqual(summaries(await observeJson('--from-ip', XWING)), xwing);
  assert.deepEqual(summaries(await observeJson('--from-pod', 'default/tie')), expected((f) => f.source.pod_name === 'tiefighter'));
  assert.deepEqual(summaries(await observeJson('--traffic-direction', 'egress')), []);
  assert.deepEqual(summaries(await observeJson('--type', 'drop')), xwing);
});

test('--last N: the newest N; --first N: the oldest N', { skip }, async () => {
  assert.deepEqual(summaries(await observeJson('--last', '2')), summaries(records.slice(-2)));
  assert.deepEqual(summaries(await observeJson('--first', '2')), summaries(records.slice(0, 2)));
});

test('--since: the flows from that time on', { skip }, async () => {
  // Records made in the same millisecond share a time: the expectation counts them all.
  const since = records.at(-2)!.flow.time as string;
  const from = records.findIndex((r) => r.flow.time === since);
  assert.deepEqual(summaries(await observeJson('--since', since)), summaries(records.slice(from)));
  assert.ok(from > 0, 'older flows are left out');
});

test('hubble status: the ring\'s flows and capacity', { skip }, async () => {
  const run = await hubble(['status', '--server', server]);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /Healthcheck \(via .*\): Ok/);
  assert.match(run.stdout, new RegExp(`Current/Max Flows: ${records.length}/4,095 `));
});

test('-f follows: new traffic shows up while the client is connected', { skip }, async () => {
  const child = spawn(HUBBLE, ['observe', '--server', server, '-f', '--last', '1', '-o', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  try {
    const lines = (): Array<Record<string, any>> => out.split('\n').filter(Boolean).map((l) => JSON.parse(l));
    // The newest flow first: once it is printed, the stream is open and later flows reach the follower.
    await waitUntil('the newest flow', () => lines().length >= 1, 10_000);
    assert.equal(await curl(TIEFIGHTER, 'POST', '/v1/request-landing'), '200');
    const followed = await waitUntil('the new request and response', () => lines().length >= 3 && lines(), 10_000);
    assert.deepEqual(summaries(followed.slice(0, 1)), summaries(records.slice(-1)));
    assert.equal(followed[1]!.flow.l7.type, 'REQUEST');
    assert.equal(followed[2]!.flow.l7.http.code, 200);
    assert.ok(followed.slice(1).every((r) => r.flow.l7.http.url.endsWith('/v1/request-landing') && r.flow.verdict === 'FORWARDED'));
    assert.ok(Date.parse(followed[1]!.flow.time) > Date.parse(records.at(-1)!.flow.time), 'new flows, not old ones');
  } finally {
    child.kill();
  }
});

/** A `hubble observe -o json` line in Portcullis' record form: the Struct extension back under `portcullis`. */
function fromHubbleJson(line: Record<string, any>): Record<string, any> {
  const { extensions, ...flow } = line.flow;
  assert.equal(extensions['@type'], 'type.googleapis.com/google.protobuf.Struct');
  return normaliseTimes({ ...line, flow: { ...flow, portcullis: extensions.value } });
}

/** protojson trims a Timestamp's trailing zero digits; Portcullis prints all nine. Same instant, one spelling. */
function normaliseTimes(line: Record<string, any>): Record<string, any> {
  const canonical = (t: string): string => {
    const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(t);
    assert.ok(m, t);
    return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}Z`;
  };
  return { ...line, time: canonical(line.time), flow: { ...line.flow, time: canonical(line.flow.time) } };
}
