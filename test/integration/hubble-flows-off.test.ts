// `flows: off` with `hubble:`: the recorder renders every flow for the Hubble ring alone, so a grpc-js GetFlows
// client sees the traffic (redacted as a flow file would be) while no flow file is written.
import * as grpc from '@grpc/grpc-js';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { after, before, test } from 'node:test';
import { decode, encode, types } from '../../src/observe/hubble/protos.js';
import { startStarWars, TIEFIGHTER, type StarWarsFixture } from '../helpers/runtime-fixture.js';

let f: StarWarsFixture;
let client: grpc.Client;
const raw = (b: Buffer): Buffer => b;

before(async () => {
  f = await startStarWars({ policy: 'sw_l3_l4_l7_policy.yaml', hubble: true, flowsOff: true, extraConfig: 'redactHeaders: [x-secret]\n' });
  const at = f.proxy.hubble!.address;
  client = new grpc.Client(`${at.host}:${at.port}`, grpc.credentials.createInsecure());
});
after(async () => {
  client?.close();
  await f?.close();
});

function curl(method: string, path: string): Promise<string> {
  return new Promise((resolve) => {
    const args = ['-s', '-o', '/dev/null', '-w', '%{http_code}', '--max-time', '5', '--interface', TIEFIGHTER, '-H', 'x-secret: hunter2', '-X', method, `${f.url}${path}`];
    execFile('curl', args, { encoding: 'utf8' }, (_err, stdout) => resolve(stdout));
  });
}

function getFlows(): Promise<any[]> {
  return new Promise((resolve, reject) => {
    const got: any[] = [];
    const call = client.makeServerStreamRequest('/observer.Observer/GetFlows', raw, raw, encode(types.GetFlowsRequest, {}));
    call.on('data', (b: Buffer) => got.push(decode(types.GetFlowsResponse, b)));
    call.on('error', reject);
    call.on('end', () => resolve(got));
  });
}

test('flows: off + hubble: GetFlows serves the traffic\'s flows, redacted, and no flow file is written', async () => {
  assert.equal(await curl('POST', '/v1/request-landing'), '200');
  assert.equal(await curl('PUT', '/v1/exhaust-port'), '403');
  await f.proxy.flushFlows(); // past the recorder's batch delay: the lines are in the ring
  const flows = (await getFlows()).map((r) => r.flow);
  const requests = flows.filter((flow) => flow.l7?.type === 'REQUEST');
  assert.deepEqual(requests.map((flow) => `${flow.verdict} ${flow.l7.http.method} ${new URL(flow.l7.http.url).pathname}`), ['FORWARDED POST /v1/request-landing', 'DROPPED PUT /v1/exhaust-port']);
  for (const flow of requests) {
    assert.equal(flow.source.pod_name, 'tiefighter');
    assert.deepEqual(flow.l7.http.headers.find((h: any) => h.key === 'x-secret'), { key: 'x-secret', value: 'HUBBLE_REDACTED' });
  }
  assert.ok(flows.some((flow) => flow.l7?.type === 'RESPONSE' && flow.l7.http.code === 200), 'the response flow too');
  assert.equal(existsSync(f.flowsFile), false);
  assert.deepEqual(readdirSync(f.dir).sort(), ['policies', 'portcullis.yaml']);
});
