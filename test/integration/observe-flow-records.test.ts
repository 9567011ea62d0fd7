// Issue #19, end to end with curl: the flow file of a run with mixed traffic (HTTP/1.1 and h2c; allowed, denied,
// malformed, dropped at L3/L4, upstream down) holds JSON lines with no null, and what the proxy answered itself is never a
// RESPONSE record from the deathstar, which was not asked: a denial is its DROPPED request, a failure an ERROR
// record in the request's direction, each with the status the client got.
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { curl, startStarWars, TIEFIGHTER, XWING, type StarWarsFixture } from '../helpers/runtime-fixture.js';
import { assertNoNull } from '../helpers/observe-no-null.js';
import { decode, encode, types } from '../../src/observe/hubble/protos.js';

describe('flow records of a mixed run', () => {
  let sw: StarWarsFixture;
  let flows: Array<{ flow: Record<string, any> }>;
  let metrics: string;
  before(async () => {
    sw = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml', admin: true });
    const as = (ip: string, ...args: string[]) => curl(['--interface', ip, '-o', '/dev/null', '-w', '%{http_code}', ...args]);
    assert.equal((await as(TIEFIGHTER, '-XPOST', `${sw.url}/v1/request-landing`)).stdout, '200');
    assert.equal((await as(TIEFIGHTER, '-XPUT', `${sw.url}/v1/exhaust-port`)).stdout, '403');
    assert.equal((await as(TIEFIGHTER, '--path-as-is', `${sw.url}/v1/a%2Fb`)).stdout, '400');
    assert.equal((await as(XWING, '-XPOST', `${sw.url}/v1/request-landing`)).code, 56);
    const h2 = (method: string, path: string) => as(TIEFIGHTER, '--http2-prior-knowledge', '-X', method, `${sw.url}${path}`);
    assert.equal((await h2('POST', '/v1/request-landing')).stdout, '200');
    assert.equal((await h2('PUT', '/v1/exhaust-port')).stdout, '403');
    await sw.deathstar.close();
    assert.equal((await as(TIEFIGHTER, '-XPOST', `${sw.url}/v1/request-landing`)).stdout, '503');
    assert.equal((await h2('POST', '/v1/request-landing')).stdout, '503');
    flows = await sw.flows();
    const { host, port } = sw.proxy.admin!.address;
    metrics = (await curl([`http://${host}:${port}/metrics`])).stdout;
  });
  after(() => sw.close());

  test('every line of the flow file is JSON with no null anywhere', () => {
    const lines = readFileSync(sw.flowsFile, 'utf8').split('\n').filter(Boolean);
    assert.ok(lines.length >= 11, `${lines.length} records`);
    for (const line of lines) assertNoNull(line);
  });

  test('the only RESPONSE records are the deathstar answering the landings', () => {
    const responses = flows.filter((f) => f.flow.l7?.type === 'RESPONSE');
    assert.deepEqual(
      responses.map((f) => [f.flow.verdict, f.flow.l7.http.protocol, f.flow.l7.http.code, f.flow.source.pod_name, f.flow.is_reply, f.flow.portcullis.local_reply]),
      [['FORWARDED', 'HTTP/1.1', 200, 'deathstar', true, undefined], ['FORWARDED', 'HTTP/2', 200, 'deathstar', true, undefined]],
    );
  });

  test("a denial is the DROPPED request only, with the proxy's 403", () => {
    const put = flows.filter((f) => f.flow.l7?.http?.method === 'PUT');
    assert.deepEqual(put.map((f) => f.flow.l7.http.protocol), ['HTTP/1.1', 'HTTP/2']);
    for (const { flow } of put) {
      assert.deepEqual([flow.verdict, flow.l7.type, flow.is_reply, flow.source.pod_name], ['DROPPED', 'REQUEST', false, 'tiefighter']);
      assert.deepEqual(flow.portcullis.local_reply, { code: 403 });
      assert.match(flow.portcullis.reason, /exhaust-port|no http rule|L7/i);
    }
  });

  test('a rejected request is its ERROR request with the reason and the 400', () => {
    const rejected = flows.filter((f) => f.flow.verdict === 'ERROR' && f.flow.l7?.http?.url?.includes('a%2Fb'));
    assert.equal(rejected.length, 1);
    const { flow } = rejected[0]!;
    assert.deepEqual([flow.l7.type, flow.is_reply], ['REQUEST', false]);
    assert.deepEqual(flow.portcullis, { listener: 'deathstar-http', reason: 'escaped slash (%2F or %5C) in path', local_reply: { code: 400 } });
  });

  test('upstream down: an ERROR record from the client, with the latency, why, the 503 and the rule that allowed it', () => {
    const failed = flows.filter((f) => f.flow.verdict === 'ERROR' && f.flow.l7?.http?.method === 'POST');
    assert.deepEqual(failed.map((f) => f.flow.l7.http.protocol), ['HTTP/1.1', 'HTTP/2']);
    for (const { flow } of failed) {
      assert.deepEqual([flow.l7.type, flow.is_reply, flow.source.pod_name, flow.destination.pod_name], ['REQUEST', false, 'tiefighter', 'deathstar']);
      assert.match(flow.l7.latency_ns, /^[1-9]\d*$/);
      assert.match(flow.portcullis.reason, /^upstream /);
      assert.deepEqual(flow.portcullis.local_reply, { code: 503 });
      assert.equal(flow.portcullis.rules.length, 1);
      assert.deepEqual(flow.ingress_allowed_by.map((p: { name: string }) => p.name), ['rule1']);
      assert.match(flow.Summary, /^HTTP\/(1\.1|2) POST http:\/\/.*\/v1\/request-landing$/);
    }
    assert.match(failed[0]!.flow.portcullis.reason, /^upstream ECONNREFUSED: /);
  });

  test('hubble_http_requests_total counts each answer with the status the client got', () => {
    for (const protocol of ['HTTP/1.1', 'HTTP/2']) {
      for (const [method, status] of [['POST', 200], ['PUT', 403], ['POST', 503]] as const) {
        assert.match(metrics, new RegExp(`hubble_http_requests_total\\{method="${method}",protocol="${protocol.replace('.', '\\.')}",status="${status}"\\} 1\\n`));
      }
    }
    assert.match(metrics, /hubble_http_requests_total\{method="GET",protocol="HTTP\/1\.1",status="400"\} 1\n/);
  });
});

