// End to end: the runtime (config + policies + listener + observers) with curl as tiefighter and xwing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { curl, startStarWars, TIEFIGHTER, XWING, type StarWarsFixture } from '../helpers/runtime-fixture.js';

describe('Star Wars L3/L4 policy', () => {
  let sw: StarWarsFixture;
  before(async () => (sw = await startStarWars({ policy: 'sw_l3_l4_policy.yaml' })));
  after(() => sw.close());

  test('tiefighter lands', async () => {
    const r = await curl(['--interface', TIEFIGHTER, '-XPOST', `${sw.url}/v1/request-landing`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Ship landed\n');
  });

  test('xwing is dropped: the connection is reset without a byte', async () => {
    const r = await curl(['--interface', XWING, '-XPOST', `${sw.url}/v1/request-landing`]);
    assert.equal(r.code, 56, `curl exit ${r.code}: ${r.stderr}`);
    assert.match(r.stderr, /reset by peer/i);
    assert.equal(r.stdout, '');
  });

  test('the drop is recorded as an L3_L4 DROPPED flow', async () => {
    const flows = await sw.flows();
    const drop = flows.find((f) => f.flow.verdict === 'DROPPED' && f.flow.IP?.source === XWING);
    assert.ok(drop, JSON.stringify(flows));
    assert.equal(drop.flow.Type, 'L3_L4');
    assert.equal(drop.flow.source.pod_name, 'xwing');
    assert.equal(drop.flow.destination.pod_name, 'deathstar');
    assert.equal(drop.flow.l4.TCP.destination_port, 80);
  });
});

describe('Star Wars L7 policy', () => {
  let sw: StarWarsFixture;
  before(async () => (sw = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml', admin: true })));
  after(() => sw.close());

  test('POST /v1/request-landing is allowed and PUT /v1/exhaust-port gets Access denied on the same connection', async () => {
    const r = await curl(['-v', '--interface', TIEFIGHTER, '-XPUT', `${sw.url}/v1/exhaust-port`, '--next', '--interface', TIEFIGHTER, '-XPOST', `${sw.url}/v1/request-landing`]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Access denied\r\nShip landed\n');
    assert.match(r.stderr, /< HTTP\/1\.1 403 Forbidden/);
    assert.match(r.stderr, /< content-type: text\/plain/i);
    assert.match(r.stderr, /< content-length: 15/i);
    assert.match(r.stderr, /Re-using existing connection/i);
  });

  test('flow records: the denied PUT is DROPPED at L7, the POST FORWARDED and allowed by rule1', async () => {
    const flows = await sw.flows();
    const requests = flows.filter((f) => f.flow.Type === 'L7' && f.flow.l7.type === 'REQUEST');
    const put = requests.find((f) => f.flow.l7.http.method === 'PUT');
    const post = requests.find((f) => f.flow.l7.http.method === 'POST');
    assert.ok(put && post, JSON.stringify(flows));
    assert.equal(put.flow.verdict, 'DROPPED');
    assert.equal(put.flow.traffic_direction, 'INGRESS');
    assert.match(put.flow.l7.http.url, /\/v1\/exhaust-port$/);
    assert.equal(put.flow.l7.http.protocol, 'HTTP/1.1');
    assert.match(put.flow.Summary, /^HTTP\/1\.1 PUT http:\/\/.*\/v1\/exhaust-port$/);
    assert.equal(post.flow.verdict, 'FORWARDED');
    assert.deepEqual(post.flow.ingress_allowed_by.map((p: { name: string }) => p.name), ['rule1']);
    // The 403 is the proxy's answer, on the denied request's record; the deathstar only answered the POST.
    assert.deepEqual(put.flow.portcullis.local_reply, { code: 403 });
    const responses = flows.filter((f) => f.flow.l7?.type === 'RESPONSE');
    assert.deepEqual(responses.map((f) => [f.flow.l7.http.code, f.flow.is_reply, f.flow.source.pod_name]), [[200, true, 'deathstar']], 'responses swap source and destination');
  });

  test('admin: /ready, /metrics and /policies reflect what happened', async () => {
    const admin = sw.proxy.admin!.address;
    const base = `http://${admin.host}:${admin.port}`;
    assert.equal((await curl([`${base}/ready`])).stdout, 'LIVE\n');
    const metrics = (await curl([`${base}/metrics`])).stdout;
    assert.match(metrics, /cilium_policy_l7_total\{rule="denied",proxy_type="http"\} [1-9]/);
    assert.match(metrics, /cilium_policy_l7_total\{rule="forwarded",proxy_type="http"\} [1-9]/);
    assert.match(metrics, /hubble_http_requests_total\{method="PUT",protocol="HTTP\/1\.1",status="403"\} [1-9]/);
    const policies = JSON.parse((await curl([`${base}/policies`])).stdout);
    assert.equal(policies.revision, 1);
    assert.deepEqual(policies.policies.map((p: { name: string }) => p.name), ['rule1']);
  });
});

describe('audit mode', () => {
  let sw: StarWarsFixture;
  before(async () => (sw = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml', audit: true })));
  after(() => sw.close());

  test('nothing is blocked; would-be denials are recorded with verdict AUDIT', async () => {
    const put = await curl(['--interface', TIEFIGHTER, '-XPUT', `${sw.url}/v1/exhaust-port`]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^Panic: deathstar exploded/);
    const xwing = await curl(['--interface', XWING, '-XPOST', `${sw.url}/v1/request-landing`]);
    assert.equal(xwing.stdout, 'Ship landed\n');
    const flows = await sw.flows();
    const audited = flows.filter((f) => f.flow.verdict === 'AUDIT');
    assert.ok(audited.some((f) => f.flow.Type === 'L7' && f.flow.l7.http?.method === 'PUT'), JSON.stringify(flows));
    assert.ok(audited.some((f) => f.flow.IP?.source === XWING), 'the L3/L4 would-be drop of xwing is audited');
    assert.ok(!flows.some((f) => f.flow.verdict === 'DROPPED'));
  });
});