describe('redactQuery: [token] with curl', () => {
  let sw: StarWarsFixture;
  // The L3/L4 policy lets tiefighter's request with a query through: a request and a response record. The Hubble
  // server renders its flows itself: they must be redacted alike.
  before(async () => (sw = await startStarWars({ policy: 'sw_l3_l4_policy.yaml', hubble: true, extraConfig: 'redactQuery: [token]\n' })));
  after(() => sw.close());

  test("the token's value is hidden in the url and Summary of every record; other parameters and their order stay", async () => {
    const query = '?ship=tie&token=s3cret&to%6Ben=again&fleet=1';
    const landed = await curl(['--interface', TIEFIGHTER, '-XPOST', `${sw.url}/v1/request-landing${query}`]);
    assert.equal(landed.code, 0, landed.stderr);
    const records = (await sw.flows()).filter((f) => f.flow.Type === 'L7');
    assert.doesNotMatch(readFileSync(sw.flowsFile, 'utf8'), /s3cret|again/);
    assert.deepEqual(records.map((f) => f.flow.l7.type), ['REQUEST', 'RESPONSE']);
    const redacted = '/v1/request-landing?ship=tie&token=HUBBLE_REDACTED&to%6Ben=HUBBLE_REDACTED&fleet=1';
    for (const { flow } of records) {
      assert.ok(flow.l7.http.url.endsWith(redacted), flow.l7.http.url);
      assert.ok(flow.Summary.includes(redacted), flow.Summary);
    }
    const served = (await hubbleFlows(sw.proxy.hubble!.address.port)).filter((f) => f.l7 !== undefined && f.l7 !== null);
    assert.equal(served.length, 2);
    for (const flow of served) assert.ok(flow.l7.http.url.endsWith(redacted), flow.l7.http.url);
  });
});

/** Every flow the Hubble server at `port` holds, through GetFlows. */
async function hubbleFlows(port: number): Promise<Array<Record<string, any>>> {
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const raw = (b: Buffer): Buffer => b;
    const call = client.makeServerStreamRequest('/observer.Observer/GetFlows', raw, raw, encode(types.GetFlowsRequest, { number: 100 }));
    const flows: Array<Record<string, any>> = [];
    for await (const bytes of call) {
      const response = decode<{ flow?: Record<string, any> }>(types.GetFlowsResponse, bytes as Buffer);
      if (response.flow) flows.push(response.flow);
    }
    return flows;
  } finally {
    client.close();
  }
}
